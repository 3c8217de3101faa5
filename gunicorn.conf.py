"""gunicorn settings for the web process (DESIGN §4): gthread workers, recycled, fork-safe, multi-process metrics."""
import os
import shutil
import tempfile

_port = os.environ.get("PORT", "8000")
bind = os.environ.get("BIND", f"127.0.0.1:{_port}")
# gthread: a sync worker is killed by its timeout while streaming a large file, truncating a 200 answer.
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("WEB_THREADS", "4"))
timeout = 60
graceful_timeout = 20
keepalive = 5
# The app is imported once, in the master: a worker (re)start is a fork, not 0.8 s of imports on a busy core. Nothing
# connects at import; post_fork drops any database connection anyway (Redis and Celery clients connect lazily).
preload_app = True
# Recycling guards against slow leaks; at 500 requests/s per worker, 5,000 meant a restart every 10 s.
max_requests = 50000
max_requests_jitter = 5000
control_socket_disable = True
accesslog = None
errorlog = "-"

# Metrics from every worker process are aggregated through files in this folder (prometheus_client multiprocess).
_metrics_dir = os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR",
                                     os.path.join(tempfile.gettempdir(), f"students-metrics-{_port}"))


def on_starting(server):
    shutil.rmtree(_metrics_dir, ignore_errors=True)
    os.makedirs(_metrics_dir, exist_ok=True)


def post_fork(server, worker):
    # The child must not reuse a database socket opened by the parent.
    from core import db

    db.dispose()


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
