"""The storage wire profile: how one gateway shapes object reads (`GET {path}/{bucket}/{key}`, HEAD, ranges) and
listings (`GET {path}/{bucket}?prefix=&<limit>=`), and the built-in presets of ../shared/BRIEF.md."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import quote

from farm.probes.base import MalformedBody, Profile
from farm.profiles import get_path, set_path


@dataclass(frozen=True, kw_only=True)
class StorageProfile(Profile):
    probe: ClassVar[str] = "storage"
    method: str = "GET"
    limit_param: str = "limit"              # the listing's page-size query parameter
    token_param: str = "cursor"             # the query parameter sending the continuation back
    items_path: str = "objects"
    key_field: str = "key"
    size_field: str = "size"
    etag_field: str = "etag"
    modified_field: str = "last_modified"
    next_path: str = "next"                 # the continuation (null or absent on the last page)
    error_code_path: str = "error"          # where an error body names its code
    bucket_missing_code: str = "NoSuchBucket"  # the code of a 404 for a bucket that does not exist

    def object_url(self, base: str, bucket: str, key: str) -> str:
        return f"{base.rstrip('/')}{self.path}/{quote(bucket, safe='')}/{quote(key, safe='/')}"

    def list_url(self, base: str, bucket: str) -> str:
        return f"{base.rstrip('/')}{self.path}/{quote(bucket, safe='')}"

    def parse_page(self, doc: Any) -> tuple[list[dict[str, Any]], str | None]:
        """One listing page as [{key, size, etag, modified}] and its continuation."""
        items = get_path(doc, self.items_path) if isinstance(doc, dict) else None
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise MalformedBody(f"{self.items_path!r} is not a list of objects")
        try:
            out = [{"key": str(i[self.key_field]), "size": int(i[self.size_field]), "etag": i.get(self.etag_field),
                    "modified": i.get(self.modified_field)} for i in items]
        except (KeyError, TypeError, ValueError):
            raise MalformedBody(f"{self.items_path!r}: an entry lacks {self.key_field!r} or {self.size_field!r}") \
                from None
        token = get_path(doc, self.next_path)
        return out, str(token) if token else None

    def build_page(self, entries: list[dict[str, Any]], token: str | None) -> dict[str, Any]:
        doc: dict[str, Any] = {}
        set_path(doc, self.items_path, [{self.key_field: e["key"], self.size_field: e["size"],
                                         self.etag_field: e["etag"], self.modified_field: e["modified"]}
                                        for e in entries])
        set_path(doc, self.next_path, token)
        return doc

    def error_code(self, doc: Any) -> str | None:
        """The code an error body names at `error_code_path`; None when the body is not this profile's error."""
        code = get_path(doc, self.error_code_path) if isinstance(doc, dict) else None
        return code if isinstance(code, str) and code else None

    def error_body(self, code: str, message: str) -> dict[str, Any]:
        doc: dict[str, Any] = {}
        set_path(doc, self.error_code_path, code)
        if self.error_code_path.endswith(".code"):
            set_path(doc, self.error_code_path.rsplit(".", 1)[0] + ".message", message)
        return doc


PRESETS: dict[str, Profile] = {
    "lakehouse-legacy": StorageProfile(name="lakehouse-legacy", path="/storage"),
    "lakehouse-candidate": StorageProfile(
        name="lakehouse-candidate", path="/v1/storage", limit_param="max_keys", token_param="continuation_token",
        items_path="items", key_field="name", size_field="bytes", modified_field="modified",
        next_path="continuation_token", error_code_path="error.code"),
}
