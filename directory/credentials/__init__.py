"""Credential domain code: program matching, lifecycle, checks and jurisdiction rules."""
