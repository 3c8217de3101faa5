"""The domain: tables and the operations on them, one sub-package per area. Never imports falcon or celery."""
