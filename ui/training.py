"""The Train page's parts: the job form and the live job panel (polling, not blocking)."""

from __future__ import annotations

import time

import streamlit as st

from ui import bundles, figures
from vae.device import available_devices
from vae.jobs import BOUNDS, Job, JobRefused, JobRegistry, TrainRequest, dataset_choices
from vae.models import REGISTRY
from vae.training import read_events
from vae.training.live_map import read_live_map
from vae.training.progress import RunProgress, summarize_events

POLL_S = 1.0
FORCE_STOP_AFTER_S = 20
FIELDS = ("name", "dataset", "arch", "latent_dim", "beta", "kl_warmup", "epochs", "batch_size", "lr",
          "seed", "device")


def registry() -> JobRegistry:
    """The job registry of the app's own checkpoints folder (shared by every tab and user)."""
    return JobRegistry(bundles.train_dir())


def devices() -> list[str]:
    return [d for d in available_devices() if d != "auto"]


def _request_from_state() -> TrainRequest:
    return TrainRequest(**{name: st.session_state[f"train_{name}"] for name in FIELDS})


def _submit(jobs: JobRegistry) -> None:
    """Form callback: validate, then start; problems are shown next to their fields."""
    st.session_state.pop("train_refused", None)
    request = _request_from_state()
    errors = request.validate(jobs.root, devices())
    st.session_state["train_errors"] = errors
    if errors:
        return
    try:
        jobs.start(request, devices())
    except JobRefused as exc:
        st.session_state["train_refused"] = str(exc)


def _field_error(name: str) -> None:
    message = st.session_state.get("train_errors", {}).get(name)
    if message:
        st.error(message, icon=":material/error:")


def _number(label: str, name: str, default: float, step: float, fmt: str | None = None, help: str | None = None):
    low, high = BOUNDS[name]
    st.number_input(label, min_value=low, max_value=high, value=default, step=step, format=fmt,
                    key=f"train_{name}", help=help)
    _field_error(name)


def form(jobs: JobRegistry, job: Job | None) -> None:
    """The settings form; Start launches the training CLI in its own process."""
    st.session_state.setdefault("train_name", time.strftime("my-vae-%Y%m%d-%H%M%S"))
    choices = dataset_choices()
    offline = {name: ok for name, ok in choices}
    with st.form("train-form", border=True):
        st.selectbox("Dataset", [name for name, _ in choices], key="train_dataset",
                     format_func=lambda n: f"{n} · {'on this machine' if offline[n] else 'needs a download'}")
        _field_error("dataset")
        st.selectbox("Architecture", list(REGISTRY), index=list(REGISTRY).index("conv"), key="train_arch")
        _field_error("arch")
        left, right = st.columns(2)
        with left:
            _number("Latent size", "latent_dim", 16, 1)
            _number("β (KL weight)", "beta", 1.0, 0.1, "%.2f")
            _number("Epochs", "epochs", 10, 1)
            _number("Learning rate", "lr", 1e-3, 1e-4, "%.5f")
        with right:
            _number("KL warm-up (epochs)", "kl_warmup", 0.0, 0.5, "%.1f")
            _number("Batch size", "batch_size", 128, 16)
            _number("Seed", "seed", 0, 1)
            st.selectbox("Device", devices(), key="train_device")
            _field_error("device")
        st.text_input("Bundle name", key="train_name", help="the folder created under checkpoints/")
        _field_error("name")
        st.form_submit_button("Start training", type="primary", on_click=_submit, args=(jobs,),
                              disabled=job is not None and job.running, use_container_width=True)
    refused = st.session_state.get("train_refused")
    if refused:
        st.error(refused)


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return "…"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def _progress_line(progress: RunProgress, running: bool) -> str:
    phase = progress.phase if running or progress.phase == "finished" else "stopped"
    if not progress.total_steps:
        return phase
    eta = f" · ETA {_eta(progress.eta_s)}" if running else ""
    return (f"{phase} · epoch {progress.epoch}/{progress.epochs} · step {progress.step}/"
            f"{progress.steps_per_epoch} · {progress.images_per_s:,.0f} images/s{eta}")


def _status_message(job: Job) -> None:
    if job.running:
        if job.cancel_requested:
            st.warning("Stopping after the current step; the last completed epoch will be saved…")
        return
    text = f"Job {job.name!r} {job.status}: {job.message}"
    {"completed": st.success, "cancelled": st.warning}.get(job.status, st.error)(text)


def _open_bundle(job: Job) -> None:
    if job.bundle and st.button("Open in the explorer", type="primary", key=f"open-{job.id}"):
        st.session_state["bundle"] = job.name
        st.switch_page("app_pages/explore.py", query_params={"bundle": job.name})


def _panel(jobs: JobRegistry, was_running: bool) -> None:
    job = jobs.current()
    if job is None:
        st.info("No training job yet. Choose settings and press Start.")
        return
    if job.running != was_running:
        st.rerun()  # the job started or ended: redraw the page (form, polling) as a whole
    progress = summarize_events(read_events(job.out_path / "events.jsonl"))
    st.subheader(f"Job · {job.name}")
    st.caption(f"{job.status} · started {time.strftime('%H:%M:%S', time.localtime(job.started))} · "
               f"{progress.device or job.request.get('device', '')} · pid {job.pid} · {job.out}")
    st.progress(progress.fraction if job.running else (1.0 if job.status == "completed" else progress.fraction),
                text=_progress_line(progress, job.running))
    _status_message(job)
    if job.running:
        stuck = job.cancel_requested and time.time() - job.cancel_requested > FORCE_STOP_AFTER_S
        if stuck:
            st.button("Force stop (lose the unsaved epoch)", key="force-stop", on_click=jobs.cancel,
                      kwargs={"force": True})
        else:
            st.button("Cancel", key="cancel-job", on_click=jobs.cancel, disabled=bool(job.cancel_requested))
    _open_bundle(job)
    if progress.steps or progress.history:
        left, right = st.columns(2)
        left.plotly_chart(figures.training_elbo_figure(progress), key="train-elbo")
        right.plotly_chart(figures.training_terms_figure(progress), key="train-terms")
    live = read_live_map(job.out_path)
    if live is not None:
        names = progress.class_names or [str(i) for i in range(int(live["labels"].max()) + 1)]
        st.plotly_chart(figures.live_map_figure(live, names, bundles.class_colours(len(names))), key="live-map")
        st.caption(f"Live latent map: {len(live['xy']):,} fixed test images re-encoded after each epoch "
                   "(PCA of the codes, aligned to the previous epoch so the picture does not jump).")


def job_panel(jobs: JobRegistry) -> None:
    """Follow the current job: polls every second while it runs, not at all otherwise."""
    job = jobs.current()
    running = job is not None and job.running
    st.fragment(run_every=POLL_S if running else None)(_panel)(jobs, running)
