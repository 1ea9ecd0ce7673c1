"""Documents at /.well-known/: the keys that sign Open Badges credentials, the did:web document."""
