"""Import any PyTorch VAE: the user's file and class build the module, weights come without pickled code.

The user's Python file runs here, at import time, and never again: the bundle holds the two
exported ONNX graphs. The file is loaded as its project would load it (vae/portable/user_code.py),
weights are read as people save them (vae/portable/weights.py), and the model's conventions are
found by running it (vae/portable/conventions.py) unless the user names them.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vae.portable.build import ImportRefused, call_user_code, portable_from_torch
from vae.portable.data import MapData
from vae.portable.export import OPSET
from vae.portable.runtime import PortableVAE
from vae.portable.spec import ImportSpec
from vae.portable.user_code import load_factory
from vae.portable.weights import fit_state_dict, load_state_dict


def _method(module: nn.Module, name: str) -> Callable[..., Any]:
    method = getattr(module, name, None)
    if not callable(method):
        raise ImportRefused(f"the model ({type(module).__name__}) has no method {name!r}; "
                            f"name the right one with --encode-method / --decode-method")
    return method


def import_torch(model_ref: str, weights: str | Path, spec: ImportSpec, data: MapData,
                 encode_method: str = "encode", decode_method: str = "decode",
                 factory_kwargs: dict[str, Any] | None = None,
                 detect_only: bool = False) -> tuple[PortableVAE | None, ImportSpec, dict[str, Any]]:
    """Build the user's module, load its weights, find its conventions, export and check it;
    (model, the spec found, the card's import record); no model with `detect_only`."""
    loaded = load_factory(model_ref)
    name = model_ref.rpartition(":")[2]
    factory_kwargs = copy.deepcopy(factory_kwargs or {})  # the card's record: a constructor may change its lists
    module = call_user_code(f"{name}(**factory kwargs)" if factory_kwargs else f"{name}()", loaded.factory,
                            **copy.deepcopy(factory_kwargs))
    if not isinstance(module, nn.Module):
        raise ImportRefused(f"{name}() returned {type(module).__name__}, not a torch.nn.Module")
    weights = Path(weights)
    prefix = fit_state_dict(module, load_state_dict(weights), weights.name)
    module = module.float().cpu()
    encode, decode = _method(module, encode_method), _method(module, decode_method)
    model, spec, record = portable_from_torch(module, encode, decode, spec, data, detect_only)
    source = {"route": "torch", "model": f"{Path(model_ref.rpartition(':')[0]).name}:{name}",
              "loaded_as": loaded.module, "module": type(module).__name__, "weights": weights.name,
              "encode": encode_method, "decode": decode_method,
              "exporter": f"torch {torch.__version__}, ONNX opset {OPSET}", **record}
    if factory_kwargs:
        source["factory_kwargs"] = factory_kwargs
    if prefix:
        source["weights_prefix_removed"] = prefix
    if loaded.note():
        source["load_note"] = loaded.note()
    return model, spec, source
