"""The Explore page's live decoder as one browser component: decoded image, position, sliders.

As Streamlit elements, sixteen `st.slider`s, an `st.image` and an `st.html` kept the browser's
main thread busy ~80 ms per slider step; as plain DOM in one Streamlit v2 component (no iframe) a
step re-renders that one element, ~30 ms (a one-slider Streamlit app: ~20 ms; Chrome traces).
The component sends `{"seq", "values"}` when the user moves a slider; Python answers with the
image, the current code and the last `seq` it applied (see components/live_decoder.js for the
handshake). Once the browser has asked for `local_payload` it decodes steps itself with
onnxruntime-web (served from ui/static/, see scripts/web-assets.sh) and sends one move per gesture,
marked settled. The URL follows a slider gesture once it settles, not every
step: writing the query string re-renders the whole app in the browser (~12 ms a step here) and
pushes a history entry.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import streamlit as st

from ui import bundles, figures, state
from vae.bundle import Bundle
from vae.latent.selection import display_subset
from vae.models.decoder_export import UnsupportedLayer
from vae.share.browser import ORT_DIR, ORT_MODULE, decoder_onnx
from vae.share.components import COMPONENTS_DIR, LIVE_DECODER_JS, base64_array, component_js
from vae.share.site_data import SLIDER_STEP

log = logging.getLogger(__name__)

KEY = "live-decoder"
SEQ_KEY = "slider_seq"
URL_PENDING_KEY = "slider_url_pending"
LOCAL_WANTED_KEY = "local_decoder_wanted"
STEP = SLIDER_STEP
# A larger decoder decodes on the server: the page would wait longer for it than it saves.
MAX_BROWSER_DECODER_BYTES = 32 * 2**20
# The browser places a code on a UMAP map by its nearest codes; above this many it gets a fixed
# sample (the marker moves a little when the server's exact placement arrives at the gesture's end).
LOCAL_PLACE_LIMIT = 20_000

_component = st.components.v2.component(
    "vae_lab.live_decoder",
    js=component_js(LIVE_DECODER_JS),
    css=(COMPONENTS_DIR / "live_decoder.css").read_text(),
    isolate_styles=False,  # plain DOM: page-wide queries and accessibility roles reach the inputs
)


def take_move(payload: object, latent_dim: int) -> bool:
    """Make a move sent by the component the current code; False for a stale or malformed one."""
    if not isinstance(payload, dict):
        return False
    seq, values = payload.get("seq"), payload.get("values")
    if not isinstance(seq, int) or seq <= st.session_state.get(SEQ_KEY, 0):
        return False
    code = state.parse_values(values, latent_dim)
    if code is None:
        return False
    st.session_state[SEQ_KEY] = seq
    # A move the browser decoded itself comes once its gesture has settled: the URL may take it now.
    st.session_state[URL_PENDING_KEY] = payload.get("settled") is not True
    state.set_code(code)
    return True


def url_due() -> bool:
    """Whether the URL may take the current code now (no slider gesture is still going on)."""
    return not st.session_state.get(URL_PENDING_KEY, False)


def _on_settled() -> None:
    st.session_state[URL_PENDING_KEY] = False


def _on_want_local() -> None:
    st.session_state[LOCAL_WANTED_KEY] = (st.session_state.get(KEY) or {}).get("want_local")


def ort_url() -> str | None:
    """The URL path of onnxruntime-web's module, or None where it is not installed or not served."""
    if not (ORT_DIR / ORT_MODULE).is_file() or not st.get_option("server.enableStaticServing"):
        return None
    base = st.get_option("server.baseUrlPath").strip("/")
    return "/" + "/".join(part for part in (base, "app/static", ORT_DIR.name, ORT_MODULE) if part)


def browser_decoder(onnx_bytes: bytes, latent_dim: int, image_shape: tuple[int, int, int],
                    output: str = "probs") -> dict:
    """A decoder for the browser (ui/components/local_decoder.js), as ONNX bytes it runs itself.

    The contract: the model's input is named "z" and takes (1, latent_dim) float32 (a symbolic
    batch size is fine); its one output is (1, C, H, W) float32 with image_shape (C, H, W), holding
    pixel means in [0, 1] (`output` "probs") or logits (`output` "logits": the browser applies
    the sigmoid). `decoder_onnx` gives a native model's (vae.models.decoder_export) and a portable
    bundle's (its decoder.onnx, whose contract is this one).
    """
    if output not in ("probs", "logits"):
        raise ValueError(f"output must be 'probs' or 'logits', not {output!r}")
    return {"onnx": base64.b64encode(onnx_bytes).decode("ascii"), "latent_dim": latent_dim,
            "image_shape": list(image_shape), "output": output}


