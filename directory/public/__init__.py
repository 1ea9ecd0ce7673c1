"""Public pages: home, about, practitioner profiles."""
