"""Annotations (named selections, tags, the user's metadata): the metadata CSV read within bounds, the
per-bundle store in the user's data folder (ownership, damage, atomic writes) and the CSV exports."""

from __future__ import annotations

import csv
import io
import json
import os

import numpy as np
import pytest

from vae.diagnostics import annotations as store
from vae.diagnostics import metadata
from vae.diagnostics.annotations import SELECTIONS, TAGS, AnnotationError, Annotations
from vae.diagnostics.metadata import MetadataError, read_metadata_csv

CSV = b"Label,Index,score\ncat,4,1.5\n=cmd(),0,-2e1\n,2,\n"


def test_a_metadata_csv_finds_its_index_column_and_tells_numbers_from_text():
    meta = read_metadata_csv(CSV, 5, "mine.csv")
    assert meta.file_name == "mine.csv" and meta.index.tolist() == [4, 0, 2]
    assert meta.numeric_names() == ["score"] and meta.text_names() == ["Label"]
    assert meta.columns["Label"].tolist() == ["cat", "=cmd()", ""]  # kept as text, exactly
    assert np.array_equal(metadata.numeric_values(meta, "score", 5), [-20.0, np.nan, np.nan, np.nan, 1.5],
                          equal_nan=True)
    assert metadata.category_values(meta, "Label", 5).tolist() == ["=cmd()", "", "", "", "cat"]
    assert metadata.numeric_values(meta, "Label", 5) is None and metadata.category_values(meta, "score", 5) is None


def test_without_an_index_header_the_first_column_is_the_index_and_nan_or_inf_are_text():
    meta = read_metadata_csv(b"id,a,b\n1, 3 ,nan\n0,.5,inf\n", 2)
    assert meta.index.tolist() == [1, 0] and meta.columns["a"].tolist() == [3.0, 0.5]
    assert meta.columns["b"].tolist() == ["nan", "inf"]


@pytest.mark.parametrize("data, reason", [
    (b"index,a\n" + b"x" * metadata.MAX_BYTES, "bytes, more than the 20,000,000 allowed"),
    (("index," + ",".join(f"c{i}" for i in range(51)) + "\n0" + ",1" * 51 + "\n").encode(),
     "the file has 51 columns besides the index, more than 50"),
    (b"index,a\n12a,1\n", "row 2: the index '12a' is not a whole number"),
    (b"index,a\n-1,1\n", "row 2: the index '-1' is not a whole number"),
    (b"index,a\n0,1\n5,2\n", "row 3: 5 is not a test index (they run from 0 to 4)"),
    (b"index,a\n3,1\n3,2\n", "the index 3 appears on more than one row"),
    (b"index,a\n0,1,2\n", "row 2 has 3 cells, the header 2"),
    (b"index,a\n0," + b"y" * 201 + b"\n", "row 2 has a cell longer than 200 characters"),
    (b"index,a\n0,\xff\n", "the file is not UTF-8 text (byte 10)"),
    (b"index,a\n0,\x00\n", "the file holds NUL bytes: it is not a CSV"),
    (b"index,a\n", "the file needs a header row and at least one row of values"),
    (b"index\n0\n", "the file needs an index column and at least one more column"),
    (b"index,a,a\n0,1,2\n", "two columns have the same name"),
    (b"index,\n0,1\n", "every column needs a name of 1 to 200 characters"),
    (b'index,a\n0,"' + b"z" * 140_000 + b'"\n', "the file is not a readable CSV: field larger than field limit"),
], ids=["too-big", "too-many-columns", "not-a-number", "negative", "not-a-test-index", "repeated", "ragged",
        "long-cell", "not-utf8", "nul", "header-only", "index-only", "same-names", "unnamed", "huge-field"])
def test_a_hostile_metadata_file_gets_one_line_saying_why(data, reason):
    with pytest.raises(MetadataError) as caught:
        read_metadata_csv(data, 5)
    assert reason in str(caught.value) and "\n" not in str(caught.value)


def test_a_metadata_file_of_too_many_rows_is_refused(monkeypatch):
    monkeypatch.setattr(metadata, "MAX_ROWS", 3)
    read_metadata_csv(b"index,a\n0,1\n1,1\n", 5)
    with pytest.raises(MetadataError, match="more than 3 rows"):
        read_metadata_csv(b"index,a\n0,1\n1,1\n2,1\n3,1\n", 5)


def test_metadata_exported_back_reads_the_same_with_formulas_made_text():
    meta = read_metadata_csv(CSV, 5)
    exported = store.metadata_csv(meta)
    assert list(csv.reader(io.StringIO(exported.decode()))) == [
        ["index", "Label", "score"], ["4", "cat", "1.5"], ["0", "'=cmd()", "-20.0"], ["2", "", ""]]


@pytest.fixture()
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(store.DATA_VAR, str(tmp_path / "data"))
    return tmp_path / "data" / "annotations"


