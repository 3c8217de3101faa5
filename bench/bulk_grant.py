"""Bulk grant of 5 products to 10,000 students vs one `INSERT ... SELECT ... ON CONFLICT DO NOTHING` (target <= 2x).

The service figure is the whole job as a worker runs it (claim, chunks of JOB_CHUNK_SIZE with their progress
commits, finish), called in-process so that broker latency is left out; the baseline inserts the same 50,000 rows.
"""
from __future__ import annotations

from bench import common

STUDENTS = 10_000
EXAMS = 5


def run() -> dict:
    common.environment()
    common.fresh_database()
    from core import config, db
    from models.jobs import ops as jobs
    from models.jobs.types import PRODUCTS_BULK_GRANT
    from models.products import bulk, catalogue
    from models.products.ops import GrantItem
    from models.students import seed
    from tasks import runner

    settings = config.get()
    exam_type = "6f1c2b1e-8a44-4d7e-9a57-000000000001"
    with db.connection():
        seed.seed_students(STUDENTS)
        catalogue.load(catalogue.Catalogue.model_validate({
            "exam_types": [{"id": exam_type, "title": "Bench", "sections": [{"order": 1, "name": "A", "min": 0,
                                                                             "max": 10}]}],
            "products": [{"id": f"6f1c2b1e-8a44-4d7e-9a57-00000000010{i}", "external_id": f"bench-{i}",
                          "type": "exam", "title": f"Bench exam {i}", "exam_type_id": exam_type}
                         for i in range(EXAMS)]}))
        student_ids = [str(r[0]) for r in db.fetch_all("SELECT id FROM students ORDER BY id")]
        items = [GrantItem("exam", f"bench-{i}") for i in range(EXAMS)]

    def service() -> float:
        with db.connection():
            db.execute("TRUNCATE student_exams")
            job, _ = jobs.submit(PRODUCTS_BULK_GRANT, {"student_ids": student_ids,
                                                       "items": [bulk.item_to_json(i) for i in items]},
                                 creator=jobs.Creator("bench", "admin"), total=len(student_ids),
                                 enqueue=lambda _id: None)
        seconds = common.timed(lambda: runner.execute(str(job.id), settings))
        with db.connection():
            assert db.fetch_one("SELECT count(*) FROM student_exams")[0] == STUDENTS * EXAMS
        return seconds

    def baseline() -> float:
        with db.connection():
            db.execute("TRUNCATE student_exams")
            with db.db.atomic():
                seconds = common.timed(lambda: db.execute(
                    "INSERT INTO student_exams (id, student_id, product_id, exam_type_id, title, external_id, "
                    "status, accessible_from, accessible_to, created_at) "
                    "SELECT gen_random_uuid(), s.id, p.id, p.exam_type_id, p.title, p.external_id, 'scheduled', "
                    "now(), now() + make_interval(days => p.access_days), now() "
                    "FROM students s CROSS JOIN products p WHERE p.external_id LIKE 'bench-%%' "
                    "ON CONFLICT DO NOTHING"))
            assert db.fetch_one("SELECT count(*) FROM student_exams")[0] == STUDENTS * EXAMS
        return seconds

    service_s = common.median_of(3, service)
    baseline_s = common.median_of(3, baseline)
    return common.report("bulk_grant", {
        "students": STUDENTS, "products": EXAMS, "chunk_size": settings.job_chunk_size,
        "service_seconds": service_s, "baseline_seconds": baseline_s,
        "ratio": service_s / baseline_s, "target_ratio": 2.0, "pass": service_s / baseline_s <= 2.0,
    })


if __name__ == "__main__":
    run()
