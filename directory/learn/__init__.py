"""Patient education: short, plain guides about dry needling, linked from search and profiles."""
