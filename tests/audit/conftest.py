from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from farm.audit.fixtures import generate_root


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A clean full fixture with the seed's figures."""
    path = tmp_path / "root"
    generate_root(path)
    return path


def rewrite(path: Path, edit: Callable[[int, dict[str, object]], dict[str, object] | None]) -> None:
    """Rewrite a small JSONL file record by record (`edit` returns the new record, or None to keep it)."""
    out = []
    for i, line in enumerate(path.read_bytes().splitlines()):
        rec = orjson.loads(line)
        new = edit(i, rec)
        out.append(orjson.dumps(new if new is not None else rec))
    path.write_bytes(b"\n".join(out) + b"\n")
