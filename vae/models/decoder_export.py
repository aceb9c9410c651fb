"""The decoder as a small ONNX model a browser can run, so a slider step needs no server round trip.

Through Streamlit, every slider step costs the browser ~30 ms of main-thread work (a rerun's
render) and the server a script run; with ten users on one small machine that contention doubled
step latency. onnxruntime-web (WebAssembly, SIMD) runs the shipped 16-D conv decoder (~8 M
multiply-adds) in ~1 ms, 10-30x faster than the hand-written JavaScript interpreter it replaced
(bench/browser_decode.py). The model is written here from `model.decoder_layers()` with
`onnx.helper` (~0.1 s for the shipped model) rather than by `torch.onnx.export` (~4 s, and
onnxscript, on the first slider touch). Supported layers: Linear, Conv2d, ConvTranspose2d (zero
padding), ReLU, SiLU, ELU and Unflatten; anything else raises `UnsupportedLayer`, and the explorer
decodes on the server.

The contract the browser reads (pages/explore/live_decoder.py's `browser_decoder`): one input `z`,
(N, latent_dim) float32; one output `probs`, (N, C, H, W) float32 pixel means in [0, 1]. The
`onnx` package is imported when a decoder is exported, not with this module (~0.1 s).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from vae.models import VAE
from vae.models.inference import model_device

INPUT = "z"
OUTPUT = "probs"
OPSET = 17
IR_VERSION = 8  # opset 17's IR: onnxruntime(-web) builds older than the onnx package still read it
SUPPORTED = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d, nn.ReLU, nn.SiLU, nn.ELU, nn.Unflatten)


class UnsupportedLayer(ValueError):
    """The decoder has a layer the export cannot express."""


class _Graph:
    """ONNX nodes and initializers, added one layer at a time."""

    def __init__(self, weights_dtype: str) -> None:
        from onnx import TensorProto, helper, numpy_helper

        self.helper, self.numpy_helper, self.float = helper, numpy_helper, TensorProto.FLOAT
        self.weights_dtype, self.nodes, self.initializers = weights_dtype, [], []

    def node(self, kind: str, inputs: list[str], output: str, **attributes) -> str:
        self.nodes.append(self.helper.make_node(kind, [i for i in inputs if i], [output], **attributes))
        return output

    def weight(self, tensor: torch.Tensor | None) -> str:
        """An initializer holding `tensor` as float32 ('' for None): stored as float16, then cast.

        float16 halves what the browser is sent (at most a grey level off, tests say); onnxruntime
        folds the cast into a float32 constant when it loads the model.
        """
        if tensor is None:
            return ""
        name = f"w{len(self.initializers)}"
        value = tensor.detach().float().cpu().numpy()
        if self.weights_dtype == "float32":
            self.initializers.append(self.numpy_helper.from_array(value, name))
            return name
        self.initializers.append(self.numpy_helper.from_array(value.astype(self.weights_dtype), f"{name}_stored"))
        return self.node("Cast", [f"{name}_stored"], name, to=self.float)

    def constant(self, value: np.ndarray) -> str:
        name = f"c{len(self.initializers)}"
        self.initializers.append(self.numpy_helper.from_array(value, name))
        return name


def _add_layer(graph: _Graph, layer: nn.Module, x: str, out_shape: tuple[int, ...], y: str) -> None:
    """Append `layer` (one of SUPPORTED) applied to tensor `x` as ONNX nodes whose result is named `y`."""
    if isinstance(layer, nn.Linear):
        graph.node("Gemm", [x, graph.weight(layer.weight), graph.weight(layer.bias)], y, transB=1)
    elif isinstance(layer, nn.Conv2d | nn.ConvTranspose2d):  # weight layouts are PyTorch's
        if layer.padding_mode != "zeros" or isinstance(layer.padding, str):
            raise UnsupportedLayer(f"{type(layer).__name__} with padding_mode={layer.padding_mode!r} or "
                                   f"padding={layer.padding!r} is not supported")
        attributes = {"kernel_shape": list(layer.kernel_size), "strides": list(layer.stride),
                      "dilations": list(layer.dilation), "group": layer.groups, "pads": list(layer.padding) * 2}
        kind = "Conv"
        if isinstance(layer, nn.ConvTranspose2d):
            kind, attributes["output_padding"] = "ConvTranspose", list(layer.output_padding)
        graph.node(kind, [x, graph.weight(layer.weight), graph.weight(layer.bias)], y, **attributes)
    elif isinstance(layer, nn.ReLU):
        graph.node("Relu", [x], y)
    elif isinstance(layer, nn.SiLU):  # x * sigmoid(x): opset 17 has no SiLU
        graph.node("Mul", [x, graph.node("Sigmoid", [x], f"{y}_gate")], y)
    elif isinstance(layer, nn.ELU):
        graph.node("Elu", [x], y, alpha=float(layer.alpha))
    else:
        graph.node("Reshape", [x, graph.constant(np.array([-1, *out_shape], np.int64))], y)


@torch.no_grad()
def export_decoder(model: VAE, weights_dtype: str = "float16") -> bytes:
    """`model.decode` as a serialized ONNX model built from `model.decoder_layers()`.

    Raises `UnsupportedLayer` for a layer outside the list above. `weights_dtype` "float32" keeps
    the weights exact; "float16" (the default) halves the model's size.
    """
    from onnx import TensorProto, helper

    graph = _Graph(weights_dtype)
    x = torch.zeros(1, model.latent_dim, device=model_device(model))  # (1, D): gives each shape
    name = INPUT
    for index, layer in enumerate(model.decoder_layers()):
        if not isinstance(layer, SUPPORTED):
            raise UnsupportedLayer(f"the browser cannot run a {type(layer).__name__} layer")
        if isinstance(layer, nn.Linear) and x.dim() != 2:
            raise UnsupportedLayer("a Linear layer on an image-shaped input is not supported")
        x = layer(x)
        _add_layer(graph, layer, name, tuple(x.shape[1:]), f"x{index}")
        name = f"x{index}"
    if tuple(x.shape[1:]) != tuple(model.config.input_shape):
        raise UnsupportedLayer(f"decoder layers end in shape {list(x.shape[1:])}, not the image shape")
    graph.node("Sigmoid", [name], OUTPUT)
    onnx_graph = helper.make_graph(
        graph.nodes, "decoder", [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, ["N", model.latent_dim])],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["N", *x.shape[1:]])], graph.initializers)
    onnx_model = helper.make_model(onnx_graph, producer_name="vae-lab",
                                   opset_imports=[helper.make_opsetid("", OPSET)])
    onnx_model.ir_version = IR_VERSION
    return onnx_model.SerializeToString()
