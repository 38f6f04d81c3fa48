"""The storage probe's pure core: inputs, ETag normalisation, what is a disagreement and what is drift."""

from __future__ import annotations

from typing import Any

import pytest

from farm.gateway.errors import HTTP_STATUS, NOT_FOUND
from farm.probes import get_probe
from farm.probes.base import MalformedBody
from farm.probes.storage.compare import compare_item, etag, mark_unserved, objects_unserved
from farm.probes.storage.exchange import Fetched, SampleFailed, check_found
from farm.probes.storage.profile import PRESETS, StorageProfile


def obj(body: str = "aa", tag: str = '"e1"', ctype: str = "text/plain", status: int = 200,
        ranges: tuple[int, ...] = (206, 416)) -> dict[str, Any]:
    headers = {"etag": tag, "content-type": ctype, "last-modified": "Tue, 01 Dec 2026 10:00:00 GMT",
               "content-length": "2"}
    return {"op": "object", "key": "k", "head": {"status": status, "headers": headers, "sha256": None, "size": 0},
            "get": {"status": status, "headers": headers, "sha256": body, "size": 2},
            "ranges": [{"range": f"r{i}", "status": s, "sha256": body if s == 206 else None, "size": 1}
                       for i, s in enumerate(ranges)]}


def listing(keys: list[str], pages: list[int], tag: str = '"e"') -> dict[str, Any]:
    return {"op": "list", "status": 200, "keys": keys, "sizes": [1] * len(keys), "etags": [tag] * len(keys),
            "pages": pages, "exhausted": True}


def test_etags_compare_without_quotes_or_weak_marker() -> None:
    assert etag('"abc"') == etag("abc") == etag('W/"abc"') == "abc"


def test_etag_quoting_and_content_type_are_drift_unless_strict() -> None:
    out = compare_item(obj(), obj(tag="e1", ctype="binary/octet-stream"), strict_headers=False)
    assert out.agreed and out.drift == ["etag quoting", "content-type"]
    strict = compare_item(obj(), obj(tag="e1"), strict_headers=True)
    assert not strict.agreed and strict.diff_class == "headers"


def test_bodies_ranges_and_etag_values_are_disagreements() -> None:
    assert compare_item(obj(), obj(body="ab"), False).diff_class == "body"
    assert compare_item(obj(), obj(ranges=(206, 200)), False).diff_class == "range"
    assert compare_item(obj(), obj(tag='"other"'), False).diff_class == "etag"
    assert compare_item(obj(), obj(status=404), False).diff_class == "status"


def test_listings_compare_keys_and_counts_order_and_pages_are_drift() -> None:
    a = listing(["a", "b", "c"], [3])
    assert compare_item(a, listing(["c", "b", "a"], [1, 1, 1], tag="e"), False).drift == [
        "list order", "list page size", "etag quoting"]
    assert compare_item(a, listing(["a", "b"], [2]), False).diff_class == "list_count"
    assert compare_item(a, listing(["a", "b", "d"], [3]), False).diff_class == "list_keys"


def test_missing_keys_compare_status_and_error_shape_is_drift() -> None:
    a = {"op": "missing", "status": 404, "error": {"error": "NoSuchKey"}}
    b = {"op": "missing", "status": 404, "error": {"error": {"code": "NoSuchKey", "message": "m"}}}
    out = compare_item(a, b, False)
    assert out.agreed and out.drift == ["error body shape"]
    assert compare_item(a, {**b, "status": 200}, False).diff_class == "missing_status"


def test_inputs_from_text_and_json() -> None:
    probe = get_probe("storage")
    assert probe.item_from_text("dir/ké y.txt") == {"op": "object", "key": "dir/ké y.txt"}
    assert probe.item_from_json({"op": "object", "key": "k", "ranges": ["bytes=0-9"]})["ranges"] == ["bytes=0-9"]
    assert probe.item_from_json({"op": "list", "prefix": "p/"}) == {"op": "list", "prefix": "p/", "page_size": 1000}
    with pytest.raises(MalformedBody):
        probe.item_from_json({"op": "object", "key": "k", "ranges": ["0-9"]})


@pytest.mark.parametrize("good", ["bytes=0-0", "bytes=10-99", "bytes=7-", "bytes=-512"])
def test_ranges_the_probe_sends(good: str) -> None:
    assert get_probe("storage").item_from_json({"op": "object", "key": "k", "ranges": [good]})["ranges"] == [good]


@pytest.mark.parametrize("bad", ["bytes=zz", "bytes=9-3", "bytes=-", "bytes=1-2,4-5", "bytes= 1-2", "bytes=a-",
                                 "bytes=-1.5", 7])
def test_ranges_that_are_not_one_integer_range_are_refused(bad: Any) -> None:
    with pytest.raises(MalformedBody, match="is not `bytes=a-b`"):
        get_probe("storage").item_from_json({"op": "object", "key": "k", "ranges": [bad]})


def test_a_bare_op_name_under_field_is_refused_in_jsonl_but_a_key_in_text() -> None:
    probe = get_probe("storage")
    with pytest.raises(MalformedBody, match="'list' is an op, not a key"):
        probe.item_from_json("list")
    assert probe.item_from_text("list") == {"op": "object", "key": "list"}


def fetched(status: int, doc: Any = None) -> Fetched:
    return Fetched(status, {}, doc=doc)


def test_a_404_is_not_found_in_the_profile_shape_and_http_status_in_any_other() -> None:
    legacy, candidate = PRESETS["lakehouse-legacy"], PRESETS["lakehouse-candidate"]
    assert isinstance(legacy, StorageProfile) and isinstance(candidate, StorageProfile)

    def cls(p: StorageProfile, f: Fetched, missing: bool = False) -> str | None:
        try:
            check_found(p, f, expect_missing=missing)
        except SampleFailed as exc:
            return exc.error
        return None

    key, bucket = {"error": "NoSuchKey"}, {"error": {"code": "NoSuchBucket", "message": "m"}}
    assert cls(legacy, fetched(404, key)) == NOT_FOUND and cls(candidate, fetched(404, bucket)) == NOT_FOUND
    assert cls(legacy, fetched(404, key), missing=True) is None  # a missing key's expected answer
    assert cls(candidate, fetched(404, bucket), missing=True) == NOT_FOUND  # but not in a bucket that is not there
    for other in (fetched(404), fetched(404, "Not Found"), fetched(405, key), fetched(404, {"detail": "x"})):
        assert cls(legacy, other) == cls(legacy, other, missing=True) == HTTP_STATUS
    assert cls(candidate, fetched(404, key)) == HTTP_STATUS  # the other profile's shape: a wrong profile
    assert cls(legacy, fetched(200)) is None and cls(legacy, fetched(416, key)) is None


def test_a_batch_legacy_served_no_object_of_fails_its_listings_and_missing_keys_too() -> None:
    ops = ["object", "list", "missing", "object"]
    assert mark_unserved(ops, [NOT_FOUND, None, None, NOT_FOUND]) == [NOT_FOUND] * 4
    assert mark_unserved(ops, [NOT_FOUND, None, None, None]) == [NOT_FOUND, None, None, None]
    assert mark_unserved(ops, ["connection", None, None, NOT_FOUND]) == ["connection", None, None, NOT_FOUND]
    assert mark_unserved(["list", "missing"], [None, None]) == [None, None]
    assert objects_unserved(ops, [NOT_FOUND, None, None, NOT_FOUND]) == (2, NOT_FOUND)
    assert objects_unserved(ops, [NOT_FOUND, None, None, None]) == (0, None)
    assert objects_unserved(["list"], [None]) == (0, None)
