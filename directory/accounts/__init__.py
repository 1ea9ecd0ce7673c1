"""Accounts: sign-up, e-mail confirmation, login, password reset, account settings."""
