"""The "Open a model" page's parts: the upload form, and the import's progress and outcome.

The import itself is the command line's (`vae-lab import`, vae/cli/import_model.py), run in its own process or
as a Ray job (vae/portable/import_job.py): the page saves the uploads, starts it and follows its progress file. With an
access token set (ui/access.py), uploading, importing and cancelling wait for it.
"""

from __future__ import annotations

import shutil

import streamlit as st

from pages.open_model import import_check
from ui import access, background, bundles, navigation
from vae.portable.import_job import ImportJob, new_workspace, start_import
from vae.portable.uploads import UploadRefused, extract_zip, find_model_folder
from vae.training.jobs import JobRefused, dataset_choices, run_directory

JOB_KEY = "open_job"
ERROR_KEY = "open_error"
ROUTES = {"onnx": "an ONNX encoder and decoder (a JSON spec optional)", "pythae": "a pythae model folder, zipped"}
OWN_DATA = "my own images (.npy or .npz upload)"
STAGES = {"metrics": "computing the metrics", "encoding": "encoding the map's images",
          "projection": "computing the UMAP map"}


def form() -> None:
    """What to import and which images to map; Import starts the job."""
    route = st.radio("What you have", list(ROUTES), format_func=ROUTES.get, key="open_route")
    if route == "onnx":
        st.file_uploader("Encoder (.onnx): images → mu and its spread", type=["onnx"], key="open_encoder")
        st.file_uploader("Decoder (.onnx): z → images", type=["onnx"], key="open_decoder")
        st.file_uploader("Spec (.json), optional: any of input_range, input_layout, posterior, decoder_output, "
                         "likelihood, class_names (what is left out is found by running the model)",
                         type=["json"], key="open_spec")
    else:
        st.file_uploader("The folder pythae's model.save() wrote, as a .zip", type=["zip"], key="open_zip")
    offline = [name for name, ok in dataset_choices() if ok]
    data = st.selectbox("Images for the map", [*offline, OWN_DATA], key="open_data",
                        help="a dataset's test split, or your own (N, H, W[, C]) images, uint8 or floats in [0, 1]")
    if data == OWN_DATA:
        st.file_uploader(".npy of images, or .npz with images, labels, class_names", type=["npy", "npz"],
                         key="open_images")
    st.button("Check the model", on_click=_check, help="run it on the images and show what the import finds")
    st.checkbox("Add a UMAP map (about a minute more)", key="open_umap")
    st.text_input("Bundle name", key="open_name", help="the folder created beside the other bundles")
    job: ImportJob | None = st.session_state.get(JOB_KEY)
    st.button("Import", type="primary", on_click=_start, disabled=job is not None and job.running)
    if st.session_state.get(ERROR_KEY):
        st.error(st.session_state[ERROR_KEY])


def _uploaded(key: str, label: str) -> bytes:
    file = st.session_state.get(key)
    if file is None:
        raise UploadRefused(f"choose {label} first")
    return file.getvalue()


def _route_args(workspace) -> list[str]:
    """Save the uploads in the import's workspace; the CLI arguments that name them."""
    if st.session_state["open_route"] == "onnx":
        for key, name, label in (("open_encoder", "encoder.onnx", "the encoder"),
                                 ("open_decoder", "decoder.onnx", "the decoder")):
            (workspace / name).write_bytes(_uploaded(key, label))
        args = ["onnx", "--encoder", str(workspace / "encoder.onnx"), "--decoder", str(workspace / "decoder.onnx")]
        if st.session_state.get("open_spec") is not None:
            (workspace / "spec.json").write_bytes(_uploaded("open_spec", "the spec"))
            args += ["--spec", str(workspace / "spec.json")]
    else:
        folder = extract_zip(_uploaded("open_zip", "the zip"), workspace / "model")
        args = ["pythae", str(find_model_folder(folder, "model_config.json"))]
    data = st.session_state["open_data"]
    if data == OWN_DATA:
        upload = st.session_state.get("open_images")
        suffix = ".npz" if upload is not None and upload.name.lower().endswith(".npz") else ".npy"
        (workspace / f"images{suffix}").write_bytes(_uploaded("open_images", "the images"))
        data = str(workspace / f"images{suffix}")
    return [*args, "--dataset", data, *([] if st.session_state.get("open_umap") else ["--no-umap"]),
            *import_check.flags()]


def _check() -> None:
    """Button callback: save the uploads and run the model on the images (import_check.py)."""
    st.session_state[ERROR_KEY] = None
    if not access.unlocked():
        return
    import_check.run(_route_args, new_workspace(bundles.train_dir()), bundles.job_engine())


def _start() -> None:
    """Button callback: check the name and the uploads, then start the import process."""
    st.session_state[ERROR_KEY] = None
    if not access.unlocked():
        return
    root = bundles.train_dir()
    try:
        out = run_directory(root, st.session_state.get("open_name", ""))
    except ValueError as exc:
        st.session_state[ERROR_KEY] = f"Bundle name: {exc}"
        return
    workspace = new_workspace(root)
    try:
        st.session_state[JOB_KEY] = start_import(_route_args(workspace), out, workspace, bundles.job_engine())
    except (UploadRefused, JobRefused) as exc:  # JobRefused: on Ray, a job writes there already, or no answer
        shutil.rmtree(workspace, ignore_errors=True)
        st.session_state[ERROR_KEY] = f"Refused: {exc}"


def _panel(was_running: bool) -> None:
    job: ImportJob | None = st.session_state.get(JOB_KEY)
    if job is None:
        st.info("Nothing imported yet. Upload a model, choose the images for its map, and press Import.")
        return
    if job.running != was_running:
        st.rerun()  # started or ended: redraw the form (button state) and stop or start polling
    st.subheader(f"Import · {job.out.name}")
    stages = job.progress()
    if job.running and not stages:
        st.progress(0.0, text="checking and converting the model…")
    for stage, (done, total) in stages.items():
        st.progress(done / total if total else 1.0, text=f"{STAGES.get(stage, stage)} · {done:,}/{total:,}")
    status, message = job.outcome()
    if status == "running" and access.unlocked():
        st.button("Cancel", key="import-cancel", on_click=_cancel, args=(job,))
    if status == "completed":
        st.success(message)
        if st.button("Open in the explorer", type="primary", key="open-imported"):
            navigation.open_in_explorer(job.out.name)
    elif status == "cancelled":
        st.warning(f"Cancelled: {message}")
    elif status == "refused":
        st.error(f"Refused: {message}")
    if status != "running":
        job.clean_up()


def _cancel(job: ImportJob) -> None:
    if access.unlocked():
        job.stop()


def job_panel() -> None:
    """Follow the import: polls (ui/background.py) while it runs."""
    job: ImportJob | None = st.session_state.get(JOB_KEY)
    running = job is not None and job.running
    background.follow(_panel, running, running)
