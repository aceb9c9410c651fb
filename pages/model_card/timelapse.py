"""The model card's training time-lapse: the live map of each epoch, replayed with an epoch slider."""

from __future__ import annotations

import numpy as np
import streamlit as st

from ui import figures
from vae.bundle import Bundle
from vae.share.site_data import class_colours

KEY = "timelapse_epoch"


def replay(bundle: Bundle) -> None:
    """An epoch slider over the bundle's time-lapse, or why there is none."""
    st.subheader("Training time-lapse")
    if bundle.timelapse is None:
        st.caption("This bundle keeps no time-lapse: it was trained before bundles kept one, or with "
                   "`vae-lab train --live-map 0`.")
        return
    _frame(bundle)


@st.fragment
def _frame(bundle: Bundle) -> None:
    """One epoch's map (a fragment: moving the slider redraws this alone), on axes fixed for every epoch."""
    lapse = bundle.timelapse
    epochs = [int(e) for e in lapse["epochs"]]
    epoch = st.select_slider("Epoch", options=epochs, value=epochs[-1], key=KEY) if len(epochs) > 1 else epochs[0]
    xy = lapse["xy"].astype(np.float32)  # (E, n, 2)
    live = {"xy": xy[epochs.index(epoch)], "labels": lapse["labels"], "epoch": epoch}
    fig = figures.live_map_figure(live, bundle.class_names, class_colours(len(bundle.class_names)))
    x0, x1, y0, y1 = figures.map_bounds(xy.reshape(-1, 2))
    fig.update_layout(xaxis={"range": [x0, x1]}, yaxis={"range": [y0, y1]})
    st.plotly_chart(fig, key="timelapse-map")
    st.caption(f"{len(lapse['labels']):,} test images re-encoded after each of {len(epochs)} epochs "
               "(PCA of their codes, each epoch rotated onto the one before it).")
