"""JSON logs carry the bound request_id and job_id."""
from __future__ import annotations

import logging

import orjson

from core import logging as jsonlog


def _format(message: str, **extra) -> dict:
    record = logging.getLogRecordFactory()("t", logging.INFO, __file__, 1, message, (), None)
    record.__dict__.update(extra)
    return orjson.loads(jsonlog.JsonFormatter().format(record))


def test_request_and_job_ids_are_bound_from_context():
    assert "request_id" not in _format("plain")
    token = jsonlog.request_id.set("req-1")
    job = jsonlog.job_id.set("job-1")
    try:
        entry = _format("hello %s", count=3)
    finally:
        jsonlog.request_id.reset(token)
        jsonlog.job_id.reset(job)
    assert entry["msg"] == "hello %s"
    assert entry["request_id"] == "req-1" and entry["job_id"] == "job-1"
    assert entry["level"] == "info" and entry["count"] == 3 and entry["ts"].endswith("Z")


def test_request_id_reaches_the_log_of_a_request(client, caplog):
    with caplog.at_level(logging.INFO):
        resp = client.simulate_get("/students/profile", headers={"X-Request-Id": "trace-42",
                                                                 "Authorization": "Bearer nonsense"})
    assert resp.status_code == 401 and resp.headers["x-request-id"] == "trace-42"
    refused = [r for r in caplog.records if r.getMessage() == "token refused"]
    assert refused and orjson.loads(jsonlog.JsonFormatter().format(refused[0]))["request_id"] == "trace-42"
    assert "nonsense" not in caplog.text
