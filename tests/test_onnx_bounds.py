"""Hostile ONNX graphs are bounded: in what they read, how long they run, and how much they allocate."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from streamlit.testing.v1 import AppTest

from vae.bundle import load_bundle
from vae.bundle import read as bundle_read
from vae.portable import first_run, runtime

from .conftest import page_script
from .test_portable_bundle import _externalise, problems, rewrite
from .test_portable_import import images_npz, mlp_pair, onnx_args, refused, write_spec  # noqa: F401 (fixture)

NEVER_ENDING = 2**63 - 1
ZERO = numpy_helper.from_array(np.zeros(1, np.float32))


def _const(name: str, values, dtype) -> onnx.NodeProto:
    return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(np.array(values, dtype=dtype)))


def _feeding_the_output(path: Path, nodes: list[onnx.NodeProto], extra: str) -> bytes:
    """The decoder with `nodes` added and their float output `extra` (any shape) added to the logits times 0,
    so onnxruntime must compute it on every decode."""
    graph = onnx.load(path)
    out = graph.graph.output[0].name
    for node in graph.graph.node:
        node.output[:] = [f"{o}_inner" if o == out else o for o in node.output]
    graph.graph.node.extend([*nodes, _const("zero", 0.0, np.float32),
                             helper.make_node("ReduceSum", [extra], ["extra_sum"], keepdims=0),
                             helper.make_node("Mul", ["extra_sum", "zero"], ["extra_zero"]),
                             helper.make_node("Add", [f"{out}_inner", "extra_zero"], [out])])
    return graph.SerializeToString()


def _loop(trips: int, body_nodes: list[onnx.NodeProto], carried: str) -> list[onnx.NodeProto]:
    """A Loop of `trips` iterations carrying a float tensor `carried` through `body_nodes` (v_in -> v_out)."""
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]), *body_nodes], "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_in", TensorProto.FLOAT, None)],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_out", TensorProto.FLOAT, None)])
    return [_const("trips", trips, np.int64), _const("go", True, np.bool_),
            helper.make_node("Loop", ["trips", "go", carried], ["looped"], body=body, name="spin")]


def test_a_loop_of_2_63_trips_is_refused_before_anything_runs(portable_bundle):
    nodes = _spinning("z")
    rewrite(portable_bundle, "decoder.onnx", _feeding_the_output(portable_bundle / "decoder.onnx", nodes, "looped"))
    started = time.monotonic()
    assert f"Loop node 'spin' runs its body {NEVER_ENDING:,} times, more than the 10,000" in problems(portable_bundle)
    assert time.monotonic() - started < 10


def _spinning(source: str) -> list[onnx.NodeProto]:
    """A Loop of 2^63 - 1 trips whose start depends on the graph input `source`."""
    step = [_const("one", 1.0, np.float32), helper.make_node("Add", ["v_in", "one"], ["v_out"])]
    return [helper.make_node("ReduceMax", [source], ["start"], keepdims=0), *_loop(NEVER_ENDING, step, "start")]


@pytest.mark.parametrize("graph", ["enc.onnx", "dec.onnx"])
def test_vae_lab_import_refuses_a_never_ending_loop_in_either_graph(tmp_path, images_npz, capsys, graph):  # noqa: F811
    mlp_pair(tmp_path)
    write_spec(tmp_path)
    source = "x" if graph == "enc.onnx" else "z"
    (tmp_path / graph).write_bytes(_feeding_the_output(tmp_path / graph, _spinning(source), "looped"))
    out = tmp_path / "checkpoints" / "x"
    err = refused(onnx_args(tmp_path, images_npz, out), capsys, out)
    assert f"spin' runs its body {NEVER_ENDING:,} times" in err  # named 'source/spin' once adapted


def test_a_loop_without_a_fixed_trip_count_is_refused(portable_bundle):
    step = [_const("one", 1.0, np.float32), helper.make_node("Add", ["v_in", "one"], ["v_out"])]
    nodes = [helper.make_node("ReduceMax", ["z"], ["start"], keepdims=0), *_loop(3, step, "start")]
    graph = onnx.load_model_from_string(_feeding_the_output(portable_bundle / "decoder.onnx", nodes, "looped"))
    loop = next(n for n in graph.graph.node if n.op_type == "Loop")
    loop.input[0] = ""  # runs while its condition holds, which is always
    rewrite(portable_bundle, "decoder.onnx", graph.SerializeToString())
    assert "Loop node 'spin' has no trip count fixed in the graph" in problems(portable_bundle)


def test_a_small_file_asking_for_a_gigabyte_per_decode_is_refused(portable_bundle):
    nodes = [_const("big_shape", [2**28], np.int64),
             helper.make_node("ConstantOfShape", ["big_shape"], ["big"], name="gigabyte", value=ZERO)]
    data = _feeding_the_output(portable_bundle / "decoder.onnx", nodes, "big")
    assert len(data) < 2**20
    rewrite(portable_bundle, "decoder.onnx", data)
    assert "ConstantOfShape node 'gigabyte' makes a tensor of 1,024 MB for one image, more than the 256 MB" \
        in problems(portable_bundle)


def test_a_size_read_from_the_decoded_values_is_refused(portable_bundle):
    """z's largest value times 2^30 elements: nothing but the input bounds it, so inference cannot."""
    nodes = [helper.make_node("ReduceMax", ["z"], ["top"], keepdims=1, axes=None),
             _const("scale", [2.0**30], np.float32), helper.make_node("Mul", ["top", "scale"], ["scaled"]),
             helper.make_node("Cast", ["scaled"], ["count"], to=TensorProto.INT64),
             helper.make_node("ConstantOfShape", ["count"], ["grown"], name="grow", value=ZERO)]
    rewrite(portable_bundle, "decoder.onnx", _feeding_the_output(portable_bundle / "decoder.onnx", nodes, "grown"))
    assert "ConstantOfShape node 'grow' makes a tensor whose size depends on the input values" \
        in problems(portable_bundle)


