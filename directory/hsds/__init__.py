"""The Open Referral HSDS 3.0 feed: /hsds (the API profile's endpoints, read-only, public)."""
