"""The detail an exit-4 reason gets for an HTTP error status: the status and the body's first bytes on one line,
the request's own token masked when the gateway echoes it; and how the health check puts it in the reason."""

from __future__ import annotations

from farm.gateway.client import ERROR_BODY_BYTES, http_detail
from farm.sweep.health import failing_side


def test_status_and_first_bytes_of_the_body_with_the_token_masked() -> None:
    assert http_detail(404, b'{"error":"model not found"}', {}) == 'HTTP 404: {"error":"model not found"}'
    assert http_detail(502, b"", {}) == "HTTP 502"
    echoed = b'{"error": "bad key sk-secret-123",\n "code": 401}'
    text = http_detail(401, echoed, {"authorization": "Bearer sk-secret-123"})
    assert "sk-secret-123" not in text and text == 'HTTP 401: {"error": "bad key ***", "code": 401}'
    long = http_detail(500, b"x" * 5000, {})
    assert long == "HTTP 500: " + "x" * ERROR_BODY_BYTES + "..."


def test_the_health_reason_carries_the_first_detail_of_the_main_class() -> None:
    errors = {"legacy": {}, "candidate": {"http_status": 68}}
    details = {"candidate": {"http_status": 'HTTP 404: {"error":"model not found"}'}}
    reason = failing_side(68, errors, {"candidate": "http://gw/api/chat"}, details)
    assert reason is not None and reason.startswith(
        'candidate failing: 68 of 68 HTTP error status (HTTP 404: {"error":"model not found"}) at http://gw/api/chat')
    assert "(" not in (failing_side(68, errors, {}) or "").split(" - ")[0]  # no detail given: none shown
