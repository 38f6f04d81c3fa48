"""Fuzzing (hypothesis): every response parser and the structural wire-drift diff take any input and return a
value or a classified error, never an unclassified exception."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from farm.gateway.body import BodyFault, check_content_type, decode_json
from farm.gateway.client import retry_after
from farm.gateway.errors import DESCRIPTIONS
from farm.probes import get_probe, probe_names
from farm.probes.base import MalformedBody
from farm.wiredrift import DriftObserver
from farm.wiredrift.adapter import apply_adapter, build_adapter_map

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BODY_CLASSES = set(DESCRIPTIONS)

# Documents reach parsers and the diff only through `decode_json` (orjson): integers within 64 bits, no NaN.
scalars = (st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | st.floats(allow_nan=False, allow_infinity=False)
           | st.text(max_size=12))
json_docs = st.recursive(scalars, lambda kids: st.lists(kids, max_size=5)
                         | st.dictionaries(st.text(max_size=8), kids, max_size=5), max_leaves=30)
# Documents shaped like the answers: the profiles' own field names, filled with anything.
names = st.sampled_from(["embeddings", "vectors", "data", "embedding", "index", "dimension", "dimensions", "model",
                         "results", "echoes", "items", "id", "score", "object", "usage"])
shaped = st.recursive(scalars | st.lists(st.floats(allow_nan=False, width=32), max_size=4),
                      lambda kids: st.lists(kids, max_size=4) | st.dictionaries(names, kids, max_size=5),
                      max_leaves=25)
documents = json_docs | shaped


def _json_bytes(doc: Any) -> bytes:
    return orjson.dumps(doc, option=orjson.OPT_NON_STR_KEYS) if _int_ok(doc) else b"null"


def _int_ok(doc: Any) -> bool:
    try:
        orjson.dumps(doc)
    except TypeError:
        return False
    return True


@FUZZ
@given(st.binary(max_size=300) | documents.map(_json_bytes).flatmap(
    lambda b: st.integers(0, len(b)).map(lambda cut: b[:cut])))
def test_any_bytes_decode_to_a_document_or_a_classified_fault(content: bytes) -> None:
    try:
        decode_json(content)
    except BodyFault as fault:
        assert fault.error in BODY_CLASSES


@FUZZ
@given(st.text(max_size=40) | st.none())
def test_any_content_type_is_accepted_or_classified(value: str | None) -> None:
    try:
        check_content_type(value, ("json",))
    except BodyFault as fault:
        assert fault.error == "content_type"


@FUZZ
@given(st.text(max_size=40) | st.none(), st.floats(0, 100))
def test_any_retry_after_is_a_bounded_delay_or_none(value: str | None, cap: float) -> None:
    delay = retry_after(value, cap)
    assert delay is None or 0 <= delay <= cap


@FUZZ
@given(documents, st.integers(0, 40))
def test_every_probe_parser_returns_a_value_or_malformed_body(doc: Any, n: int) -> None:
    for name in probe_names():
        probe = get_probe(name)
        asked = n if probe.batched else 1  # an unbatched probe's answers are parsed one input at a time
        for profile in probe.presets.values():
            try:
                _value, errors = probe.parse_response(profile, doc, asked)
            except MalformedBody:
                continue
            assert len(errors) == asked, (name, profile.name)
            assert all(e is None or isinstance(e, str) for e in errors)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents, documents, documents, documents)
def test_the_structural_diff_takes_any_pair_of_documents(lreq: Any, lresp: Any, creq: Any, cresp: Any) -> None:
    embed = get_probe("embed")
    lp, cp = embed.presets["lakehouse-legacy"], embed.presets["lakehouse-candidate"]
    observer = DriftObserver(lp, cp)
    for _ in range(2):
        observer.observe(lreq if isinstance(lreq, dict) else {"texts": lreq}, lresp,
                         creq if isinstance(creq, dict) else {"texts": creq}, cresp)
    rows = observer.catalog()
    assert all(isinstance(r.kind, str) for r in rows)
    state = observer.to_dict()
    again = DriftObserver.from_dict(orjson.loads(orjson.dumps(state, option=orjson.OPT_NON_STR_KEYS)), lp, cp)
    assert again.batches == observer.batches
    adapter = build_adapter_map(state, lp, cp)
    apply_adapter(adapter, cresp)