def _busy_loop(source: str) -> list[onnx.NodeProto]:
    """Within every static bound (10,000 trips of a 512 x 512 MatMul), yet minutes of work."""
    step = [helper.make_node("MatMul", ["v_in", "v_in"], ["square"]),
            helper.make_node("Tanh", ["square"], ["v_out"])]
    return [_const("side", [512, 512], np.int64),
            helper.make_node("ReduceMax", [source], ["top"], keepdims=0),
            helper.make_node("ConstantOfShape", ["side"], ["zeros"], value=ZERO),
            _const("half", 0.5, np.float32), helper.make_node("Add", ["zeros", "half"], ["halves"]),
            helper.make_node("Mul", ["halves", "top"], ["start"]), *_loop(10_000, step, "start")]


def test_a_first_run_longer_than_its_time_limit_is_stopped_in_its_child(portable_bundle, monkeypatch):
    monkeypatch.setattr(first_run, "TIMEOUT_S", 1.0)
    rewrite(portable_bundle, "decoder.onnx",
            _feeding_the_output(portable_bundle / "decoder.onnx", _busy_loop("z"), "looped"))
    started = time.monotonic()
    assert "decoder.onnx: the first test run did not end within 1 s (stopped" in problems(portable_bundle)
    assert time.monotonic() - started < 8


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


def _first_run_children() -> list[str]:
    """This process's children that are first runs (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            command = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if parent == os.getpid() and b"vae.portable.first_run" in command:
            found.append(stat.parent.name)
    return found


@pytest.fixture(autouse=True)
def _no_stray_children(monkeypatch):
    """Each test's pairs meet their first run afresh; a stopped first run leaves no process behind."""
    monkeypatch.setattr(runtime, "_PASSED_FIRST_RUN", set())
    yield
    assert not _first_run_children()


def test_the_explorer_names_a_graph_stopped_at_its_time_limit_and_opens_the_next_bundle(
        portable_bundle, tmp_path, monkeypatch):
    """The server's "Loading model…" step: the spinning bundle is refused in seconds, the other one opens."""
    usual_limit = first_run.TIMEOUT_S
    monkeypatch.setattr(first_run, "TIMEOUT_S", 1.0)
    folder = tmp_path / "bundles"
    shutil.copytree(portable_bundle, folder / "good")
    shutil.copytree(portable_bundle, folder / "spinning")
    rewrite(folder / "spinning", "decoder.onnx", _feeding_the_output(folder / "good" / "decoder.onnx",
                                                                     _busy_loop("z"), "looped"))
    monkeypatch.setenv("VAE_LAB_CHECKPOINTS", str(folder))
    at = AppTest.from_file(page_script("explore"), default_timeout=30)
    at.session_state["bundle_choice"] = "spinning"
    at.run()
    assert not at.exception and any("Cannot open spinning" in e.value for e in at.error)
    assert any("the first test run did not end within 1 s" in c.value for c in at.caption)
    monkeypatch.setattr(first_run, "TIMEOUT_S", usual_limit)  # a busy machine may take over 1 s for the good one
    at.selectbox(key="bundle_choice").set_value("good").run()
    assert not at.exception and not at.error and at.get("plotly_chart")


def _resident_bytes() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _large_intermediate(path: Path) -> bytes:
    """The decoder making a 200 MB tensor from z on each decode (under the 256 MB bound)."""
    nodes = [_const("shape", [50 * 2**20], np.int64), helper.make_node("ReduceMax", ["z"], ["top"], keepdims=0),
             helper.make_node("Expand", ["top", "shape"], ["large"])]
    return _feeding_the_output(path, nodes, "large")


def test_memory_a_decode_took_is_given_back_after_it(portable_bundle):
    """onnxruntime's arena would keep the 200 MB for ever."""
    rewrite(portable_bundle, "decoder.onnx", _large_intermediate(portable_bundle / "decoder.onnx"))
    model = load_bundle(portable_bundle).model
    before = _resident_bytes()
    model.decode(torch.zeros(2, model.latent_dim))
    assert _resident_bytes() - before < 50 * 2**20


def test_a_first_run_over_its_memory_limit_is_stopped_in_its_child(portable_bundle, monkeypatch):
    monkeypatch.setattr(first_run, "MEMORY_BYTES", 64 * 2**20)
    rewrite(portable_bundle, "decoder.onnx", _large_intermediate(portable_bundle / "decoder.onnx"))
    assert "decoder.onnx: the first test run failed (it needs more than the 64 MB a first run may take" \
        in problems(portable_bundle)
