"""`GET /students/profile` and `PATCH /students/set-theme` under 32 connections (wrk, loopback) against gunicorn as the
Procfile runs it, versus a bare Falcon app doing the same primary-key query and update with the same gunicorn
settings (bench/bare_app.py). Targets: profile >= 70 % of bare requests/s with p99 < 50 ms; theme >= 60 %; no non-2xx.
"""
from __future__ import annotations

import os

from bench import common, servers

SECONDS = int(os.environ.get("BENCH_LOAD_SECONDS", "30"))
STUDENTS = 500


def _lua(method: str, paths: list[str], tokens: list[str] | None, body: str | None) -> str:
    quoted = ", ".join(f'"{p}"' for p in paths)
    toks = ", ".join(f'"{t}"' for t in tokens) if tokens else ""
    return f"""
local paths = {{{quoted}}}
local tokens = {{{toks}}}
local i = 0
request = function()
  i = i + 1
  local k = (i % #paths) + 1
  local headers = {{["Content-Type"] = "application/json"}}
  if #tokens > 0 then headers["Authorization"] = "Bearer " .. tokens[k] end
  return wrk.format("{method}", paths[k], headers, {repr(body) if body else 'nil'})
end
"""


def run() -> dict:
    common.environment()
    common.fresh_database()
    from api.auth import issue_student_token
    from core import config, db
    from models.students import seed

    settings = config.get()
    with db.connection():
        seed.seed_students(STUDENTS, workers=1)
        rows = db.fetch_all("SELECT id, email FROM students WHERE is_active ORDER BY id")
    ids = [str(r[0]) for r in rows]
    tokens = [issue_student_token(settings, student_id=str(i), email=e) for i, e in rows]
    body = '{"theme": "dark"}'
    figures: dict = {"seconds": SECONDS, "connections": 32}
    for name, app, profile, theme in (
        ("service", "api.app:create_app()", _lua("GET", ["/students/profile"] * len(ids), tokens, None),
         _lua("PATCH", ["/students/set-theme"] * len(ids), tokens, body)),
        ("bare", "bench.bare_app:app", _lua("GET", [f"/profile/{i}" for i in ids], None, None),
         _lua("PATCH", [f"/theme/{i}" for i in ids], None, body)),
    ):
        port = servers.free_port()
        with servers.gunicorn(app, port):
            url = f"http://127.0.0.1:{port}"
            servers.wrk(url, profile, seconds=3)  # warm-up: connections, plans, caches
            for route, script in (("profile", profile), ("theme", theme)):
                result = servers.wrk(url, script, seconds=SECONDS)
                for key, value in result.items():
                    figures[f"{route}_{name}_{key}"] = value
    figures["profile_ratio"] = figures["profile_service_rps"] / figures["profile_bare_rps"]
    figures["theme_ratio"] = figures["theme_service_rps"] / figures["theme_bare_rps"]
    figures["pass"] = (figures["profile_ratio"] >= 0.7 and figures["profile_service_p99_ms"] < 50
                       and figures["theme_ratio"] >= 0.6 and figures["profile_service_non_2xx"] == 0
                       and figures["theme_service_non_2xx"] == 0)
    return common.report("load", figures)


if __name__ == "__main__":
    run()
