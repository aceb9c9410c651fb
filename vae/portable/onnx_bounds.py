"""Bound what an ONNX graph may take before it runs: loop trips, and the size of every tensor it makes.

A small file can still ask for any amount of time (a Loop of 2^63 trips) or memory (a ConstantOfShape
of 2^28 floats). ONNX's shape inference sizes every value for one image; what it cannot fix is refused.
"""

from __future__ import annotations

import math

import numpy as np
import onnx
from onnx import AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto, helper, numpy_helper

from vae.portable.onnx_check import GraphError, first_line, static_shape, subgraphs

MAX_LOOP_TRIPS = 10_000  # iterations of a Loop or Scan, those of loops inside loops multiplied
MAX_VALUE_BYTES = 256 * 2**20  # any one tensor a graph computes for a batch of one image
# Operators whose output size is read from a tensor's values (a shape, repeats, pads, a range's ends):
# shape inference must fix it, or a small file could ask for any amount of memory.
SIZE_FROM_VALUES = frozenset({"ConstantOfShape", "Expand", "Tile", "Range", "Resize", "Upsample", "Pad",
                              "OneHot", "EyeLike", "CenterCropPad"})


def check_bounds(model: ModelProto, label: str, inputs: dict[str, tuple[int, ...]] | None = None) -> None:
    """Refuse what no bound holds: Loop and Scan trip counts not fixed or above MAX_LOOP_TRIPS, tensors
    over MAX_VALUE_BYTES, sizes read from values shape inference cannot fix.

    `inputs` are the graph inputs' shapes for one image (default: as declared, 1 where symbolic); ONNX's
    shape inference, with data propagation (shape arithmetic followed through Shape, Gather, Concat...),
    then sizes every value the graph makes.
    """
    if inputs is None:
        declared = {v.name: static_shape(v) for v in model.graph.input}
        inputs = {name: tuple(d or 1 for d in shape) for name, shape in declared.items() if shape is not None}
    inferred = _infer_shapes(model, label, inputs)
    _check_loops(inferred.graph, label, 1, {})
    for graph in subgraphs(inferred.graph):
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
        raise GraphError(f"{label}: its shapes cannot be inferred ({first_line(exc)})") from exc


def _check_value(node: NodeProto, output: str, value: onnx.ValueInfoProto | None, label: str) -> None:
    """One computed tensor: a size fixed by inference where values set it, and at most MAX_VALUE_BYTES."""
    shape = static_shape(value) if value is not None else None
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
    shapes = {v.name: static_shape(v) for v in (*graph.input, *graph.value_info, *graph.output)}
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
