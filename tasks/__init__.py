"""The worker edge: the Celery app and thin tasks that run jobs through the domain operations."""
