"""The `students` console script: migrate, token, catalogue load, seed, prune, ledger check, dev."""
from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import uuid
from pathlib import Path

from core import config, db

DEMO_STUDENTS = 5
DEMO_EMAIL = "demo.student@example.com"


def _init() -> config.Settings:
    try:
        settings = config.get()
    except config.ConfigError as exc:
        sys.exit(f"students: configuration error: {exc}")
    db.init(settings.database_url, pool_size=max(2, settings.db_pool_size))
    return settings


def cmd_migrate(args, settings) -> int:
    from models import schema

    applied = schema.migrate()
    print("applied: " + ", ".join(applied) if applied else "nothing to apply: the schema is up to date")
    return 0


def cmd_token(args, settings) -> int:
    from api.auth import issue_admin_token, issue_student_token

    if args.kind == "student":
        from models.students import ops as students

        with db.connection():
            row = students.load(args.id)
        if row is None or row["deleted_at"] is not None:
            print(f"students: no student {args.id}", file=sys.stderr)
            return 1
        print(issue_student_token(settings, student_id=str(row["id"]), email=row["email"], ttl=args.ttl))
    else:
        print(issue_admin_token(settings, admin_id=args.id or str(uuid.uuid4()), email=args.email, role=args.role,
                                can_manage_students=args.manage_students, course_ids=args.course_id, ttl=args.ttl))
    return 0


def cmd_catalogue(args, settings) -> int:
    from core.errors import DomainError
    from models.products import catalogue

    try:
        with db.connection():
            counts = catalogue.load_file(Path(args.file))
    except (DomainError, OSError) as exc:
        print(f"students: {exc}", file=sys.stderr)
        return 1
    print("loaded " + ", ".join(f"{n} {what}" for what, n in counts.items()))
    return 0


def cmd_seed(args, settings) -> int:
    import time

    from models.students import seed

    started = time.perf_counter()
    with db.connection():
        count = seed.seed_students(args.students)
    print(f"seeded {count} students with their ledgers in {time.perf_counter() - started:.1f} s")
    return 0


def cmd_ledger(args, settings) -> int:
    from models.ledger import reports

    with db.connection():
        mismatches = reports.reconcile()
    for m in mismatches:
        print(f"{m['student_id']}: balance {m['balance']} but income - outcome = {m['ledger']}")
    print(f"{len(mismatches)} mismatch(es)" if mismatches else "ledger consistent: every balance = income - outcome")
    return 1 if mismatches else 0


def cmd_prune(args, settings) -> int:
    from models.students import pruning
    from tasks.admin import rules

    current = rules(settings)
    with db.connection():
        eligible, live = pruning.count(current)
        sample = pruning.sample(current)
    over = pruning.over_threshold(eligible, live, current)
    print(f"{eligible} of {live} live students are eligible for pruning "
          f"(threshold {current.max_fraction:.0%}{': EXCEEDED, a run would refuse' if over else ''})")
    for student_id in sample:
        print(f"  {student_id}")
    if eligible > len(sample):
        print(f"  ... and {eligible - len(sample)} more")
    if args.dry_run:
        return 0
    from models.jobs.types import STUDENTS_PRUNE
    from tasks import runner

    job_id = runner.submit_system_job(STUDENTS_PRUNE, {"source": "cli"}, f"prune:cli:{uuid.uuid4().hex}")
    status = runner.execute(job_id, settings)
    print(f"job {job_id}: {status}")
    return 0 if status == "succeeded" else 1


def _demo() -> tuple[str, str]:
    """Migrate, load the example catalogue, make sure a few demo students exist; returns (student id, e-mail)."""
    from models import schema
    from models.products import catalogue
    from models.students import ops as students
    from models.students import seed
    from models.students.tables import Student

    schema.migrate()
    with db.connection():
        catalogue.load_file(catalogue.EXAMPLE)
        if not Student.select().where(Student.deleted_at.is_null()).exists():
            students.create_student(email=DEMO_EMAIL, name="Demo Student",
                                    phone_number="+15550000000", username="demo")
            seed.seed_students(DEMO_STUDENTS - 1, workers=1)
        row = (Student.select(Student.id, Student.email).where(Student.deleted_at.is_null())
               .order_by(Student.email != DEMO_EMAIL, Student.created_at).first())
    return str(row.id), row.email


