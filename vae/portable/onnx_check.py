"""Validate an ONNX graph before anything runs it: the file, the operators, the external data, the interface
(its time and memory bounds: onnx_bounds).

ONNX is data, but a graph may still ask for things VAE Lab refuses: operators from a custom
domain (they would need a shared library), external-data files outside the folder the graph
came from, or a size no VAE needs. Every refusal is a `GraphError` with a one-line reason.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

import onnx
from google.protobuf.message import DecodeError
from onnx import AttributeProto, GraphProto, ModelProto, TensorProto
from onnx.external_data_helper import ExternalDataInfo, uses_external_data

from vae.files import NotARegularFile, read_regular

MAX_GRAPH_BYTES = 512 * 2**20  # the graph file, and separately all its external data together
MIN_OPSET = 10  # Slice with inputs, which the graph adapters use, arrived in opset 10
MAX_OPSET = onnx.defs.onnx_opset_version()
STANDARD_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml"})


class GraphError(ValueError):
    """An ONNX graph VAE Lab will not run; the message is one line."""


def first_line(exc: BaseException, limit: int = 300) -> str:
    """An error's message cut to one line for a refusal's reason (its type's name when it has none)."""
    text = str(exc).strip()
    return text.splitlines()[0][:limit] if text else type(exc).__name__


def raised(exc: BaseException, limit: int = 300) -> str:
    """The type and first line of an error raised by code that is not ours ("TypeError: ...")."""
    text = first_line(exc, limit)
    return text if text == type(exc).__name__ else f"{type(exc).__name__}: {text}"


def subgraphs(graph: GraphProto) -> Iterator[GraphProto]:
    """The graph and, recursively, the bodies of its If / Loop / Scan nodes."""
    yield graph
    for node in graph.node:
        for attr in node.attribute:
            if attr.type == AttributeProto.GRAPH:
                yield from subgraphs(attr.g)
            elif attr.type == AttributeProto.GRAPHS:
                for sub in attr.graphs:
                    yield from subgraphs(sub)


def _tensors(model: ModelProto) -> Iterator[TensorProto]:
    """Every stored tensor: initializers and tensor-valued attributes, in every subgraph."""
    for graph in subgraphs(model.graph):
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
    for graph in subgraphs(model.graph):
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


def static_shape(value: onnx.ValueInfoProto) -> list[int | None] | None:
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
            shape, want = static_shape(value), expected[value.name]
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
        raise GraphError(f"{label}: not a valid ONNX graph ({first_line(exc)})") from exc
