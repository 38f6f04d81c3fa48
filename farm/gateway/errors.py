"""Error classes the gateway client records per sample and side (a probe's parser adds its own).

Transport: `timeout` (no byte for a read timeout, or no answer at all), `deadline` (the whole request took
longer than its deadline: a body that drips in), `connection` (refused, unreachable, closed before the
answer), `connection_reset` (the connection broke after the answer began: a body cut short).
HTTP: `http_status` (4xx, or 5xx / 429 after the retries), `not_found` (a 404 in the gateway's own error shape
for something the input says exists: a storage object or bucket; an empty store or a wrong bucket).
Body: `body_too_large` (over the size cap), `content_type` (not what the probe reads), `invalid_utf8`,
`non_finite_json` (`NaN` / `Infinity` literals, which JSON does not allow), `truncated_json` (the document
ends early), `malformed_body` (any other undecodable body, or a document of another shape).
"""

TIMEOUT, HTTP_STATUS, CONNECTION, MALFORMED = "timeout", "http_status", "connection", "malformed_body"
DEADLINE, RESET, NOT_FOUND = "deadline", "connection_reset", "not_found"
TOO_LARGE, CONTENT_TYPE, INVALID_UTF8 = "body_too_large", "content_type", "invalid_utf8"
NON_FINITE_JSON, TRUNCATED_JSON = "non_finite_json", "truncated_json"

# Worth another attempt: the next one may well succeed. A body that decodes wrongly is the gateway's answer.
RETRIED = frozenset({TIMEOUT, DEADLINE, CONNECTION, RESET, TRUNCATED_JSON, HTTP_STATUS})

DESCRIPTIONS = {
    TIMEOUT: "timed out", DEADLINE: "past the request deadline", CONNECTION: "connection refused or lost",
    RESET: "connection reset mid-body", HTTP_STATUS: "HTTP error status", MALFORMED: "malformed body",
    TOO_LARGE: "body over the size cap", CONTENT_TYPE: "wrong content type", INVALID_UTF8: "invalid UTF-8",
    NON_FINITE_JSON: "NaN/Infinity in JSON", TRUNCATED_JSON: "truncated JSON",
    NOT_FOUND: "not found (404 with the gateway's error code: a wrong bucket, or a store not seeded?)",
}


def describe(error: str) -> str:
    """An error class as a sentence fragment ("connection refused or lost"); a probe's own class as is."""
    return DESCRIPTIONS.get(error, error.replace("_", " "))
