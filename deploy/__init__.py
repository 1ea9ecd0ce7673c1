"""Deployment configuration (nginx) and the helper that renders it: see deploy/nginx.py."""
