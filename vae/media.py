"""Pictures: model output as display pixels, PNG strips and a there-and-back animated GIF for downloads."""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image

TIMELINE_PX = 3


def to_pixels(images: np.ndarray | torch.Tensor, scale: int = 1) -> np.ndarray:
    """(N, C, H, W) uint8 or [0, 1] floats -> (N, H*scale, W*scale[, 3]) uint8, nearest-neighbour."""
    array = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if array.dtype != np.uint8:
        array = (np.clip(array, 0, 1) * 255 + 0.5).astype(np.uint8)
    array = array.transpose(0, 2, 3, 1)  # (N, H, W, C)
    if scale > 1:
        array = array.repeat(scale, axis=1).repeat(scale, axis=2)
    return array[..., 0] if array.shape[-1] == 1 else array


def _image(pixels: np.ndarray) -> Image.Image:
    return Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8))


def png_bytes(pixels: np.ndarray) -> bytes:
    """One (H, W[, 3]) uint8 picture as PNG."""
    buffer = io.BytesIO()
    _image(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def with_timeline(frame: np.ndarray, t: float) -> np.ndarray:
    """The frame with a thin bar under it, filled up to `t` in [0, 1]: shows where the frame lies."""
    width = frame.shape[1]
    bar = np.full((TIMELINE_PX, *frame.shape[1:]), 60, dtype=np.uint8)
    bar[:, : max(1, round(t * width))] = 255
    return np.concatenate([frame, bar])


def there_and_back(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Frames 0..N-1 then N-2..1 (2N-2 frames, neither end repeated) and each one's t."""
    ts = np.linspace(0.0, 1.0, len(frames))
    if len(frames) <= 2:
        return frames, ts
    back = slice(-2, 0, -1)
    return np.concatenate([frames, frames[back]]), np.concatenate([ts, ts[back]])


def gif_bytes(frames: np.ndarray, frame_ms: int = 120) -> bytes:
    """(N, H, W[, 3]) uint8 frames as a looping GIF (Pillow merges identical neighbours)."""
    images = [_image(f) for f in frames]
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=frame_ms,
                   loop=0, optimize=False)
    return buffer.getvalue()


def interpolation_gif(frames: np.ndarray, frame_ms: int = 120) -> bytes:
    """An interpolation played there and back, each frame marked with its position on the path.

    The marker also keeps neighbouring frames distinct, so the GIF has exactly 2N-2 frames.
    """
    loop, ts = there_and_back(frames)
    return gif_bytes(np.stack([with_timeline(f, t) for f, t in zip(loop, ts, strict=True)]), frame_ms)
