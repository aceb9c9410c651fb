"""The app's browser components as files (ui/components/): where they live, which files make each one,
and how Python sends them arrays.

The app mounts them as Streamlit components; a shared site and the notebook widget copy the same
scripts, so all three run the same code. arrays.js (reading the arrays Python sends) comes first.
"""

import base64
from pathlib import Path

import numpy as np

COMPONENTS_DIR = Path(__file__).resolve().parents[2] / "ui" / "components"
LIVE_DECODER_JS = ("arrays.js", "local_decoder.js", "live_decoder.js")
MAP_EVENTS_JS = ("arrays.js", "local_decoder.js", "map_atlas.js", "map_events.js")
SELECTION_GRID_JS = ("selection_grid.js",)


def component_js(names: tuple[str, ...]) -> str:
    """One component's script: its files joined in order."""
    return "\n".join((COMPONENTS_DIR / name).read_text() for name in names)


def base64_array(array: np.ndarray, dtype: str) -> str:
    """Little-endian bytes of `array` as `dtype`, base64: what arrays.js's readArray reads."""
    return base64.b64encode(np.ascontiguousarray(array, dtype=np.dtype(dtype).newbyteorder("<")).tobytes()).decode()