def _sample(n: int = 10) -> Annotations:
    kept = store.with_group(Annotations(metadata=read_metadata_csv(CSV, n)), SELECTIONS, "  odd  ones ", [7, 3, 3], n)
    kept = store.with_group(kept, TAGS, "blurry", [9, 1], n)
    return store.with_group(kept, TAGS, "blurry", [2, 1], n)  # a tag grows


def test_named_selections_replace_and_tags_grow():
    kept = _sample()
    assert {k: v.tolist() for k, v in kept.selections.items()} == {"odd ones": [3, 7]}
    assert kept.tags["blurry"].tolist() == [1, 2, 9]
    again = store.with_group(kept, SELECTIONS, "odd ones", [0], 10)
    assert again.selections["odd ones"].tolist() == [0] and kept.selections["odd ones"].tolist() == [3, 7]
    assert list(store.without_group(again, TAGS, "blurry").tags) == []


@pytest.mark.parametrize("name, reason", [("   ", "give it a name"), ("x" * 81, "at most 80 characters"),
                                          ("a\x1bb", "only printable characters")])
def test_bad_names_and_indices_are_refused(name, reason):
    with pytest.raises(AnnotationError, match=reason):
        store.with_group(Annotations(), TAGS, name, [1], 10)
    with pytest.raises(AnnotationError, match="0 to 9"):
        store.with_group(Annotations(), TAGS, "ok", [10], 10)


def test_the_store_round_trips_for_this_user_alone_and_leaves_no_temporary_file(tiny_bundle, data_dir):
    file = store.save(tiny_bundle, _sample(), 10)
    assert file.parent == data_dir and file.name == store.bundle_checksum(tiny_bundle)[:32] + ".json"
    assert os.stat(file).st_mode & 0o777 == 0o600 and [p.name for p in data_dir.iterdir()] == [file.name]
    loaded, problem = store.load(tiny_bundle, 10)
    assert problem is None
    assert {k: v.tolist() for k, v in loaded.tags.items()} == {"blurry": [1, 2, 9]}
    assert {k: v.tolist() for k, v in loaded.selections.items()} == {"odd ones": [3, 7]}
    assert loaded.metadata.index.tolist() == [4, 0, 2]
    assert loaded.metadata.columns["Label"].tolist() == ["cat", "=cmd()", ""]
    assert np.array_equal(loaded.metadata.columns["score"], [1.5, -20.0, np.nan], equal_nan=True)
    assert store.load(tiny_bundle, 10)[0].metadata.kind("score") == "number"


def test_no_file_is_no_annotations_and_no_problem(tiny_bundle, data_dir):
    assert store.load(tiny_bundle, 10) == (Annotations(), None)


def test_a_file_others_may_write_or_own_is_not_read(tiny_bundle, data_dir, monkeypatch):
    file = store.save(tiny_bundle, _sample(), 10)
    os.chmod(file, 0o666)
    assert store.load(tiny_bundle, 10) == (Annotations(), "the annotations file is writable by other users")
    os.chmod(file, 0o600)
    real = os.getuid()
    monkeypatch.setattr(os, "getuid", lambda: real + 1)
    assert store.load(tiny_bundle, 10)[1] == f"the annotations file is owned by user {real}, not by this one"


@pytest.mark.parametrize("damage", [
    lambda record: "{not json",
    lambda record: json.dumps({**record, "bundle_sha256": "0" * 64}),
    lambda record: json.dumps({**record, "tags": {"t": [1, 99]}}),
    lambda record: json.dumps({**record, "tags": {"t": ["1"]}}),
    lambda record: json.dumps({**record, "format": 9}),
    lambda record: json.dumps({**record, "metadata": {"index": [0, 0], "columns": {}}}),
])
def test_a_damaged_store_is_reported_then_kept_aside_when_saving(tiny_bundle, data_dir, damage):
    file = store.save(tiny_bundle, _sample(), 10)
    file.write_text(damage(json.loads(file.read_text())))
    empty, problem = store.load(tiny_bundle, 10)
    assert empty == Annotations() and problem.startswith("the annotations file could not be read (")
    store.save(tiny_bundle, _sample(), 10)
    assert store.load(tiny_bundle, 10)[1] is None
    assert len(list(data_dir.glob("*.damaged-*.json"))) == 1  # the damaged one kept, not lost


def test_a_link_in_place_of_the_store_is_refused(tiny_bundle, data_dir, tmp_path):
    file = store.save(tiny_bundle, _sample(), 10)
    target = tmp_path / "elsewhere.json"
    file.rename(target)
    file.symlink_to(target)
    assert "symbolic link" in store.load(tiny_bundle, 10)[1]


def test_selections_and_tags_export_as_csv_with_names_made_safe():
    kept = store.with_group(_sample(), TAGS, "=HYPERLINK(x)", [5], 10)
    rows = list(csv.reader(io.StringIO(store.annotations_csv(kept).decode())))
    assert rows == [["kind", "name", "index"], ["selection", "odd ones", "3"], ["selection", "odd ones", "7"],
                    ["tag", "blurry", "1"], ["tag", "blurry", "2"], ["tag", "blurry", "9"],
                    ["tag", "'=HYPERLINK(x)", "5"]]
