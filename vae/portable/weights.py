"""Weights as people save them, read without pickled code and fitted to the user's module.

A plain state dict, `{"state_dict": ...}` (PyTorch Lightning), `{"model": ...}`, `{"model_state_dict":
...}` or safetensors; keys under a wrapper's prefix (`model.` in a LightningModule, `module.` from
DataParallel, `_orig_mod.` from torch.compile, `vae.`...) are stripped when that makes them fit. A
mismatch names the missing and unexpected keys and the shapes that differ, in a line.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import nn

from vae.portable.build import ImportRefused

MAX_WEIGHTS_BYTES = 2 * 2**30
WRAPPER_KEYS = ("state_dict", "model_state_dict", "model", "module", "net", "vae")  # checkpoint layouts
SHOWN = 3  # keys named per kind of mismatch


def _unwrap(state: object) -> object:
    """The state dict inside a checkpoint's wrapper dicts (Lightning, training scripts)."""
    for _ in range(3):
        if not isinstance(state, dict) or all(isinstance(v, torch.Tensor) for v in state.values()):
            return state
        inner = next((state[k] for k in WRAPPER_KEYS if isinstance(state.get(k), dict)), None)
        if inner is None:
            return state
        state = inner
    return state


def load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Tensors by name from a .safetensors file or a .pt/.ckpt checkpoint (never unpickling code)."""
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
    state = _unwrap(state)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ImportRefused(f"{path.name}: not a state dict (a mapping from names to tensors)")
    return state


def _strip(state: dict[str, torch.Tensor], expected: set[str]) -> tuple[dict[str, torch.Tensor], str]:
    """The state with the wrapper prefix removed that makes the most keys fit; (state, the prefix)."""
    prefixes = {""}
    for key in state:
        for want in expected:
            if key.endswith("." + want):
                prefixes.add(key[: -len(want)])
    best, best_fit = "", len(expected & set(state))
    for prefix in sorted(prefixes - {""}):
        fit = len(expected & {k[len(prefix):] for k in state if k.startswith(prefix)})
        if fit > best_fit:
            best, best_fit = prefix, fit
    if not best:
        return state, ""
    return {k[len(best):]: v for k, v in state.items() if k.startswith(best)}, best


def _listed(keys: list[str]) -> str:
    more = f" and {len(keys) - SHOWN} more" if len(keys) > SHOWN else ""
    return ", ".join(keys[:SHOWN]) + more


def fit_state_dict(module: nn.Module, state: dict[str, torch.Tensor], label: str) -> str:
    """Load `state` into `module` strictly, after stripping a wrapper's prefix; return the prefix stripped.

    Keys outside the prefix (a Lightning module's loss or metric modules) are ignored only when the
    keys under it fit the module exactly.
    """
    expected = module.state_dict()
    fitted, prefix = _strip(state, set(expected))
    missing = sorted(set(expected) - set(fitted))
    unexpected = sorted(set(fitted) - set(expected))
    shapes = [f"{k} {list(fitted[k].shape)} in the file, {list(expected[k].shape)} in the model"
              for k in sorted(set(expected) & set(fitted)) if fitted[k].shape != expected[k].shape]
    if missing or unexpected or shapes:
        parts = [f"{len(missing)} missing ({_listed(missing)})" if missing else "",
                 f"{len(unexpected)} unexpected ({_listed(unexpected)})" if unexpected else "",
                 f"shapes differ: {'; '.join(shapes[:SHOWN])}" if shapes else ""]
        stripped = f" after removing the prefix {prefix!r}" if prefix else ""
        hint = " (are these the constructor arguments it was trained with? --factory-kwargs)" if shapes else ""
        raise ImportRefused(f"{label} does not fit the model{stripped}: keys "
                            + "; ".join(p for p in parts if p) + hint)
    module.load_state_dict(fitted, strict=True)
    return prefix