def local_payload(bundle: Bundle, projection: str, bounds: tuple[float, float, float, float]) -> dict | None:
    """What the browser needs to decode and place codes itself, or None where it cannot.

    The decoder as ONNX (`browser_decoder`) and the map placement of `ForwardProjector`:
    linear for PCA, the code itself for a 2-D latent, else the k nearest codes' positions.
    """
    try:
        onnx_bytes, output = decoder_onnx(bundle.model)
    except UnsupportedLayer as error:
        log.info("%s decodes on the server only: %s", bundle.name, error)
        return None
    if len(onnx_bytes) > MAX_BROWSER_DECODER_BYTES:
        log.info("%s decodes on the server only: its decoder is %d MB", bundle.name, len(onnx_bytes) >> 20)
        return None
    decoder = browser_decoder(onnx_bytes, bundle.latent_dim, bundle.model.config.input_shape, output)
    arrays = bundle.projections[projection]
    if arrays.get("components") is not None:
        place = {"kind": "pca", "components": np.asarray(arrays["components"], float).tolist(),
                 "mean": np.asarray(arrays["mean"], float).tolist()}
    elif bundle.latent_dim == 2:
        place = {"kind": "latent"}
    else:
        keep = display_subset(len(bundle.mu), LOCAL_PLACE_LIMIT)
        place = {"kind": "neighbours", "k": 8, "dim": bundle.latent_dim, "dtype": "float16",
                 "codes": base64_array(bundle.mu[keep], "float16"), "xy": base64_array(arrays["xy"][keep], "float32")}
    return {"decoder": decoder, "projection": place, "bounds": [float(b) for b in bounds]}


@st.cache_resource(show_spinner=False, max_entries=16)
def _minimap(path: str, projection: str, stamp: tuple) -> tuple[str, tuple]:
    raster, bounds = figures.density_raster(bundles.get_bundle(Path(path)).projections[projection]["xy"])
    return figures.png_data_uri(raster), bounds


def minimap(bundle: Bundle, projection: str) -> tuple[str, tuple]:
    """The map's density picture as a PNG data URI, and its bounds (made once per bundle and map)."""
    return _minimap(str(bundle.path), projection, bundles.stamp(bundle))


@st.cache_resource(show_spinner=False, max_entries=16)
def _local_decoder(path: str, projection: str, stamp: tuple, bounds: tuple) -> dict | None:
    return local_payload(bundles.get_bundle(Path(path)), projection, bounds)


def local_decoder(bundle: Bundle, projection: str) -> tuple[str, Callable[[], dict | None]]:
    """The browser's decoder and placement for a bundle and map: its id, known without building it, and
    what builds it (once, on request). The sliders and the map's atlas share it (by id, in the browser)."""
    key = (str(bundle.path), projection, bundles.stamp(bundle), tuple(minimap(bundle, projection)[1]))
    return hashlib.sha256(repr(key).encode()).hexdigest()[:16], partial(_local_decoder, *key)


def _on_move(latent_dim: int) -> None:
    take_move((st.session_state.get(KEY) or {}).get("code"), latent_dim)


def live_decoder_panel(rows: list[dict], latent_dim: int, image_uri: str, picture_uri: str,
                       marker: tuple[float, float], local_id: str | None = None,
                       local: Callable[[], dict | None] | None = None) -> None:
    """Draw the decoded image, the position picture with its marker (percent from left and top) and
    the sliders at the current code; moves reach `take_move` before the rerun. `local` makes the
    payload (see `local_payload`) under the name `local_id`; it is called and sent only once the
    browser asks for it (a few MB), and never where onnxruntime-web is not served."""
    code = state.current_code(latent_dim)
    url = ort_url()
    local_id = local_id if url and local else None
    payload = None
    if local_id is not None and st.session_state.pop(LOCAL_WANTED_KEY, None) == local_id:
        payload = {"id": local_id, **(local() or {"unusable": True})}
    _component(
        key=KEY,
        data={"rows": rows, "values": [round(float(v), 4) for v in code],
              "seq": st.session_state.get(SEQ_KEY, 0), "limit": state.SLIDER_LIMIT, "step": STEP,
              "url_pending": not url_due(), "image": image_uri, "picture": picture_uri, "marker": list(marker),
              "local_id": local_id, "local": payload, "ort": url},
        default={"code": None},
        on_code_change=partial(_on_move, latent_dim),
        on_settled_change=_on_settled,
        on_want_local_change=_on_want_local,
    )
