"""The Train page's "your own data": a folder on the server, an uploaded zip or NumPy file, checked.

The check (vae/data/own.py) runs when the source changes and its summary is shown before Start is
enabled: image count, size and channels, formats, class balance, and a one-line reason when the
data cannot be used. Every name from the files is shown as text.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from ui import access
from ui.text import md
from vae.data.own import TEST_FRACTION, DataCheck, check_source
from vae.portable.uploads import UploadRefused
from vae.training.own_data import allowed_folder, data_roots, store_upload

OWN_DATA = "your own data"
SOURCE_KEY = "own_source"  # session key: the checked source a job may start from, or None
KINDS = {"folder": "a folder on this server", "zip": "a zip of class sub-folders", "arrays": "a .npy or .npz file"}
UPLOAD_TYPES = {"zip": ["zip"], "arrays": ["npy", "npz"]}


def _checked(source: str, again: bool = False) -> DataCheck:
    """The check of `source`, kept for the session until the source changes (or `again`)."""
    kept = st.session_state.get("own_check")
    if again or kept is None or kept.source != source:
        with st.spinner("Checking the images…"):
            kept = check_source(source)
        st.session_state["own_check"] = kept
    return kept


def _folder_source() -> str | None:
    text = st.text_input("Folder on this server", key="own_folder", placeholder="/path/to/images",
                         help="one sub-folder per class, each holding PNG, JPEG, BMP, GIF or WebP images")
    if not text:
        return None
    try:
        return f"folder:{allowed_folder(text, data_roots(access.operator_token() is not None))}"
    except ValueError as exc:
        st.error(md(f"Refused: {exc}"))
        return None


def _upload_source(kind: str, root: Path) -> str | None:
    """Store the upload once per file (content-addressed under the training folder); its source."""
    label = ("Zip of one folder per class of images" if kind == "zip"
             else ".npy of images (N, H, W[, C]), or .npz with images, labels, class_names")
    upload = st.file_uploader(label, type=UPLOAD_TYPES[kind], key=f"own_upload_{kind}")
    if upload is None:
        return None
    stored = st.session_state.get("own_stored")
    if stored is None or stored[0] != upload.file_id:
        try:
            stored = (upload.file_id, store_upload(root, upload.name, upload.getvalue()), None)
        except (UploadRefused, OSError) as exc:
            stored = (upload.file_id, None, str(exc))
        st.session_state["own_stored"] = stored
    if stored[2]:
        st.error(md(f"Refused: {stored[2]}"))
    return stored[1]


def _summary(check: DataCheck) -> None:
    """Counts, size, formats and class balance; the refusal, or what training will use."""
    if not check.ok:
        st.error(md(f"Cannot train on this: {check.refusal}"), icon=":material/block:")
    if check.n_images:
        sizes = ", ".join(f"{h}×{w}" for h, w in check.sizes)
        formats = ", ".join(f"{kind} {n:,}" for kind, n in check.formats.most_common())
        colour = "grey, 1 channel" if check.channels == 1 else "colour, 3 channels"
        st.markdown(md(f"{check.n_images:,} images · {sizes} · {colour} · {formats}"))
    if check.n_unreadable:
        st.warning(md(f"{check.n_unreadable:,} unreadable files will be skipped, e.g. {check.unreadable[0]}"))
    if check.ignored:
        st.caption(md("Not images, ignored: " + ", ".join(f"{s} {n:,}" for s, n in check.ignored.most_common())))
    if check.class_counts:
        total = max(sum(check.class_counts), 1)
        # Columns as lists, not a pandas DataFrame: importing pandas here would add ~0.3 s to the
        # server's start (ui/preload.py imports this page's modules); Streamlit converts them itself.
        table = {"class": check.class_names, "images": check.class_counts,
                 "share": [n / total for n in check.class_counts]}
        st.dataframe(table, hide_index=True, use_container_width=True, key="own-balance",
                     height=min(35 * len(check.class_names) + 38, 300),
                     column_config={"share": st.column_config.ProgressColumn("share", format="percent",
                                                                            min_value=0.0, max_value=1.0)})
    if check.ok:
        n_test = check.n_test
        st.caption(f"{len(check.class_names):,} classes. One image in {round(1 / TEST_FRACTION)} of each class "
                   f"({n_test:,} images) is held out as the test set, which the map shows; the model trains on "
                   f"the other {check.n_images - n_test:,}.")
        _, height, width = check.shape
        if height % 4 or width % 4:
            st.caption(f"The conv architecture needs sides divisible by 4: choose mlp for {height}×{width} images.")


def panel(root: Path) -> None:
    """Choose and check your own data; sets `SOURCE_KEY` to a source a job may start from, or None."""
    kind = st.radio("Your data", list(KINDS), format_func=KINDS.get, key="own_kind", horizontal=True)
    source = _folder_source() if kind == "folder" else _upload_source(kind, root)
    st.session_state[SOURCE_KEY] = None
    if source is None:
        return
    again = kind == "folder" and st.button("Check again", key="own_check_again")
    check = _checked(source, again)
    _summary(check)
    if check.ok:
        st.session_state[SOURCE_KEY] = check.source
