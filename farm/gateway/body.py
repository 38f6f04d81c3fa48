"""A response body to a JSON document, or the one error class that says why not.

Pure bytes-in, value-or-class-out (fuzzed by tests/test_fuzz_parsers.py): the client reads the body with a
size cap and a deadline, then hands the bytes here. orjson is strict (no `NaN`, valid UTF-8 only); its
errors are told apart only on the failure path, so a good body costs one `orjson.loads`.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from farm.gateway.errors import CONTENT_TYPE, INVALID_UTF8, MALFORMED, NON_FINITE_JSON, TRUNCATED_JSON


class BodyFault(Exception):
    """A body the farm cannot read as a document; `error` is its class (farm.gateway.errors)."""

    def __init__(self, error: str, detail: str = "") -> None:
        super().__init__(f"{error}: {detail}" if detail else error)
        self.error = error


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def check_content_type(content_type: str | None, accepts: tuple[str, ...]) -> None:
    """A missing content type is tolerated (many small gateways send none); a present one must contain one of
    `accepts` (e.g. "json" matches application/json and application/problem+json)."""
    media = media_type(content_type)
    if media and not any(a in media for a in accepts):
        raise BodyFault(CONTENT_TYPE, media)


def _non_finite(text: str) -> bool:
    """True when the stdlib parser (which accepts NaN and Infinity) reads it and orjson did not."""
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return False
    return True


def decode_json(content: bytes) -> Any:
    """The document in `content`; BodyFault with the class of the first thing wrong with it."""
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        failure = exc
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyFault(INVALID_UTF8, f"byte {exc.start}") from None
    if _non_finite(text):
        raise BodyFault(NON_FINITE_JSON)
    stripped = text.rstrip()
    if stripped and failure.pos >= len(stripped) - 1 and stripped[0] in "[{\"":
        raise BodyFault(TRUNCATED_JSON, f"ends at byte {len(content)}")
    raise BodyFault(MALFORMED, str(failure))