def cmd_dev(args, settings) -> int:
    from api.auth import issue_admin_token, issue_student_token

    port = os.environ.get("PORT", "8000")
    student_id, email = _demo()
    admin = issue_admin_token(settings, admin_id=str(uuid.uuid4()), email="ops@example.com", role="master_admin",
                              can_manage_students=True)
    student = issue_student_token(settings, student_id=student_id, email=email)
    processes = ["web", "worker", "beat"] + (["flower"] if settings.redis_url else [])
    mode = "PostgreSQL + Redis" if settings.redis_url and settings.is_postgres else (
        "embedded (SQLite under var/, filesystem broker under var/broker/)" if settings.embedded
        else "custom")
    print(f"""
students service ({mode})
  API:      http://127.0.0.1:{port}   docs: http://127.0.0.1:{port}/docs
  admin token (master_admin, 24 h):
    {admin}
  student token ({email}, 24 h):
    {student}
  try:
    curl -s -H 'Authorization: Bearer {student}' http://127.0.0.1:{port}/students/profile
  processes: {', '.join(processes)} (Ctrl-C stops them all)
""", flush=True)
    if args.no_start:
        return 0
    procfile = config.ROOT / "Procfile"
    command = [sys.executable, "-m", "honcho", "-f", str(procfile), "-d", str(config.ROOT), "start", *processes]
    print("$ " + " ".join(shlex.quote(c) for c in command), flush=True)
    env = dict(os.environ, PORT=port, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    return subprocess.call(command, env=env)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="students", description="Students service operations.")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply pending schema migrations").set_defaults(fn=cmd_migrate)

    token = sub.add_parser("token", help="print a signed token")
    kinds = token.add_subparsers(dest="kind", required=True)
    st = kinds.add_parser("student", help="a student token for an existing student")
    st.add_argument("id")
    ad = kinds.add_parser("admin", help="an admin token")
    ad.add_argument("--role", required=True)
    ad.add_argument("--manage-students", action="store_true")
    ad.add_argument("--course-id", action="append")
    ad.add_argument("--id", default=None)
    ad.add_argument("--email", default="ops@example.com")
    for sp in (st, ad):
        sp.add_argument("--ttl", type=int, default=None, help="lifetime in seconds (default TOKEN_TTL)")
    token.set_defaults(fn=cmd_token)

    cat = sub.add_parser("catalogue", help="catalogue commands")
    cat_sub = cat.add_subparsers(dest="action", required=True)
    load = cat_sub.add_parser("load", help="upsert exam types, products and course end dates from FILE.json")
    load.add_argument("file")
    cat.set_defaults(fn=cmd_catalogue)

    seed = sub.add_parser("seed", help="insert N demo students with ledgers")
    seed.add_argument("--students", type=int, required=True)
    seed.set_defaults(fn=cmd_seed)

    prune = sub.add_parser("prune", help="prune inactive accounts (SPEC 7) as a job, or show what would be pruned")
    prune.add_argument("--dry-run", action="store_true", help="print what would be pruned and change nothing")
    prune.set_defaults(fn=cmd_prune)

    led = sub.add_parser("ledger", help="ledger commands")
    led_sub = led.add_subparsers(dest="action", required=True)
    led_sub.add_parser("check", help="list students whose balance differs from income - outcome (exit 1 if any)")
    led.set_defaults(fn=cmd_ledger)

    dev = sub.add_parser("dev", help="set up the demo data and run web, worker, beat (and flower) in one terminal")
    dev.add_argument("--no-start", action="store_true", help="set up and print, but start nothing")
    dev.set_defaults(fn=cmd_dev)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    settings = _init()
    return args.fn(args, settings)


if __name__ == "__main__":
    sys.exit(main())
