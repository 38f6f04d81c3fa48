from __future__ import annotations

import numpy as np
import pytest

from farm.config import parse_config
from farm.errors import ConfigError
from farm.probes.embed.profile import PRESETS
from farm.profiles import MalformedBody, get_path, profile_from_table, resolve_profile, set_path


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_parses_what_it_builds(name: str) -> None:
    profile = PRESETS[name]
    vectors = np.arange(12, dtype=np.float64).reshape(3, 4)
    doc = profile.build_response(vectors, "m")
    assert np.array_equal(profile.parse_vectors(doc), vectors)


def test_seed_wire_formats() -> None:
    legacy, candidate = PRESETS["lakehouse-legacy"], PRESETS["lakehouse-candidate"]
    assert (legacy.path, legacy.vectors_path, legacy.dimension_path) == ("/ai/embed", "embeddings", "dimensions")
    assert (candidate.path, candidate.vectors_path, candidate.dimension_path) == ("/v1/embed", "vectors", "dimension")
    assert legacy.build_request(["a"], "m") == candidate.build_request(["a"], "m") == {"texts": ["a"], "model": "m"}
    assert PRESETS["openai"].build_request(["a"], None) == {"input": ["a"]}


def test_openai_vectors_are_reordered_by_index() -> None:
    doc = {"data": [{"embedding": [2.0], "index": 1}, {"embedding": [1.0], "index": 0}]}
    assert PRESETS["openai"].parse_vectors(doc).tolist() == [[1.0], [2.0]]


@pytest.mark.parametrize("doc", [{}, {"embeddings": "x"}, {"embeddings": [[1.0], [1.0, 2.0]]},
                                 {"embeddings": [["a"]]}, {"embeddings": [1.0]}])
def test_malformed_bodies_are_rejected(doc: dict[str, object]) -> None:
    with pytest.raises(MalformedBody):
        PRESETS["ollama"].parse_vectors(doc)


def test_paths_read_and_write_nested_arrays() -> None:
    doc: dict[str, object] = {}
    set_path(doc, "result.items[].vec", [[1], [2]])
    assert doc == {"result": {"items": [{"vec": [1]}, {"vec": [2]}]}}
    assert get_path(doc, "result.items[].vec") == [[1], [2]]
    assert get_path(doc, "result.missing") is None


def test_custom_profile_from_base_and_from_scratch() -> None:
    p = profile_from_table("mine", {"base": "openai", "path": "/embeddings", "ignore_fields": ["usage"]}, "f.toml")
    assert (p.path, p.vectors_path, p.ignore_fields) == ("/embeddings", "data[].embedding", ("usage",))
    q = profile_from_table("raw", {"path": "/e", "texts_field": "inputs", "vectors_path": "out.vecs"}, "f.toml")
    assert q.build_request(["x"], "m") == {"inputs": ["x"], "model": "m"}


@pytest.mark.parametrize(("table", "key", "problem"), [
    ({"path": "/e", "texts_field": "t"}, "profiles.bad.vectors_path", "required"),
    ({"base": "nope"}, "profiles.bad.base", "unknown preset"),
    ({"base": "openai", "path": "e"}, "profiles.bad.path", "must start with '/'"),
    ({"base": "openai", "colour": "red"}, "profiles.bad.colour", "unknown key"),
    ({"base": "openai", "ignore_fields": "usage"}, "profiles.bad.ignore_fields", "list of field paths"),
])
def test_bad_custom_profiles_name_the_key(table: dict[str, object], key: str, problem: str) -> None:
    with pytest.raises(ConfigError) as err:
        profile_from_table("bad", table, "f.toml")
    assert err.value.key == key and problem in err.value.problem and str(err.value).startswith("f.toml: ")


def test_gateway_with_unknown_profile_is_a_config_error() -> None:
    data = {"gateways": {"legacy": {"url": "http://127.0.0.1:1", "profile": "nope"}}}
    with pytest.raises(ConfigError, match=r"gateways\.legacy\.profile: unknown wire profile 'nope'"):
        parse_config(data, "farm.toml")


def test_config_profiles_shadow_presets() -> None:
    config = parse_config({"profiles": {"openai": {"base": "openai", "path": "/x"}}}, "farm.toml")
    assert resolve_profile("openai", config).path == "/x"
