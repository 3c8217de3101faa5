"""`make bench`: every benchmark in turn, each in a process of its own (each also runs alone: `python -m bench.<name>`).

A benchmark that fails does not stop the others; the summary names the ones that failed or missed a target.
"""
from __future__ import annotations

import subprocess
import sys
import time

import orjson

from bench.common import RESULTS, ROOT

BENCHMARKS = ["bulk_grant", "snapshot", "admin", "load", "dispatch"]


def main(names: list[str]) -> int:
    missed, failed, started = [], [], time.perf_counter()
    for name in names or BENCHMARKS:
        result = RESULTS / f"{name}.json"
        result.unlink(missing_ok=True)
        if subprocess.run([sys.executable, "-m", f"bench.{name}"], cwd=ROOT).returncode != 0 or not result.exists():
            failed.append(name)
        elif orjson.loads(result.read_bytes()).get("pass") is False:
            missed.append(name)
    print(f"\nall benchmarks: {time.perf_counter() - started:.0f} s")
    if missed:
        print("missed targets: " + ", ".join(missed))
    if failed:
        print("failed: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
