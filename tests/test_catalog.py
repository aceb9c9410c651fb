"""Listing bundles is cheap: it reads each bundle's config.json and nothing else."""

import sys
from pathlib import Path

import pytest

from vae.bundle import load_bundle
from vae.bundle.catalog import fingerprint, scan

_watching: list[list[str]] = []


def _audit(event: str, args: tuple) -> None:
    if _watching and event == "open" and isinstance(args[0], str | bytes | Path):
        _watching[-1].append(str(args[0] if not isinstance(args[0], bytes) else args[0].decode()))


sys.addaudithook(_audit)  # audit hooks cannot be removed: this one records only inside `files_opened`


def files_opened(fn, *args):
    """The files `fn(*args)` opens (every `open` of Python and os.open), and what it returns."""
    _watching.append([])
    try:
        result = fn(*args)
    finally:
        opened = _watching.pop()
    return opened, result


def test_listing_reads_only_config_json(tiny_bundle: Path):
    opened, entries = files_opened(scan, [tiny_bundle.parent])
    assert [e.path.name for e in entries] == ["tiny"] and entries[0].valid
    assert [Path(p).name for p in opened if Path(p).is_relative_to(tiny_bundle)] == ["config.json"]
    # the same watch sees a full load open the weights and arrays
    opened, _ = files_opened(load_bundle, tiny_bundle)
    assert {"model.safetensors", "latents.npz", "test_images.npz"} <= {Path(p).name for p in opened}


def test_listing_finds_a_truncated_file_by_its_size_alone(tiny_bundle: Path):
    weights = tiny_bundle / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    opened, entries = files_opened(scan, [tiny_bundle.parent])
    assert not entries[0].valid and "truncated" in entries[0].problems[0]
    assert [Path(p).name for p in opened if Path(p).is_relative_to(tiny_bundle)] == ["config.json"]


@pytest.mark.parametrize("change", ["rewrite", "add"])
def test_the_fingerprint_changes_with_any_file_and_reads_none(tiny_bundle: Path, change: str):
    before = fingerprint(tiny_bundle)
    opened, _ = files_opened(fingerprint, tiny_bundle)
    assert opened == []
    if change == "rewrite":
        (tiny_bundle / "latents.npz").write_bytes((tiny_bundle / "latents.npz").read_bytes() + b"\0")
    else:
        (tiny_bundle / "notes.txt").write_text("x")
    assert fingerprint(tiny_bundle) != before
