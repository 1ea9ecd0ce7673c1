"""Running the app in production: health checks, request logs, safe start-up, backup and restore."""
