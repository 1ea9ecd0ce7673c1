"""A practitioner's own profile and practice locations."""
