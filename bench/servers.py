"""Starting and stopping the processes a load benchmark talks to (gunicorn, celery), bounded and cleaned up."""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from bench import common


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def process(args: list[str], *, ready: str | None = None, port: int | None = None, env: dict | None = None,
            timeout: float = 60):
    """Run `args` in its own process group until the block ends; wait for a log line or a listening port."""
    log = Path(tempfile.mkstemp(prefix="bench-", suffix=".log")[1])
    with open(log, "wb") as out:
        proc = subprocess.Popen(args, cwd=common.ROOT, env={**os.environ, **(env or {})}, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{args[0]} exited:\n{log.read_text()}")
            if ready and ready in log.read_text(errors="replace"):
                break
            if port is not None:
                with socket.socket() as s:
                    if s.connect_ex(("127.0.0.1", port)) == 0:
                        break
            time.sleep(0.1)
        else:
            raise RuntimeError(f"{args[0]} did not start:\n{log.read_text()}")
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.unlink(missing_ok=True)


def gunicorn(app: str, port: int):
    return process([sys.executable, "-m", "gunicorn", app, "-c", "gunicorn.conf.py"], port=port,
                   env={"PORT": str(port), "LOG_LEVEL": "WARNING"})


def celery_worker(app: str, queue: str, concurrency: int = 2):
    return process([sys.executable, "-m", "celery", "-A", app, "worker", "--loglevel=INFO", f"-c{concurrency}",
                    f"--queues={queue}", "--without-gossip", "--without-mingle"],
                   ready=" ready.", env={"LOG_LEVEL": "INFO", "CELERY_QUEUE": queue})


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def wrk(url: str, script: str, *, seconds: int, connections: int = 32, threads: int = 2) -> dict:
    """Run wrk against `url` with a Lua `script`; requests/s, p50/p99 (ms), non-2xx count."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(script)
    try:
        out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", fh.name,
                              url], capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    finally:
        os.unlink(fh.name)
    latency = {m.group(1): float(m.group(2)) * _UNITS[m.group(3)]
               for m in re.finditer(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)}
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), "p50_ms": latency.get("50"),
            "p99_ms": latency.get("99"), "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
            "socket_errors": errors.group(1) if errors else None}
