"""`make bench`: every benchmark in turn (each also runs alone: `python -m bench.<name>`)."""
from __future__ import annotations

import importlib
import sys

BENCHMARKS = ["bulk_grant", "snapshot", "admin", "load", "dispatch"]


def main(names: list[str]) -> int:
    failed = []
    for name in names or BENCHMARKS:
        figures = importlib.import_module(f"bench.{name}").run()
        if figures.get("pass") is False:
            failed.append(name)
    if failed:
        print("\nmissed targets: " + ", ".join(failed))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
