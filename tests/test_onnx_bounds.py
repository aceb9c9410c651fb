"""Hostile ONNX graphs are bounded: in what they read, how long they run, and how much they allocate."""

from __future__ import annotations

from vae.bundle import read as bundle_read

from .test_portable_bundle import _externalise, problems, rewrite


def test_external_data_swapped_after_its_checksum_never_reaches_onnxruntime(portable_bundle, monkeypatch):
    _externalise(portable_bundle, "weights.bin")
    verified = (portable_bundle / "weights.bin").read_bytes()
    rewrite(portable_bundle, "weights.bin", verified)
    read_verified = bundle_read._read_verified

    def then_swap(path, config, found):
        data = read_verified(path, config, found)
        (path / "weights.bin").write_bytes(bytes(reversed(verified)))  # same size, other weights
        return data

    monkeypatch.setattr(bundle_read, "_read_verified", then_swap)
    assert "external data 'weights.bin': checksum does not match config.json" in problems(portable_bundle)
