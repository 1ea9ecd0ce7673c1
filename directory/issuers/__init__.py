"""Issuers: training organisations confirm, dispute and revoke their graduates' certifications."""
