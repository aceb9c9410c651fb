"""Named selections, tags and the user's metadata on the Explore page: save and tag the map's selection,
list them with 'show on map' and CSV downloads, upload a metadata CSV (vae.diagnostics.annotations).

They are kept per bundle in the user's data folder; saving, tagging, uploading and deleting write there,
so with an access token set (ui/access.py) they wait for it. Every name and cell is shown as text.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial

import numpy as np
import streamlit as st

from pages.explore import filter_panel, user_annotations
from ui import access
from ui.text import md
from vae.bundle import Bundle
from vae.diagnostics import annotations as store
from vae.diagnostics.annotations import SELECTIONS, TAGS, AnnotationError
from vae.diagnostics.metadata import MAX_BYTES, MetadataError, read_metadata_csv
from vae.diagnostics.selection import selection_csv

MESSAGE_KEY = "annotations_message"


def _write(bundle: Bundle, change, done: str) -> None:
    """Apply `change` (Annotations -> Annotations) and save; the outcome is shown on the next run."""
    if not access.unlocked():
        return
    try:
        store.save(bundle.path, change(user_annotations.annotations(bundle)), len(bundle.mu))
        st.session_state[MESSAGE_KEY] = ("success", done)
    except (AnnotationError, MetadataError) as exc:
        st.session_state[MESSAGE_KEY] = ("error", str(exc))
    except OSError as exc:
        st.session_state[MESSAGE_KEY] = ("error", f"the annotations could not be saved: {exc.strerror or exc}")


def _add(bundle: Bundle, kind: str, indices: np.ndarray) -> None:
    name = st.session_state.get(f"annotations_{kind}_name", "")
    _write(bundle, lambda kept: store.with_group(kept, kind, name, indices, len(bundle.mu)),
           f"{'Saved' if kind == SELECTIONS else 'Tagged'} {len(indices):,} images as '{' '.join(name.split())}'")
    if st.session_state.get(MESSAGE_KEY, ("",))[0] == "success":
        st.session_state[f"annotations_{kind}_name"] = ""


def _delete(bundle: Bundle, kind: str, name: str) -> None:
    _write(bundle, lambda kept: store.without_group(kept, kind, name), f"Deleted '{name}'")


def _upload(bundle: Bundle) -> None:
    upload = st.session_state.get("annotations_metadata_file")
    if upload is None:
        return
    metadata = partial(read_metadata_csv, upload.getvalue()[:MAX_BYTES + 1], len(bundle.mu), upload.name)
    _write(bundle, lambda kept: replace(kept, metadata=metadata()), f"Read the metadata of {upload.name}")


def _writing_controls(bundle: Bundle, selection: np.ndarray | None) -> None:
    count = 0 if selection is None else len(selection)
    what = f"the map's selection ({count:,} images)" if count else "a box or lasso selection on the map"
    for kind, label, button in ((SELECTIONS, f"Save {what} as", "Save selection"),
                                (TAGS, f"Tag {what} with", "Tag selection")):
        name_column, button_column = st.columns([3, 1], vertical_alignment="bottom")
        name_column.text_input(label, key=f"annotations_{kind}_name", max_chars=store.MAX_NAME)
        button_column.button(button, key=f"annotations_{kind}_add", disabled=not count,
                             on_click=_add, args=(bundle, kind, selection))
    st.file_uploader("Your metadata: a CSV of test index -> columns", type=["csv"], key="annotations_metadata_file",
                     on_change=_upload, args=(bundle,),
                     help=f"A column named 'index' (else the first) of test indices, up to 50 more columns; "
                          f"{MAX_BYTES // 1_000_000} MB at most. Colour the map by a column, or filter by it.")


def _groups(bundle: Bundle, kind: str, groups: dict[str, np.ndarray], can_write: bool) -> None:
    for number, (name, indices) in enumerate(groups.items()):
        row = st.columns([3, 1, 1, 1], vertical_alignment="center")
        row[0].markdown(f"**{md(name)}** · {len(indices):,} images")
        row[1].button("Show on map", key=f"annotations_show_{kind}_{number}", on_click=filter_panel.show_only,
                      args=(bundle, kind, name))
        row[2].download_button("CSV", partial(selection_csv, indices, bundle.labels, bundle.class_names, bundle.mu),
                               file_name=f"{kind[:-1]}-{number}.csv", mime="text/csv",
                               key=f"annotations_csv_{kind}_{number}")
        if can_write:
            row[3].button("Delete", key=f"annotations_delete_{kind}_{number}", on_click=_delete,
                          args=(bundle, kind, name))


def panel(bundle: Bundle, selection: np.ndarray | None) -> None:
    """Save or tag `selection` (the map's, as the filter leaves it), the saved ones, and the metadata."""
    kept, problem = user_annotations.loaded(bundle)
    with st.expander("Selections, tags and metadata", expanded=bool(kept.selections or kept.tags)), \
            st.container(key="annotations-panel"):
        if problem:
            st.warning(f"Your earlier annotations of this model were not read: {md(problem)}. Saving keeps that "
                       "file beside the new one.")
        can_write = access.unlocked()
        if can_write:
            _writing_controls(bundle, selection)
        else:
            access.token_form("saves selections, tags and metadata")
        if message := st.session_state.pop(MESSAGE_KEY, None):
            (st.success if message[0] == "success" else st.error)(md(message[1]))
        for kind, title in ((SELECTIONS, "Saved selections"), (TAGS, "Tags")):
            if getattr(kept, kind):
                st.markdown(f"**{title}**")
                _groups(bundle, kind, getattr(kept, kind), can_write)
        if kept.selections or kept.tags:
            st.download_button("All selections and tags (CSV)", partial(store.annotations_csv, kept),
                               file_name="annotations.csv", mime="text/csv", key="annotations_csv_all")
        if kept.metadata is not None:
            meta = kept.metadata
            numbers, texts = ", ".join(meta.numeric_names()) or "none", ", ".join(meta.text_names()) or "none"
            st.caption(f"Metadata from {md(meta.file_name)}: {len(meta.index):,} rows; numbers: {md(numbers)}; "
                       f"text: {md(texts)}. Colour the map by a column, or filter by it.")
            left, right = st.columns(2)
            left.download_button("Metadata (CSV)", partial(store.metadata_csv, meta), file_name="metadata.csv",
                                 mime="text/csv", key="annotations_metadata_csv")
            if can_write:
                right.button("Remove the metadata", key="annotations_metadata_remove", on_click=_write,
                             args=(bundle, lambda kept: replace(kept, metadata=None), "Removed the metadata"))
        # The file's name, not its folder: the server's disks are not shown to its visitors.
        st.caption(f"Kept for this model in the data folder of the account running this server "
                   f"(annotations/{md(store.store_file(bundle.path).name)}), not in the bundle: everyone using "
                   "this server sees them.")
