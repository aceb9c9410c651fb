"""Model card: what was trained, how, how well, and what it generates."""

import streamlit as st

from pages.model_card import iwae, model_card, timelapse
from ui import bundles, first_steps
from ui.text import md

bundle = bundles.select_bundle()
if bundle is None:
    first_steps.stop_without_bundle()
st.title(f"Model card · {md(bundle.config.get('name', bundle.name))}", anchor=False)
model_card.summary(bundle)
iwae.section(bundle)
model_card.curves(bundle)
model_card.pictures(bundle)
timelapse.replay(bundle)
