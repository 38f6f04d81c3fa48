"""Error classes the gateway client records per sample and side (a probe's parser adds its own)."""

TIMEOUT, HTTP_STATUS, CONNECTION, MALFORMED = "timeout", "http_status", "connection", "malformed_body"
