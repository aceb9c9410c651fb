"""Import a model saved by pythae (`model.save(dir)`): model_config.json + model.pt.

pythae's own loader unpickles (`torch.load` without weights_only, cloudpickle for custom nets),
so it is not used: the config is read as JSON, the nets are rebuilt by pythae from it, and the
weights are read with `weights_only=True`. Only pythae's default nets can be rebuilt that way;
custom ones exist only as cloudpickle files and are refused (the `torch` route imports them).
pythae is an optional dependency: `pip install pythae`.
"""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from vae.portable.build import ImportRefused, call_user_code, portable_from_torch
from vae.portable.data import MapData
from vae.portable.export import OPSET
from vae.portable.runtime import PortableVAE
from vae.portable.spec import ImportSpec
from vae.portable.weights import fit_state_dict, load_state_dict

CONFIG_FILE = "model_config.json"
WEIGHTS_FILE = "model.pt"
PICKLED_NETS = ("encoder.pkl", "decoder.pkl")
MAX_CONFIG_BYTES = 1 << 20
# pythae models with a Gaussian posterior (encoder: embedding, log_covariance) and a N(0, I) prior.
MODELS = {
    "VAEConfig": "VAE", "BetaVAEConfig": "BetaVAE", "DisentangledBetaVAEConfig": "DisentangledBetaVAE",
    "BetaTCVAEConfig": "BetaTCVAE", "FactorVAEConfig": "FactorVAE", "IWAEConfig": "IWAE", "CIWAEConfig": "CIWAE",
    "MIWAEConfig": "MIWAE", "PIWAEConfig": "PIWAE", "MSSSIM_VAEConfig": "MSSSIM_VAE",
    "INFOVAE_MMD_Config": "INFOVAE_MMD",
}
TORCH_ROUTE_HINT = ("VAE Lab never unpickles them: import the model through the torch route instead, with a .py "
                    "file whose factory builds the same nets and returns a module with encode(x) -> (mu, logvar) "
                    "and decode(z), and --weights model.pt (its model_state_dict is read with weights_only=True)")


def _read_config(folder: Path) -> dict[str, Any]:
    file = folder / CONFIG_FILE
    if not folder.is_dir():
        raise ImportRefused(f"{folder}: not a folder")
    if not file.is_file() or file.stat().st_size > MAX_CONFIG_BYTES:
        raise ImportRefused(f"{folder.name}: no {CONFIG_FILE} (not a folder saved by a pythae model's save())")
    try:
        config = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ImportRefused(f"{CONFIG_FILE} is not valid JSON ({exc})") from exc
    if not isinstance(config, dict):
        raise ImportRefused(f"{CONFIG_FILE} is not a JSON object")
    return config


def _build_model(config: dict[str, Any]) -> nn.Module:
    """The pythae model with its default nets, from the JSON config alone."""
    try:
        import pythae.models
    except ImportError as exc:
        raise ImportRefused("importing a pythae model needs pythae: pip install pythae") from exc
    name = config.pop("name", None)
    if name not in MODELS:
        raise ImportRefused(f"pythae model {name!r} is not a Gaussian VAE with a standard normal prior; "
                            f"supported: {', '.join(sorted(MODELS.values()))}")
    model_config = call_user_code(f"pythae's {name}", getattr(pythae.models, name).from_dict, config)
    return call_user_code(f"pythae's {MODELS[name]}", getattr(pythae.models, MODELS[name]), model_config)


def _image_shape(input_dim: object, data: MapData) -> tuple[tuple[int, int, int], str]:
    """(C, H, W) and the layout the nets take, from pythae's input_dim: (C, H, W) or flat (C*H*W,)."""
    dims = tuple(input_dim) if isinstance(input_dim, list | tuple) else ()
    if len(dims) == 3:
        return tuple(int(d) for d in dims), "nchw"
    if len(dims) == 1 and dims[0] == int(np.prod(data.input_shape)):
        return data.input_shape, "flat"
    raise ImportRefused(f"pythae input_dim {list(dims)} is not an image shape (C, H, W) matching the data "
                        f"{list(data.input_shape)}")


def import_pythae(folder: str | Path, data: MapData, likelihood: str | None = None,
                  gaussian_sigma: float | None = None,
                  detect_only: bool = False) -> tuple[PortableVAE | None, ImportSpec, dict[str, Any]]:
    """Rebuild, load and export a pythae VAE; (model, the spec it was read with, the card's import record)."""
    folder = Path(folder)
    config = _read_config(folder)
    pickled = [n for n in PICKLED_NETS if (folder / n).exists()]
    custom = [part for part in ("encoder", "decoder") if config.get(f"uses_default_{part}") is False]
    if pickled or custom:
        what = ", ".join(pickled) or f"custom {' and '.join(custom)}"
        raise ImportRefused(f"this pythae model has custom nets stored with cloudpickle ({what}); {TORCH_ROUTE_HINT}")
    shape, layout = _image_shape(config.get("input_dim"), data)
    # pythae's "bce" loss is Bernoulli on the decoder's sigmoid outputs; "mse" is 0.5 * squared error, a
    # Gaussian of unit variance (up to a constant).
    declared = "bernoulli" if config.get("reconstruction_loss", "mse") == "bce" else "gaussian"
    spec = ImportSpec(input_shape=shape, input_layout=layout, input_range="unit", posterior="logvar",
                      decoder_output="probs", likelihood=likelihood or declared,
                      gaussian_sigma=gaussian_sigma or (0.1 if (likelihood or declared) == "bernoulli" else 1.0))
    spec.validate()
    model_name = config.get("name", "?")
    module = _build_model(dict(config))
    fit_state_dict(module, load_state_dict(folder / WEIGHTS_FILE), WEIGHTS_FILE)

    def encode(x):
        out = module.encoder(x)
        return out.embedding, out.log_covariance

    def decode(z):
        return module.decoder(z).reconstruction

    model, spec, record = portable_from_torch(module, encode, decode, spec, data, detect_only)
    source = {"route": "pythae", "folder": folder.name, "pythae_model": model_name.removesuffix("Config"),
              "pythae": importlib.metadata.version("pythae"), "reconstruction_loss": config.get("reconstruction_loss"),
              "exporter": f"ONNX opset {OPSET}", **record}
    return model, spec, source
