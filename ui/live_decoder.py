"""The Explore page's live decoder as one browser component: decoded image, position, sliders.

As Streamlit elements, sixteen `st.slider`s, an `st.image` and an `st.html` kept the browser's
main thread busy ~80 ms per slider step; as plain DOM in one Streamlit v2 component (no iframe) a
step re-renders that one element, ~30 ms (a one-slider Streamlit app: ~20 ms; Chrome traces).
The component sends `{"seq", "values"}` when the user moves a slider; Python answers with the
image, the current code and the last `seq` it applied (see components/live_decoder.js for the
handshake). The URL follows a slider gesture once it settles, not every step: writing the query
string re-renders the whole app in the browser (~12 ms a step here) and pushes a history entry.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import streamlit as st

from ui import state

HERE = Path(__file__).parent / "components"
KEY = "live-decoder"
SEQ_KEY = "slider_seq"
URL_PENDING_KEY = "slider_url_pending"
STEP = 0.05

_component = st.components.v2.component(
    "vae_lab.live_decoder",
    js=(HERE / "live_decoder.js").read_text(),
    css=(HERE / "live_decoder.css").read_text(),
    isolate_styles=False,  # plain DOM: page-wide queries and accessibility roles reach the inputs
)


def slider_rows(kl_per_dim: np.ndarray, informative: list[int], collapsed: list[int]) -> list[dict]:
    """One row per dimension, informative ones first (by KL), collapsed ones marked."""
    return ([{"dim": d, "label": f"z{d} · KL {kl_per_dim[d]:.2f}", "collapsed": False} for d in informative]
            + [{"dim": d, "label": f"z{d} · collapsed", "collapsed": True} for d in collapsed])


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
    st.session_state[URL_PENDING_KEY] = True
    state.set_code(code)
    return True


def url_due() -> bool:
    """Whether the URL may take the current code now (no slider gesture is still going on)."""
    return not st.session_state.get(URL_PENDING_KEY, False)


def _on_settled() -> None:
    st.session_state[URL_PENDING_KEY] = False


def _on_move(latent_dim: int) -> None:
    take_move((st.session_state.get(KEY) or {}).get("code"), latent_dim)


def live_decoder_panel(rows: list[dict], latent_dim: int, image_uri: str, picture_uri: str,
                       marker: tuple[float, float]) -> None:
    """Draw the decoded image, the position picture with its marker (percent from left and top) and
    the sliders at the current code; moves reach `take_move` before the rerun."""
    code = state.current_code(latent_dim)
    _component(
        key=KEY,
        data={"rows": rows, "values": [round(float(v), 4) for v in code],
              "seq": st.session_state.get(SEQ_KEY, 0), "limit": state.SLIDER_LIMIT, "step": STEP,
              "url_pending": not url_due(), "image": image_uri, "picture": picture_uri, "marker": list(marker)},
        default={"code": None},
        on_code_change=partial(_on_move, latent_dim),
        on_settled_change=_on_settled,
    )
