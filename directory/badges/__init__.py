"""Open Badges 3.0 credentials for verified certifications: keys, credentials, status list."""
