"""What runs the core: the account path, status, sync, the live feed, the worker and its events."""
