"""Validate an ONNX graph before anything runs it: the file, the operators, the external data, the interface.

ONNX is data, but a graph may still ask for things VAE Lab refuses: operators from a custom
domain (they would need a shared library), external-data files outside the folder the graph
came from, or a size no VAE needs. Every refusal is a `GraphError` with a one-line reason.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import onnx
from google.protobuf.message import DecodeError
from onnx import AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto, helper, numpy_helper
from onnx.external_data_helper import ExternalDataInfo, uses_external_data

from vae.files import NotARegularFile, read_regular

MAX_GRAPH_BYTES = 512 * 2**20  # the graph file, and separately all its external data together
MAX_LOOP_TRIPS = 10_000  # iterations of a Loop or Scan, those of loops inside loops multiplied
MAX_VALUE_BYTES = 256 * 2**20  # any one tensor a graph computes for a batch of one image
# Operators whose output size is read from a tensor's values (a shape, repeats, pads, a range's ends):
# shape inference must fix it, or a small file could ask for any amount of memory.
SIZE_FROM_VALUES = frozenset({"ConstantOfShape", "Expand", "Tile", "Range", "Resize", "Upsample", "Pad",
                              "OneHot", "EyeLike", "CenterCropPad"})
MIN_OPSET = 10  # Slice with inputs, which the graph adapters use, arrived in opset 10
MAX_OPSET = onnx.defs.onnx_opset_version()
STANDARD_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml"})


class GraphError(ValueError):
    """An ONNX graph VAE Lab will not run; the message is one line."""


def _subgraphs(graph: GraphProto) -> Iterator[GraphProto]:
    """The graph and, recursively, the bodies of its If / Loop / Scan nodes."""
    yield graph
    for node in graph.node:
        for attr in node.attribute:
            if attr.type == AttributeProto.GRAPH:
                yield from _subgraphs(attr.g)
            elif attr.type == AttributeProto.GRAPHS:
                for sub in attr.graphs:
                    yield from _subgraphs(sub)


def _tensors(model: ModelProto) -> Iterator[TensorProto]:
    """Every stored tensor: initializers and tensor-valued attributes, in every subgraph."""
    for graph in _subgraphs(model.graph):
        yield from graph.initializer
        for sparse in graph.sparse_initializer:
            yield sparse.values
            yield sparse.indices
        for node in graph.node:
            for attr in node.attribute:
                if attr.type == AttributeProto.TENSOR:
                    yield attr.t
                elif attr.type == AttributeProto.TENSORS:
                    yield from attr.tensors


def read_graph(path: Path, label: str) -> ModelProto:
    """Parse a graph file (regular, size-bounded); external data is not read here."""
    if path.is_symlink() or not path.is_file():
        raise GraphError(f"{label}: not a regular file")
    size = path.stat().st_size
    if size > MAX_GRAPH_BYTES:
        raise GraphError(f"{label}: {size >> 20} MB, more than the {MAX_GRAPH_BYTES >> 20} MB limit")
    return parse_graph(path.read_bytes(), label)


def parse_graph(data: bytes, label: str) -> ModelProto:
    try:
        model = onnx.load_model_from_string(data)
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise GraphError(f"{label}: not an ONNX model (truncated or not protobuf: {exc})") from exc
    if not model.graph.node or not model.graph.output:
        raise GraphError(f"{label}: the graph has no nodes or no outputs (truncated or empty)")
    return model


def check_operators(model: ModelProto, label: str) -> None:
    """Standard operator domains only, and a default-domain opset this runtime knows."""
    imported = {o.domain: o.version for o in model.opset_import}
    custom = sorted(d for d in imported if d not in STANDARD_DOMAINS)
    if custom:
        raise GraphError(f"{label}: imports custom operator domain {custom[0]!r} (only standard ONNX operators run)")
    if model.functions:
        raise GraphError(f"{label}: defines local functions ({model.functions[0].name}); inline them first")
    opset = imported.get("", imported.get("ai.onnx"))
    if opset is None or not MIN_OPSET <= opset <= MAX_OPSET:
        raise GraphError(f"{label}: opset {opset} is not supported (use {MIN_OPSET}..{MAX_OPSET})")
    for graph in _subgraphs(model.graph):
        for node in graph.node:
            if node.domain not in STANDARD_DOMAINS:
                raise GraphError(f"{label}: node {node.name or node.op_type!r} uses operator {node.op_type!r} "
                                 f"from custom domain {node.domain!r} (only standard ONNX operators run)")


def load_external_data(model: ModelProto, folder: Path, label: str,
                       listed: Mapping[str, Mapping[str, object]] | None = None) -> None:
    """Read external tensor data into the model, refusing any file outside `folder`.

    Each file must be a regular file (no symlink) directly inside `folder`, and, when `listed` is given
    (a bundle's file records), one of its names with the recorded size and SHA-256. Each file is read
    once and its tensors are cut from those very bytes: a file swapped after its check never reaches
    onnxruntime.
    """
    root = folder.resolve()
    contents: dict[str, bytes] = {}
    total = 0
    for tensor in _tensors(model):
        if not uses_external_data(tensor):
            continue
        info = ExternalDataInfo(tensor)
        location = str(info.location)
        inside = (location and not os.path.isabs(location) and ".." not in Path(location).parts
                  and (root / location).resolve().parent == root)
        if not inside or (listed is not None and location not in listed):
            raise GraphError(f"{label}: tensor {tensor.name!r} points to external data {location!r} "
                             f"outside the model's folder (refused)")
        if location not in contents:
            budget = MAX_GRAPH_BYTES - sum(map(len, contents.values()))
            contents[location] = _read_external(root / location, location, label, budget,
                                                None if listed is None else listed[location])
        data = contents[location]
        offset = int(info.offset or 0)
        length = int(info.length) if info.length else len(data) - offset
        if offset < 0 or length < 0 or offset + length > len(data):
            raise GraphError(f"{label}: external data {location!r} is shorter than its tensors say (truncated)")
        total += length
        if total > MAX_GRAPH_BYTES:
            raise GraphError(f"{label}: external data larger than {MAX_GRAPH_BYTES >> 20} MB")
        tensor.raw_data = data[offset:offset + length]
        del tensor.external_data[:]
        tensor.data_location = TensorProto.DEFAULT


def _read_external(file: Path, location: str, label: str, budget: int,
                   record: Mapping[str, object] | None) -> bytes:
    """One external-data file's bytes (regular, within `budget`), checked against its record when given."""
    try:
        data = read_regular(file, budget)
    except FileNotFoundError as exc:
        raise GraphError(f"{label}: external data {location!r} is missing") from exc
    except NotARegularFile as exc:  # a link, a pipe, or more than the graph's external-data bound
        raise GraphError(f"{label}: external data refused ({exc}; at most {MAX_GRAPH_BYTES >> 20} MB "
                         f"in regular files)") from exc
    except OSError as exc:
        raise GraphError(f"{label}: external data {location!r} cannot be read ({exc.strerror or exc})") from exc
    if record is not None and (len(data) != record.get("bytes")
                               or hashlib.sha256(data).hexdigest() != record.get("sha256")):
        raise GraphError(f"{label}: external data {location!r}: checksum does not match config.json "
                         f"(corrupt or replaced)")
    return data


def _static_shape(value: onnx.ValueInfoProto) -> list[int | None] | None:
    """A graph input's or output's dims (None where symbolic), or None when it declares no shape."""
    kind = value.type.tensor_type
    if not kind.HasField("shape"):
        return None
    return [d.dim_value if d.HasField("dim_value") else None for d in kind.shape.dim]


def check_interface(model: ModelProto, label: str, inputs: dict[str, list[int | None]],
                    outputs: dict[str, list[int | None]]) -> None:
    """Exactly these float32 inputs and outputs; declared static dims must equal the expected ones."""
    initializers = {t.name for t in model.graph.initializer}
    actual_inputs = [v for v in model.graph.input if v.name not in initializers]
    for role, actual, expected in (("inputs", actual_inputs, inputs), ("outputs", model.graph.output, outputs)):
        names = [v.name for v in actual]
        if sorted(names) != sorted(expected):
            raise GraphError(f"{label}: {role} are {names}, expected {list(expected)}")
        for value in actual:
            if value.type.tensor_type.elem_type != TensorProto.FLOAT:
                raise GraphError(f"{label}: {value.name!r} is not float32")
            shape, want = _static_shape(value), expected[value.name]
            if shape is None:
                continue
            if len(shape) != len(want) or any(s is not None and w is not None and s != w
                                               for s, w in zip(shape, want, strict=False)):
                shown = ["?" if s is None else s for s in shape]
                raise GraphError(f"{label}: {value.name!r} has shape {shown}, expected "
                                 f"{['N' if w is None else w for w in want]}")


def check_graph(model: ModelProto, label: str) -> None:
    """Operators, then ONNX's own structural checker (types, topological order, attributes)."""
    check_operators(model, label)
    try:
        onnx.checker.check_model(model)
    except (onnx.checker.ValidationError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise GraphError(f"{label}: not a valid ONNX graph ({first})") from exc


def check_bounds(model: ModelProto, label: str, inputs: dict[str, tuple[int, ...]] | None = None) -> None:
    """Refuse what no bound holds: Loop and Scan trip counts not fixed or above MAX_LOOP_TRIPS, tensors
    over MAX_VALUE_BYTES, sizes read from values shape inference cannot fix.

    `inputs` are the graph inputs' shapes for one image (default: as declared, 1 where symbolic); ONNX's
    shape inference, with data propagation (shape arithmetic followed through Shape, Gather, Concat...),
    then sizes every value the graph makes.
    """
    if inputs is None:
        declared = {v.name: _static_shape(v) for v in model.graph.input}
        inputs = {name: tuple(d or 1 for d in shape) for name, shape in declared.items() if shape is not None}
    inferred = _infer_shapes(model, label, inputs)
    _check_loops(inferred.graph, label, 1, {})
    for graph in _subgraphs(inferred.graph):
        values = {v.name: v for v in (*graph.value_info, *graph.output)}
        for node in graph.node:
            for output in node.output:
                _check_value(node, output, values.get(output), label)


def _infer_shapes(model: ModelProto, label: str, inputs: dict[str, tuple[int, ...]]) -> ModelProto:
    """A copy of `model` with its inputs fixed to `inputs` and every value's inferred shape in value_info."""
    fixed = ModelProto()
    fixed.CopyFrom(model)
    for value in fixed.graph.input:
        if value.name in inputs:
            value.type.tensor_type.shape.Clear()
            for size in inputs[value.name]:
                value.type.tensor_type.shape.dim.add().dim_value = size
    try:
        return onnx.shape_inference.infer_shapes(fixed, check_type=False, strict_mode=False, data_prop=True)
    except (onnx.shape_inference.InferenceError, ValueError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise GraphError(f"{label}: its shapes cannot be inferred ({first})") from exc


def _check_value(node: NodeProto, output: str, value: onnx.ValueInfoProto | None, label: str) -> None:
    """One computed tensor: a size fixed by inference where values set it, and at most MAX_VALUE_BYTES."""
    shape = _static_shape(value) if value is not None else None
    what = f"{node.op_type} node {node.name or output!r}"
    if node.op_type in SIZE_FROM_VALUES and (shape is None or None in shape):
        raise GraphError(f"{label}: {what} makes a tensor whose size depends on the input values "
                         f"(refused: nothing would bound the memory it takes)")
    known = [d for d in shape or [] if d is not None]
    if not known:
        return
    size = math.prod(known) * _itemsize(value.type.tensor_type.elem_type)
    if size > MAX_VALUE_BYTES:
        raise GraphError(f"{label}: {what} makes a tensor of {_megabytes(size)} for one image, more than "
                         f"the {MAX_VALUE_BYTES >> 20} MB limit")


def _itemsize(elem_type: int) -> int:
    try:
        return helper.tensor_dtype_to_np_dtype(elem_type).itemsize
    except (KeyError, ValueError, TypeError):  # undefined, or a type numpy has no size for
        return 1


def _megabytes(size: int) -> str:
    return f"{size / 2**20:,.0f} MB" if size < 2**60 else f"2^{size.bit_length() - 1} bytes"


def _constants(graph: GraphProto, outer: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Values fixed in the graph (initializers, Constant nodes), with those of the enclosing graphs."""
    found = dict(outer)
    for tensor in graph.initializer:
        if tensor.data_type == TensorProto.INT64 and len(tensor.dims) <= 1:
            found[tensor.name] = numpy_helper.to_array(tensor)
    for node in graph.node:
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
            for attr in node.attribute:
                if attr.name == "value" and attr.type == AttributeProto.TENSOR:
                    found[node.output[0]] = numpy_helper.to_array(attr.t)
                elif attr.name in ("value_int", "value_ints"):
                    found[node.output[0]] = np.array(helper.get_attribute_value(attr))
    return found


def _trips(node: NodeProto, constants: dict[str, np.ndarray], shapes: dict[str, list[int | None] | None],
           label: str) -> int:
    """How many times a Loop or Scan node runs its body; GraphError when the graph does not fix it."""
    what = f"{node.op_type} node {node.name or node.output[0]!r}"
    if node.op_type == "Loop":
        count = constants.get(node.input[0]) if node.input and node.input[0] else None
        if count is None or count.size != 1:
            raise GraphError(f"{label}: {what} has no trip count fixed in the graph (refused: it could run for ever)")
        return max(0, int(count.reshape(-1)[0]))
    n_scanned = helper.get_attribute_value(next(a for a in node.attribute if a.name == "num_scan_inputs"))
    axes = next((list(a.ints) for a in node.attribute if a.name == "scan_input_axes"), [0] * n_scanned)
    lengths = []
    for name, axis in zip(node.input[len(node.input) - n_scanned:], axes, strict=False):
        shape = shapes.get(name)
        if shape is None or not -len(shape) <= axis < len(shape) or shape[axis] is None:
            raise GraphError(f"{label}: {what} scans a tensor whose length the graph does not fix (refused)")
        lengths.append(shape[axis])
    return max(lengths, default=0)


def _check_loops(graph: GraphProto, label: str, outer_trips: int, outer: dict[str, np.ndarray]) -> None:
    """Loop and Scan trip counts, those of nested loops multiplied, against MAX_LOOP_TRIPS."""
    constants = _constants(graph, outer)
    shapes = {v.name: _static_shape(v) for v in (*graph.input, *graph.value_info, *graph.output)}
    for node in graph.node:
        trips = outer_trips
        if node.op_type in ("Loop", "Scan"):
            trips = outer_trips * _trips(node, constants, shapes, label)
            if trips > MAX_LOOP_TRIPS:
                raise GraphError(f"{label}: {node.op_type} node {node.name or node.output[0]!r} runs its body "
                                 f"{trips:,} times, more than the {MAX_LOOP_TRIPS:,} allowed")
        for attr in node.attribute:
            for body in ([attr.g] if attr.type == AttributeProto.GRAPH else list(attr.graphs)):
                _check_loops(body, label, trips, constants)
