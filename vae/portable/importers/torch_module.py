"""Import any PyTorch VAE: the user's factory builds the module, weights come without pickled code.

The user's Python file runs here, at import time, and never again: the bundle holds the two
exported ONNX graphs. Weights are safetensors or a state dict read with `weights_only=True`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import pickle
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file
from torch import nn

from vae.portable.build import ImportRefused, call_user_code, portable_from_torch
from vae.portable.data import MapData
from vae.portable.export import OPSET
from vae.portable.runtime import PortableVAE
from vae.portable.spec import ImportSpec

MAX_WEIGHTS_BYTES = 2 * 2**30
WRAPPER_KEYS = ("state_dict", "model_state_dict", "model")  # common checkpoint layouts around a state dict


def load_factory(reference: str) -> Callable[..., Any]:
    """`path/to/file.py:name` -> the callable `name` defined in that file (running the file)."""
    file_name, _, attribute = reference.rpartition(":")
    path = Path(file_name)
    if not file_name or not attribute or path.suffix != ".py":
        raise ImportRefused(f"--model must look like path/to/file.py:factory, got {reference!r}")
    if not path.is_file():
        raise ImportRefused(f"{file_name}: no such file")
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(f"vae_lab_user_{path.stem}_{digest}", path)
    if spec is None or spec.loader is None:
        raise ImportRefused(f"{file_name}: cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and pickling look modules up here
    sys.path.insert(0, str(path.resolve().parent))  # the file may import its neighbours
    try:
        call_user_code(f"running {path.name}", spec.loader.exec_module, module)
    finally:
        sys.path.remove(str(path.resolve().parent))
    factory = getattr(module, attribute, None)
    if not callable(factory):
        raise ImportRefused(f"{path.name} defines no callable {attribute!r}")
    return factory


def load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Tensors by name from a .safetensors file or a state-dict .pt (never unpickling code)."""
    if not path.is_file():
        raise ImportRefused(f"{path}: no such file")
    if path.stat().st_size > MAX_WEIGHTS_BYTES:
        raise ImportRefused(f"{path.name}: larger than {MAX_WEIGHTS_BYTES >> 30} GB")
    if path.suffix == ".safetensors":
        try:
            return load_file(path)
        except Exception as exc:  # SafetensorError and whatever a damaged header makes the parser raise
            raise ImportRefused(f"{path.name}: not a safetensors file ({exc})") from exc
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, AttributeError) as exc:
        raise ImportRefused(f"{path.name}: holds Python objects besides tensors, or is not a PyTorch file "
                            f"(weights are read with weights_only=True: save model.state_dict())") from exc
    for key in WRAPPER_KEYS:
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
            break
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ImportRefused(f"{path.name}: not a state dict (a mapping from names to tensors)")
    return state


def _method(module: nn.Module, name: str) -> Callable[..., Any]:
    method = getattr(module, name, None)
    if not callable(method):
        raise ImportRefused(f"the model ({type(module).__name__}) has no method {name!r}; "
                            f"name the right one with --encode-method / --decode-method")
    return method


def import_torch(model_ref: str, weights: str | Path, spec: ImportSpec, data: MapData,
                 encode_method: str = "encode", decode_method: str = "decode",
                 factory_kwargs: dict[str, Any] | None = None) -> tuple[PortableVAE, dict[str, Any]]:
    """Build the user's module, load its weights, export and check it; (model, the card's import record)."""
    factory = load_factory(model_ref)
    module = call_user_code(f"the factory {model_ref.rpartition(':')[2]}()", factory, **(factory_kwargs or {}))
    if not isinstance(module, nn.Module):
        raise ImportRefused(f"the factory returned {type(module).__name__}, not a torch.nn.Module")
    weights = Path(weights)
    state = load_state_dict(weights)
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        detail = " ".join(str(exc).split())[:300]
        raise ImportRefused(f"{weights.name} does not fit the model: {detail}") from exc
    module = module.float().cpu()
    encode, decode = _method(module, encode_method), _method(module, decode_method)
    model, parity = portable_from_torch(module, encode, decode, spec, data)
    source = {"route": "torch", "model": f"{Path(model_ref.rpartition(':')[0]).name}:{model_ref.rpartition(':')[2]}",
              "module": type(module).__name__, "weights": weights.name, "encode": encode_method,
              "decode": decode_method, "exporter": f"torch {torch.__version__}, ONNX opset {OPSET}", "parity": parity}
    return model, source
