"""CORS answers only for the configured origins."""
from __future__ import annotations

import falcon.testing

from api.app import create_app


def test_cors_allow_list(settings, dispatcher):
    app = create_app(settings.with_(cors_origins=("https://app.example.com",)), dispatcher=dispatcher)
    client = falcon.testing.TestClient(app)
    allowed = client.simulate_get("/healthz", headers={"Origin": "https://app.example.com"})
    assert allowed.headers.get("access-control-allow-origin") == "https://app.example.com"
    other = client.simulate_get("/healthz", headers={"Origin": "https://evil.example.com"})
    assert "access-control-allow-origin" not in other.headers
    preflight = client.simulate_options("/students/profile", headers={
        "Origin": "https://app.example.com", "Access-Control-Request-Method": "GET"})
    assert preflight.status_code == 200
    assert preflight.headers.get("access-control-allow-origin") == "https://app.example.com"


def test_no_cors_headers_without_configuration(client):
    resp = client.simulate_get("/healthz", headers={"Origin": "https://app.example.com"})
    assert "access-control-allow-origin" not in resp.headers
