from __future__ import annotations

from pathlib import Path

import pytest

from farm.corpus import CorpusSpec, batches, iter_items, synthetic_text
from farm.errors import UsageError


def test_synthetic_is_seeded_and_unique() -> None:
    spec = CorpusSpec(limit=500, seed=7)
    texts = list(iter_items(spec))
    assert texts == list(iter_items(spec)) and len(set(texts)) == 500
    assert texts[3] == synthetic_text(7, 3) != synthetic_text(8, 3)


def test_text_and_jsonl_files(tmp_path: Path) -> None:
    (tmp_path / "c.txt").write_text("one\n\ntwo\r\nthree\n")
    assert list(iter_items(CorpusSpec(str(tmp_path / "c.txt")))) == ["one", "two", "three"]
    assert list(iter_items(CorpusSpec(str(tmp_path / "c.txt"), limit=2))) == ["one", "two"]
    (tmp_path / "c.jsonl").write_text('{"text": "a"}\n{"text": "b", "x": 1}\n')
    assert list(iter_items(CorpusSpec(str(tmp_path / "c.jsonl"), field="text"))) == ["a", "b"]


@pytest.mark.parametrize(("content", "message"), [
    ('{"text": "a"}\n{"other": 1}\n', "c.jsonl:2: no string field 'text'"),
    ('{"text": "a"}\nnot json\n', "c.jsonl:2: not JSON"),
])
def test_bad_jsonl_names_the_line(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "c.jsonl").write_text(content)
    with pytest.raises(UsageError, match=message):
        list(iter_items(CorpusSpec(str(tmp_path / "c.jsonl"), field="text")))


def test_validation() -> None:
    with pytest.raises(UsageError, match="needs --samples"):
        CorpusSpec().validate()
    with pytest.raises(UsageError, match="file not found"):
        CorpusSpec("/nonexistent/corpus.txt").validate()


def test_a_directory_is_not_a_corpus_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as err:
        CorpusSpec(str(tmp_path)).validate()
    assert str(err.value) == f"corpus {tmp_path}: is a directory, not a file"


def test_batches_number_and_index_globally() -> None:
    out = list(batches(iter_items(CorpusSpec(limit=70)), 32))
    assert [(b.no, b.start, len(b.items)) for b in out] == [(0, 0, 32), (1, 32, 32), (2, 64, 6)]
    assert list(out[2].idxs) == [64, 65, 66, 67, 68, 69]


def test_streaming_does_not_read_ahead(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_text("".join(f"line {i}\n" for i in range(100_000)))
    gen = iter_items(CorpusSpec(str(path)))
    assert next(gen) == "line 0"  # a lazy generator: nothing else was parsed yet


def test_count_items_gives_the_progress_bar_a_total(tmp_path: Path) -> None:
    from farm.corpus import count_items

    (tmp_path / "c.txt").write_text("one\n\ntwo\r\nthree\n")
    assert count_items(CorpusSpec(str(tmp_path / "c.txt"))) == 3
    assert count_items(CorpusSpec(str(tmp_path / "c.txt"), limit=2)) == 2
    assert count_items(CorpusSpec(limit=70)) == 70
