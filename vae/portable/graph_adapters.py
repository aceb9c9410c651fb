"""Adapt an ONNX encoder/decoder pair from another framework to the bundle contract, in the graph itself.

A Keras model exported by tf2onnx takes (N, H, W, C) and returns z_mean, z_log_var and z; a JAX
one may take flat vectors in [-1, 1] and return mu and log-std side by side; a decoder may give a
Tanh output or take a spatial latent. The adapters below wrap the user's graph in a few standard
nodes (Mul, Sub, Add, Reshape, Transpose, Slice, Log, Flatten, Clip), so the bundle's graphs take
and return what every other part of VAE Lab expects: the same mapping as the PyTorch route's
(vae/portable/conventions.py). The user's names are prefixed so they cannot clash with the contract's.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import ModelProto, TensorProto, helper, numpy_helper

from vae.portable.onnx_check import GraphError
from vae.portable.spec import DECODER_INPUT, ENCODER_INPUT, ENCODER_OUTPUTS, ImportSpec

PREFIX = "source/"
OWN = "vae_lab/"  # names of the adapter's own nodes, constants and edges


def graph_inputs(model: ModelProto) -> list[onnx.ValueInfoProto]:
    """Inputs that are fed at run time (old exporters list initializers as inputs too)."""
    initializers = {t.name for t in model.graph.initializer}
    return [v for v in model.graph.input if v.name not in initializers]


def single_float_input(model: ModelProto, label: str) -> onnx.ValueInfoProto:
    inputs = graph_inputs(model)
    if len(inputs) != 1:
        raise GraphError(f"{label}: has {len(inputs)} inputs ({', '.join(v.name for v in inputs)}), expected one")
    if inputs[0].type.tensor_type.elem_type != TensorProto.FLOAT:
        raise GraphError(f"{label}: its input {inputs[0].name!r} is not float32")
    return inputs[0]


class _Builder:
    """Adapter nodes and constants, added around a prefixed copy of the user's graph."""

    def __init__(self, model: ModelProto) -> None:
        self.model = onnx.compose.add_prefix(model, PREFIX)
        self.before: list[onnx.NodeProto] = []
        self.after: list[onnx.NodeProto] = []
        self.count = 0

    def const(self, values: float | list[float] | list[int], dtype: type) -> str:
        name = f"{OWN}const{self.count}"
        self.count += 1
        self.model.graph.initializer.append(numpy_helper.from_array(np.array(values, dtype=dtype), name))
        return name

    def node(self, where: list[onnx.NodeProto], op: str, inputs: list[str], output: str | None = None,
             **attrs: object) -> str:
        output = output or f"{OWN}{op.lower()}{self.count}"
        self.count += 1
        where.append(helper.make_node(op, inputs, [output], name=f"{OWN}{op}{self.count}", **attrs))
        return output

    def finish(self, new_input: onnx.ValueInfoProto, replaced_input: str,
               outputs: list[onnx.ValueInfoProto]) -> ModelProto:
        graph = self.model.graph
        nodes = [*self.before, *graph.node, *self.after]
        del graph.node[:]
        graph.node.extend(nodes)
        kept = [v for v in graph.input if v.name != replaced_input]
        del graph.input[:]
        graph.input.extend([new_input, *kept])
        del graph.output[:]
        graph.output.extend(outputs)
        return self.model


def _image_value(name: str, spec: ImportSpec) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, ["N", *spec.input_shape])


def adapt_encoder(model: ModelProto, spec: ImportSpec, label: str, outputs: tuple[str, str] | None) -> ModelProto:
    """images (N, C, H, W) in [0, 1] -> mu, logvar (N, D), around the user's encoder; `outputs` names
    its mu and spread outputs (None: one output holding both side by side along dim 1)."""
    source_input = PREFIX + single_float_input(model, label).name
    latent_dim = spec.latent_dim
    b = _Builder(model)
    x = ENCODER_INPUT
    if spec.input_range == "symmetric":
        x = b.node(b.before, "Sub", [b.node(b.before, "Mul", [x, b.const([2.0], np.float32)]),
                                     b.const([1.0], np.float32)])
    if spec.input_layout == "flat":
        x = b.node(b.before, "Reshape", [x, b.const([-1, int(np.prod(spec.input_shape))], np.int64)])
    elif spec.input_layout == "nhwc":
        x = b.node(b.before, "Transpose", [x], perm=[0, 2, 3, 1])
    b.node(b.before, "Identity", [x], source_input)
    if outputs is not None:
        mu, second = (PREFIX + name for name in outputs)
    else:  # mu and the second parameter side by side along dim 1, (N, 2D) or (N, 2C, h, w)
        half = spec.latent_shape[0]
        axis = b.const([1], np.int64)
        out = PREFIX + model.graph.output[0].name
        mu = b.node(b.after, "Slice", [out, b.const([0], np.int64), b.const([half], np.int64), axis])
        second = b.node(b.after, "Slice", [out, b.const([half], np.int64), b.const([2 * half], np.int64), axis])
    if spec.posterior == "std":
        second = b.node(b.after, "Log", [second])
    if spec.posterior in ("std", "log_std"):
        second = b.node(b.after, "Mul", [second, b.const([2.0], np.float32)])
    b.node(b.after, "Flatten", [mu], ENCODER_OUTPUTS[0], axis=1)
    b.node(b.after, "Flatten", [second], ENCODER_OUTPUTS[1], axis=1)
    values = [helper.make_tensor_value_info(name, TensorProto.FLOAT, ["N", latent_dim]) for name in ENCODER_OUTPUTS]
    return b.finish(_image_value(ENCODER_INPUT, spec), source_input, values)


def adapt_decoder(model: ModelProto, spec: ImportSpec, label: str, output: str) -> ModelProto:
    """z (N, D) -> (N, C, H, W) logits, or pixel values in [0, 1] for every other output kind, around
    the user's decoder (its output `output`)."""
    source_input = PREFIX + single_float_input(model, label).name
    out = PREFIX + output
    b = _Builder(model)
    z = DECODER_INPUT
    if len(spec.latent_shape) > 1:
        z = b.node(b.before, "Reshape", [z, b.const([-1, *spec.latent_shape], np.int64)])
    b.node(b.before, "Identity", [z], source_input)
    c, h, w = spec.input_shape
    if spec.input_layout == "nhwc":
        out = b.node(b.after, "Transpose", [b.node(b.after, "Reshape", [out, b.const([-1, h, w, c], np.int64)])],
                     perm=[0, 3, 1, 2])
    images = b.node(b.after, "Reshape", [out, b.const([-1, c, h, w], np.int64)])
    if spec.decoder_output == "symmetric":
        half = b.const([0.5], np.float32)
        images = b.node(b.after, "Add", [b.node(b.after, "Mul", [images, half]), half])
    if spec.decoder_output == "logits":
        b.node(b.after, "Identity", [images], spec.bundle_output)
    else:
        b.node(b.after, "Clip", [images, b.const(0.0, np.float32), b.const(1.0, np.float32)], spec.bundle_output)
    z_value = helper.make_tensor_value_info(DECODER_INPUT, TensorProto.FLOAT, ["N", spec.latent_dim])
    return b.finish(z_value, source_input, [_image_value(spec.bundle_output, spec)])
