"""A model's conventions, found by running it on the map's images instead of asked of the user.

Published VAEs differ in what they take and return: images in [0, 1] or [-1, 1], NCHW, NHWC or
flat; `encode` returning a pair, a list, a `Normal`, one tensor of width 2D, N named outputs or an
object holding `.latent_dist`; a decoder of logits, probabilities, unsquashed pixel means or a
Tanh output; a flat or a spatial latent. The import runs the model anyway (to check the exported
graphs), so it reads these off that run: the layout is the one `encode` accepts, the posterior's
form comes from the result's type or names, and the input range and output kind are the pair
whose reconstructions of the images are best by a clear margin (the range also by how near the
prior its codes stay). Each finding says how it was found (the model card shows it). One that
stays ambiguous stops the import with a question naming the flag that answers it; an explicit
flag the evidence contradicts is refused with the evidence. It reads the model's results with
vae/portable/results.py, as the exported adapters do.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from vae.losses import kl_standard_normal
from vae.portable.onnx_check import GraphError, raised
from vae.portable.results import (
    Ambiguous,
    PosteriorRead,
    read_decoded,
    read_posterior,
    shape_text,
    spread_to_logvar,
    to_images,
    to_model_input,
    to_pixels,
)
from vae.portable.spec import INPUT_LAYOUTS, INPUT_RANGES, OUTPUT_KIND_TEXT, ImportSpec

LAYOUT_TEXT = {"nchw": "(N, C, H, W)", "nhwc": "(N, H, W, C)", "flat": "(N, C·H·W)"}
RANGE_TEXT = {"unit": "[0, 1]", "symmetric": "[-1, 1]"}
RANGE_TOLERANCE = 1e-5  # float rounding around a sigmoid's [0, 1]
# A reading of the output must reconstruct the images better than their mean image does (RMS error
# at most QUALITY of the mean image's: a decoder that ignores its code, or an untrained one, does
# not), and better than the next reading by MARGIN, to be taken without a flag; an explicit flag
# is refused when another reading errs REFUTE times less.
QUALITY = 0.9
MARGIN = 1.25
REFUTE = 1.5
KL_MARGIN = 2.0  # the codes' KL to the prior, one input range against the other
PROBE_IMAGES = 256


Encode = Callable[[torch.Tensor], Any]
Decode = Callable[[torch.Tensor], Any]


@dataclass
class Detection:
    """What was found: the spec with every convention set, and how each one was found."""

    spec: ImportSpec
    findings: dict[str, dict[str, str]] = field(default_factory=dict)
    evidence: dict[str, float] = field(default_factory=dict)  # pixel RMS error of each reading, and the baseline

    def record(self) -> dict[str, Any]:
        """For the model card: each convention, its value and how it was found; the evidence."""
        return {"findings": self.findings, "pixel_rmse": self.evidence}


def _note(detection: Detection, name: str, value: object, given: bool, how: str) -> None:
    setattr(detection.spec, name, value)
    detection.findings[name] = {"value": str(value), "how": "given" if given else how}


def _find_layout(encode: Encode, images: torch.Tensor, spec: ImportSpec, order: tuple[str, ...]) -> tuple[str, Any]:
    """The first layout `encode` accepts (the spec's alone when given), with its result on the images."""
    layouts = (spec.input_layout,) if spec.input_layout else order
    errors = []
    for layout in layouts:
        try:
            return layout, encode(to_model_input(images, spec.input_range or "unit", layout))
        except Exception as exc:  # whatever the user's code or onnxruntime raises on a shape it does not take
            errors.append(f"{LAYOUT_TEXT[layout]}: {raised(exc, 160)}")
    _other_channels_fit(encode, images, spec, layouts)
    raise Ambiguous(f"encode(x) fails on the data's {shape_text(images.shape[1:])} images in every layout tried: "
                    + "; ".join(errors) + " (is --encode-method right, and is the data what it was trained on?)")


def _other_channels_fit(encode: Encode, images: torch.Tensor, spec: ImportSpec, layouts: tuple[str, ...]) -> None:
    """Raise the user's-terms refusal when the model takes RGB images and the data is grey, or the reverse."""
    if images.shape[1] not in (1, 3):
        return
    other = images.mean(1, keepdim=True) if images.shape[1] == 3 else images.expand(-1, 3, -1, -1)
    for layout in layouts:
        try:
            encode(to_model_input(other, spec.input_range or "unit", layout))
        except Exception:  # noqa: S112 - only asking whether the other channel count fits
            continue
        raise Ambiguous(f"the model takes {shape_text(other.shape[1:])} images, the data is "
                        f"{shape_text(images.shape[1:])} (use --channels {other.shape[1]} or "
                        f"{'RGB' if other.shape[1] == 3 else 'grey'} data)")


def _posterior(read: PosteriorRead, spec: ImportSpec, detection: Detection) -> None:
    spread = read.spread
    if spec.posterior == "std" and float(spread.min()) <= 0:
        raise Ambiguous(f"--posterior std: encode's second result is not positive (its minimum is "
                        f"{float(spread.min()):.3g}), so it is not a standard deviation; drop the flag or pass "
                        f"--posterior logvar or log_std")
    if spec.posterior:
        _note(detection, "posterior", spec.posterior, True, "")
    elif read.posterior:
        _note(detection, "posterior", read.posterior, False, f"from {read.how}")
    elif float(spread.min()) > 0:
        raise Ambiguous(f"encode's second result is positive for every image ({read.how}): a standard deviation, "
                        f"or a log-variance? Pass --posterior std, logvar or log_std")
    else:
        _note(detection, "posterior", "logvar", False, f"assumed for {read.how}: the common convention "
              f"(pytorch/examples, AntixK, Keras, pythae); --posterior log_std or std if it is not")


@dataclass
class Reading:
    """The model's run on the images given in one input range: decoded means (N, C, H, W) and the
    codes' mean KL to the prior, in nats per image (a model fed the range it was trained on keeps its
    codes near N(0, I); fed another, its codes stray far: KL tens of times larger)."""

    decoded: torch.Tensor
    kl: float


def _readings(encode: Encode, decode: Decode, images: torch.Tensor, spec: ImportSpec,
              latent_shape: tuple[int, ...]) -> dict[str, Reading]:
    readings = {}
    for input_range in INPUT_RANGES:
        read = read_posterior(encode(to_model_input(images, input_range, spec.input_layout)))
        mu, logvar = read.mu.flatten(1), spread_to_logvar(read.spread, spec.posterior).flatten(1)
        kl = float(kl_standard_normal(mu, logvar).mean())
        decoded = read_decoded(decode(read.mu.reshape(len(mu), *latent_shape)))
        readings[input_range] = Reading(to_images(decoded, spec.input_layout, spec.input_shape), kl)
    return readings


def _rmse(pixels: torch.Tensor, images: torch.Tensor) -> float:
    return float(((pixels - images) ** 2).mean().sqrt())


def _kinds(low: float, high: float) -> tuple[str, ...]:
    """The readings an output of this range allows; probabilities only when it stays in [0, 1]."""
    within = low >= -RANGE_TOLERANCE and high <= 1 + RANGE_TOLERANCE
    return ("logits", "probs" if within else "means", "symmetric")


def _reading_text(input_range: str, kind: str) -> str:
    return f"input {RANGE_TEXT[input_range]}, output as {OUTPUT_KIND_TEXT[kind]}"


def _check_declared_kind(spec: ImportSpec, low: float, high: float, span: str) -> None:
    """A declared output kind its outputs' range rules out is refused."""
    if spec.decoder_output == "probs" and _kinds(low, high)[1] != "probs":
        raise Ambiguous(f"--decoder-output probs: the decoder's {span}, outside the [0, 1] that probabilities stay "
                        f"in; drop the flag (or the spec's decoder_output) to let the import find the kind, or pass "
                        f"--decoder-output means or symmetric")
    if spec.decoder_output == "logits" and _kinds(low, high)[1] == "probs":
        raise Ambiguous(f"--decoder-output logits: the decoder's {span} and never leave [0, 1], so they look like "
                        f"probabilities (read as logits every pixel would be mid-grey); pass --decoder-output probs")


def _choose_range(scores: dict[tuple[str, str], float], readings: dict[str, Reading], spec: ImportSpec) -> tuple[
        str, str]:
    """The input range: the one whose reconstructions are clearly better, or whose codes stay clearly
    nearer the prior, the two not disagreeing; (range, how it was found)."""
    if spec.input_range:
        return spec.input_range, "given"
    best = {r: min(v for (rr, _), v in scores.items() if rr == r) for r in INPUT_RANGES}
    by_recon = min(best, key=best.get)
    by_kl = min(INPUT_RANGES, key=lambda r: readings[r].kl)
    other = {r: next(o for o in INPUT_RANGES if o != r) for r in INPUT_RANGES}
    recon_clear = best[other[by_recon]] >= MARGIN * best[by_recon]
    kl_clear = readings[other[by_kl]].kl >= KL_MARGIN * readings[by_kl].kl
    evidence = (f"RMS pixel error {best['unit']:.3f} for [0, 1] input, {best['symmetric']:.3f} for [-1, 1]; "
                f"the codes' KL to the prior {readings['unit'].kl:.3g} and {readings['symmetric'].kl:.3g} nats")
    if (recon_clear and kl_clear and by_recon != by_kl) or not (recon_clear or kl_clear):
        raise Ambiguous(f"cannot tell the model's input range ({evidence}); " + _flag_question("input_range"))
    return (by_recon if recon_clear else by_kl), evidence


def _range_and_output(readings: dict[str, Reading], prior_output: torch.Tensor, images: torch.Tensor,
                      spec: ImportSpec, detection: Detection) -> str:
    """Choose the input range and the output kind from reconstruction errors (and the codes' KL); return the kind."""
    outputs = {r: reading.decoded for r, reading in readings.items()}
    low = min(float(o.min()) for o in [*outputs.values(), prior_output])
    high = max(float(o.max()) for o in [*outputs.values(), prior_output])
    span = f"outputs range over [{low:.3g}, {high:.3g}]"
    _check_declared_kind(spec, low, high, span)
    baseline = _rmse(images.mean(0, keepdim=True).expand_as(images), images)
    kinds = (*_kinds(low, high), *(("means",) if spec.decoder_output == "means" else ()))
    scores = {(r, k): _rmse(to_pixels(out, k), images) for r, out in outputs.items() for k in kinds}
    detection.evidence = {f"{r}/{k}": round(v, 4) for (r, k), v in scores.items()} | {"mean_image": round(baseline, 4)}
    overall_key, overall = min(scores.items(), key=lambda item: item[1])
    if spec.input_range or spec.decoder_output:
        given = {key: v for key, v in scores.items()
                 if spec.input_range in (None, key[0]) and spec.decoder_output in (None, key[1])}
        given_key, given_best = min(given.items(), key=lambda item: item[1])
        if overall_key != given_key and overall <= QUALITY * baseline and given_best > REFUTE * overall:
            flags = " ".join(f"--{n.replace('_', '-')} {v}" for n, v in (("input_range", spec.input_range),
                                                                        ("decoder_output", spec.decoder_output)) if v)
            raise Ambiguous(f"{flags} does not fit this model: its reconstructions of the images have RMS pixel error "
                            f"{given_best:.3f} ({_reading_text(*given_key)}); read as {_reading_text(*overall_key)} "
                            f"they have {overall:.3f}. Drop the flag to let the import find it, or check it")
    undetermined = [n for n in ("input_range", "decoder_output") if getattr(spec, n) is None]
    if undetermined and min(scores.values()) > QUALITY * baseline:
        raise Ambiguous(f"cannot tell the model's conventions from its reconstructions: the best reading, "
                        f"{_reading_text(*overall_key)}, errs by {overall:.3f} per pixel (RMS), hardly better than "
                        f"the images' mean image ({baseline:.3f}); is the model trained, on images like these? If so, "
                        + " and ".join(_flag_question(n) for n in undetermined))
    input_range, range_how = _choose_range(scores, readings, spec)
    for_range = {k: v for (r, k), v in scores.items() if r == input_range and spec.decoder_output in (None, k)}
    kind = min(for_range, key=for_range.get)
    rivals = {k: v for k, v in for_range.items() if k != kind}
    if spec.decoder_output is None and rivals and min(rivals.values()) < MARGIN * for_range[kind]:
        rival = min(rivals, key=rivals.get)
        raise Ambiguous(f"cannot tell the model's decoder output: {_reading_text(input_range, kind)} errs by "
                        f"{for_range[kind]:.3f} per pixel (RMS), {_reading_text(input_range, rival)} by "
                        f"{rivals[rival]:.3f}; " + _flag_question("decoder_output"))
    how = (f"best reconstructions of the map's images: RMS pixel error {for_range[kind]:.3f} "
           f"({_reading_text(input_range, kind)}), against {baseline:.3f} for their mean image")
    _note(detection, "input_range", input_range, spec.input_range is not None, range_how)
    _note(detection, "decoder_output", kind, spec.decoder_output is not None, f"{how}; {span}")
    return kind


def _flag_question(name: str) -> str:
    if name == "input_range":
        return "pass --input-range unit ([0, 1] images) or symmetric ([-1, 1])"
    return "pass --decoder-output " + ", ".join(f"{k} ({t})" for k, t in OUTPUT_KIND_TEXT.items())


def _likelihood(kind: str, outputs: torch.Tensor, images: torch.Tensor, spec: ImportSpec,
                detection: Detection) -> None:
    """Bernoulli for logits and probabilities; a Gaussian for pixel means, σ fitted to the residuals."""
    if spec.likelihood:
        _note(detection, "likelihood", spec.likelihood, True, "")
    elif kind in ("logits", "probs"):
        _note(detection, "likelihood", "bernoulli", False, f"the decoder gives {OUTPUT_KIND_TEXT[kind]}")
    else:
        _note(detection, "likelihood", "gaussian", False,
              f"the decoder gives {OUTPUT_KIND_TEXT[kind]} (a model trained with MSE)")
    if spec.gaussian_sigma is not None:
        _note(detection, "gaussian_sigma", spec.gaussian_sigma, True, "")
    elif spec.likelihood == "gaussian":
        rmse = _rmse(to_pixels(outputs, kind), images)
        sigma = float(f"{min(max(rmse, 1e-3), 10):.3g}")
        _note(detection, "gaussian_sigma", sigma, False,
              "the RMS error of the reconstructions (the maximum-likelihood σ), in [0, 1] pixel units")
    else:
        spec.gaussian_sigma = 0.1  # unused by a Bernoulli likelihood; kept for the card's settings


@torch.no_grad()
def detect(encode: Encode, decode: Decode, images: np.ndarray, spec: ImportSpec,
           layouts: tuple[str, ...] = INPUT_LAYOUTS) -> Detection:
    """Run the model on uint8 images (N, C, H, W) and set every convention `spec` leaves open.

    Raises Ambiguous with a question when the run cannot tell, or when an explicit choice is contradicted.
    """
    x = torch.from_numpy(np.asarray(images[:PROBE_IMAGES])).float() / 255
    found = dataclasses.replace(spec)
    detection = Detection(found)
    layout, first = _find_layout(encode, x, spec, layouts)
    _note(detection, "input_layout", layout, spec.input_layout is not None,
          f"the first layout encode(x) accepts, of {', '.join(LAYOUT_TEXT[v] for v in layouts)}")
    read = read_posterior(first)
    latent_shape = tuple(int(v) for v in read.mu.shape[1:])
    latent_dim = math.prod(latent_shape)
    if tuple(read.spread.shape[1:]) != latent_shape:
        raise GraphError(f"encode(x)'s mean is {shape_text(latent_shape)} per image but its spread "
                         f"{shape_text(read.spread.shape[1:])} ({read.how})")
    if spec.latent_dim is not None and spec.latent_dim != latent_dim:
        raise Ambiguous(f"the encoder gives {latent_dim}-D codes ({shape_text(latent_shape)}), "
                        f"but latent_dim {spec.latent_dim} was given (--latent-dim or the spec)")
    found.latent_dim = latent_dim
    _note(detection, "latent_shape", latent_shape, spec.latent_shape is not None,
          f"encode's mean has {shape_text(latent_shape)} values per image ({read.how})"
          + (": a spatial latent, flattened for the map and the sliders" if len(latent_shape) > 1 else ""))
    found.latent_shape = latent_shape
    _posterior(read, spec, detection)
    readings = _readings(encode, decode, x, found, latent_shape)  # both ranges: a given one is checked too
    prior = torch.randn(len(x), *latent_shape, generator=torch.Generator().manual_seed(0))
    prior_output = to_images(read_decoded(decode(prior)), layout, found.input_shape)
    kind = _range_and_output(readings, prior_output, x, spec, detection)
    _likelihood(kind, readings[found.input_range].decoded, x, found, detection)
    return detection
