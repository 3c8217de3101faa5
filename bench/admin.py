"""Administration over 1,000,000 students, each figure against its baseline in the same run (issue 7 targets).

- GET /students first page (default order, and filter[search] on a common name): p95 at the server, in-process.
- GET /students/v2 walking 50 pages deep: the slowest page.
- PATCH /students/bulk/is-active for 10,000 ids.
- CSV export of every student, job submission to finished file (in a child process, for its peak memory), against
  psycopg2's COPY of the same columns.
- One pruning run with about 10 % eligible against one UPDATE with the same predicate.
"""
from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time

from bench import common

STUDENTS = int(os.environ.get("BENCH_STUDENTS", "1000000"))


def _p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1]


def _timed_requests(client, path: str, headers: dict, n: int, **params) -> list[float]:
    out = []
    for _ in range(n):
        started = time.perf_counter()
        resp = client.simulate_get(path, params=params, headers=headers)
        out.append(time.perf_counter() - started)
        assert resp.status_code == 200, resp.text
    return out


def run() -> dict:
    common.environment()
    common.fresh_database()
    import falcon.testing

    from api.app import create_app
    from api.auth import issue_admin_token
    from core import config, db
    from models.jobs.types import STUDENTS_EXPORT, STUDENTS_PRUNE
    from models.students import seed
    from models.students.exports import DEFAULT_COLUMNS
    from tasks import runner

    settings = config.get()
    with db.connection():
        seed.seed_students(STUDENTS)
        db.execute("VACUUM ANALYZE")
        common.settle()
    figures: dict = {"students": STUDENTS}
    client = falcon.testing.TestClient(create_app(settings, dispatcher=runner.dispatcher))
    admin = {"Authorization": "Bearer " + issue_admin_token(settings, admin_id="bench", email="b@example.com",
                                                             role="master_admin", can_manage_students=True)}

    # -- lists ------------------------------------------------------------------------------------------------
    _timed_requests(client, "/students", admin, 5)
    figures["list_first_page_p95_ms"] = _p95(_timed_requests(client, "/students", admin, 100)) * 1000
    figures["list_search_p95_ms"] = _p95(_timed_requests(client, "/students", admin, 60,
                                                         **{"filter[search]": "smith"})) * 1000
    with db.connection():
        figures["count_star_ms"] = common.median_of(5, lambda: common.timed(
            lambda: db.fetch_one("SELECT count(*) FROM students WHERE deleted_at IS NULL"))) * 1000
    slowest, cursor = 0.0, None
    for _ in range(50):
        started = time.perf_counter()
        resp = client.simulate_get("/students/v2", params={"limit[take]": "100"} | ({"cursor": cursor} if cursor
                                                                                    else {}), headers=admin)
        slowest = max(slowest, time.perf_counter() - started)
        cursor = resp.json["meta"]["next_cursor"]
    figures["v2_slowest_of_50_pages_ms"] = slowest * 1000

    # -- bulk is-active ---------------------------------------------------------------------------------------
    with db.connection():
        ids = [str(r[0]) for r in db.fetch_all("SELECT id FROM students ORDER BY random() LIMIT 10000")]
    started = time.perf_counter()
    resp = client.simulate_patch("/students/bulk/is-active", json={"ids": ids, "is_active": False}, headers=admin)
    figures["bulk_is_active_10k_ms"] = (time.perf_counter() - started) * 1000
    assert resp.json == {"updated": 10000}, resp.text
    with db.connection():
        db.execute("UPDATE students SET is_active = true WHERE id = ANY(%s::uuid[])", (ids,))

    # -- export: run by a child process (a worker, for its peak memory); timed from the submission to the file --
    columns = ", ".join(DEFAULT_COLUMNS)

    def bare_copy() -> float:
        with db.connection(), open(os.devnull, "wb") as sink:
            cursor = db.db.connection().cursor()
            return common.timed(lambda: cursor.copy_expert(
                f"COPY (SELECT {columns} FROM students WHERE deleted_at IS NULL) "
                "TO STDOUT WITH CSV HEADER", sink))

    with db.connection():
        common.settle()
    bare_copy()  # warm-up: neither side pays for the first read of the table
    started = time.perf_counter()
    job_id = runner.submit_system_job(STUDENTS_EXPORT, {"filter": {}, "columns": list(DEFAULT_COLUMNS),
                                                        "bom": False}, f"bench-export:{time.time()}")
    submitted = time.perf_counter() - started
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    child = subprocess.run(  # the child's own imports are not timed: a worker is already running
        [sys.executable, "-c", "import sys, time; from core import config; from tasks import runner; "
         f"t = time.perf_counter(); ok = runner.execute('{job_id}', config.get()) == 'succeeded'; "
         "print(time.perf_counter() - t); sys.exit(0 if ok else 1)"],
        check=True, cwd=common.ROOT, env=os.environ.copy(), capture_output=True, text=True)
    figures["export_seconds"] = submitted + float(child.stdout.split()[-1])
    figures["export_worker_peak_mb"] = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    figures["copy_seconds"] = common.median_of(3, bare_copy)
    figures["export_ratio"] = figures["export_seconds"] / figures["copy_seconds"]

    # -- pruning: about 10 % eligible -------------------------------------------------------------------------
    with db.connection():
        db.execute("UPDATE students SET logged_at = now() - interval '1 day'")
        db.execute("UPDATE students SET logged_at = now() - interval '120 days' "
                   "WHERE ('x' || substr(md5(id::text), 1, 2))::bit(8)::int < 26")
        db.execute("VACUUM ANALYZE students")
        common.settle()
        eligible = db.fetch_one("SELECT count(*) FROM students WHERE logged_at < now() - interval '90 days'")[0]
        predicate = ("deleted_at IS NULL AND NOT is_frozen AND (logged_at < now() - interval '90 days' OR "
                     "(logged_at IS NULL AND created_at < now() - interval '90 days')) AND NOT EXISTS (SELECT 1 FROM "
                     "student_courses c WHERE c.student_id = students.id AND NOT c.is_deleted "
                     "AND c.accessible_to >= now() - interval '180 days')")
        with db.db.atomic() as txn:  # the bare UPDATE: no search-table upkeep, no dependent rows removed
            db.execute("SELECT set_config('students.search_sync', 'off', true)")
            figures["prune_baseline_seconds"] = common.timed(
                lambda: db.execute(f"UPDATE students SET deleted_at = now() WHERE {predicate}"))
            txn.rollback()
        db.execute("VACUUM ANALYZE students")  # the job starts from the table the baseline saw, not its dead rows
        common.settle()
    prune_settings = settings.with_(prune_max_fraction=0.2)
    job_id = runner.submit_system_job(STUDENTS_PRUNE, {}, f"bench-prune:{time.time()}")
    figures["prune_seconds"] = common.timed(lambda: runner.execute(job_id, prune_settings))
    with db.connection():
        pruned = db.fetch_one("SELECT count(*) FROM students WHERE deleted_at IS NOT NULL")[0]
    figures["prune_eligible"], figures["pruned"] = eligible, pruned
    figures["prune_ratio"] = figures["prune_seconds"] / figures["prune_baseline_seconds"]

    figures["pass"] = (figures["list_first_page_p95_ms"] < 50 and figures["list_search_p95_ms"] < 150
                       and figures["v2_slowest_of_50_pages_ms"] < 20 and figures["bulk_is_active_10k_ms"] < 1000
                       and figures["export_ratio"] <= 1.5 and figures["export_worker_peak_mb"] < 150
                       and figures["prune_ratio"] <= 3 and pruned == eligible)
    return common.report("admin", figures)


if __name__ == "__main__":
    run()
