"""The Train page's parts: the job form and the live job panel (polling, not blocking)."""

from __future__ import annotations

import time
from collections.abc import Callable

import streamlit as st

from pages.train import cluster, own_data
from ui import access, background, bundles, figures
from ui.navigation import EXPLORE
from ui.text import md
from ui.threads import on_worker
from vae.data.datasets import TRAIN_SIZES
from vae.models import REGISTRY
from vae.share.site_data import class_colours
from vae.training.backend import EngineUnreachable
from vae.training.estimate import images_per_second, run_seconds
from vae.training.events import EVENTS_FILE, read_events
from vae.training.jobs import Job, JobRefused, JobRegistry, TrainRequest, dataset_choices
from vae.training.live_map import read_live_map
from vae.training.options import FORM_OPTIONS, OPTIONS, Option
from vae.training.progress import RunProgress, summarize_events

FORCE_STOP_AFTER_S = 20
FIELDS = [option.name for option in FORM_OPTIONS]  # the form is generated from the training options
QUICK_LOOK = {"arch": "mlp", "latent_dim": 2, "epochs": 3, "batch_size": 128}  # a map in about a minute on a CPU


def _own_data_chosen() -> bool:
    return st.session_state.get("train_dataset") == own_data.OWN_DATA


def _request_from_state() -> TrainRequest:
    values = {name: st.session_state[f"train_{name}"] for name in FIELDS}
    if _own_data_chosen():
        values["dataset"] = st.session_state.get(own_data.SOURCE_KEY) or ""
    return TrainRequest(**values)


def _submit(jobs: JobRegistry) -> None:
    """Form callback: validate, then start; problems are shown next to their fields."""
    st.session_state.pop("train_refused", None)
    if not access.unlocked():
        return
    request = _request_from_state()
    devices = jobs.devices()
    errors = request.validate(jobs.root, devices)
    if _own_data_chosen() and not request.dataset:
        errors["dataset"] = "choose your data and let it pass the check first"
    st.session_state["train_errors"] = errors
    if errors:
        return
    try:
        jobs.start(request, devices, **cluster.resources())
    except JobRefused as exc:
        st.session_state["train_refused"] = str(exc)


def _field_error(name: str) -> None:
    message = st.session_state.get("train_errors", {}).get(name)
    if message:
        st.error(md(message), icon=":material/error:")


def _choices(option: Option, devices: list[str]) -> tuple[list[str], Callable[[str], str] | None]:
    """A select option's choices and how to show them (datasets say whether they need a download)."""
    if option.name == "dataset":
        offline = dict(dataset_choices())
        return [*offline, own_data.OWN_DATA], lambda n: (
            f"{n} · {'on this machine' if offline[n] else 'needs a download'}" if n in offline
            else f"{n} · a folder, a zip or a .npy")
    if option.name == "device":
        return devices, None
    return list(option.choices or ()), None


def _field(option: Option, devices: list[str]) -> None:
    """The widget of one option: text, a select box or a number input within the option's bounds."""
    key = f"train_{option.name}"
    if option.name == "name":
        st.text_input(option.label, key=key, help=f"the folder created in {md(bundles.train_dir())}")
    elif option.bounds is None:
        choices, show = _choices(option, devices)
        # A value a preset put in the session is the widget's; else the option's default.
        start = {} if key in st.session_state else {"index": choices.index(option.default)}
        st.selectbox(option.label, choices, key=key, format_func=show or str, **start)
    else:
        low, high = option.bounds
        start = {} if key in st.session_state else {"value": _default(option)}
        st.number_input(option.label, min_value=low, max_value=high, step=option.step, format=option.fmt, key=key,
                        help=option.help, **start)
    _field_error(option.name)


def _default(option: Option) -> object:
    """An option's value in a fresh form (latent_dim: the default architecture's own size)."""
    return option.default if option.default is not None else REGISTRY[OPTIONS["arch"].default][0]().latent_dim


def _use(values: dict[str, object]) -> None:
    for name, value in values.items():
        st.session_state[f"train_{name}"] = value


@st.cache_data(show_spinner=False, max_entries=32)
def _rate(arch: str, latent_dim: int, batch_size: int, shape: tuple[int, int, int]) -> float:
    return images_per_second(arch, latent_dim, batch_size, shape)


def presets() -> None:
    """The quick look and the defaults, then how long the form's settings would train here."""
    quick, full = st.columns(2)
    quick.button("Quick look", key="train_preset_quick", on_click=_use, args=(QUICK_LOOK,), width="stretch",
                 help="An MLP with a 2-D latent for 3 epochs: a model and its map in about a minute on a CPU")
    full.button("Defaults", key="train_preset_defaults", width="stretch", on_click=_use,
                args=({name: _default(OPTIONS[name]) for name in QUICK_LOOK},))
    value = {name: st.session_state.get(f"train_{name}", _default(OPTIONS[name]))
             for name in ("dataset", "arch", "latent_dim", "batch_size", "epochs")}
    if value["dataset"] not in TRAIN_SIZES:
        return
    n_train, shape = TRAIN_SIZES[value["dataset"]]
    rate = on_worker(_rate, value["arch"], int(value["latent_dim"]), int(value["batch_size"]), shape)
    st.caption(f"About {_eta(run_seconds(n_train, int(value['epochs']), rate))} for {value['epochs']} epochs of "
               f"{n_train:,} images here ({value['arch']}, {value['latent_dim']}-D, batch {value['batch_size']}: "
               f"{rate:,.0f} images/s measured on the CPU), then a few seconds for the map. For a preset's settings "
               "or the last Start's; a running job shows its own ETA.")


def form(jobs: JobRegistry, job: Job | None) -> None:
    """The data (outside the form: choosing it redraws the page with its check), then the settings
    form; Start launches the training CLI in its own process."""
    # A new name once the last job has used the one in the field (Start would refuse it: "already exists").
    if "train_name" not in st.session_state or (job is not None and not job.running
                                                 and st.session_state["train_name"] == job.name):
        st.session_state["train_name"] = time.strftime("my-vae-%Y%m%d-%H%M%S")
    numbers = [o for o in FORM_OPTIONS if o.bounds is not None]
    presets()
    devices = jobs.devices()
    _field(OPTIONS["dataset"], devices)
    if _own_data_chosen():
        own_data.panel(jobs.root)
    unchecked = _own_data_chosen() and not st.session_state.get(own_data.SOURCE_KEY)
    with st.form("train-form", border=True):
        for option in FORM_OPTIONS:
            if option.bounds is None and option.name not in ("name", "dataset"):
                _field(option, devices)
        left, right = st.columns(2)
        half = (len(numbers) + 1) // 2
        for column, part in ((left, numbers[:half]), (right, numbers[half:])):
            with column:
                for option in part:
                    _field(option, devices)
        if cluster.on_ray():
            cluster.fields(jobs.gpus())
        _field(OPTIONS["name"], devices)
        st.form_submit_button("Start training", type="primary", on_click=_submit, args=(jobs,),
                              disabled=job is not None and job.running or unchecked, use_container_width=True)
    refused = st.session_state.get("train_refused")
    if refused:
        st.error(md(refused))


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return "…"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def _progress_line(progress: RunProgress, job: Job) -> str:
    """Where a running job is; for an ended one, its status and the epochs it completed."""
    if not job.running:
        done = f" · {progress.epochs_completed}/{progress.epochs} epochs completed" if progress.epochs else ""
        return md(f"{job.status}{done}")
    if not progress.total_steps:
        return progress.phase
    return (f"{progress.phase} · epoch {progress.epoch}/{progress.epochs} · step {progress.step}/"
            f"{progress.steps_per_epoch} · {progress.images_per_s:,.0f} images/s · ETA {_eta(progress.eta_s)}")


def _done_fraction(progress: RunProgress, job: Job) -> float:
    if job.running:
        fraction = progress.fraction
    elif job.status == "completed":
        fraction = 1.0
    else:
        fraction = progress.epochs_completed / progress.epochs if progress.epochs else 0.0
    return min(1.0, max(0.0, fraction))


def _status_message(job: Job, progress: RunProgress) -> None:
    if job.running:
        if progress.umap_pending:
            st.info(f"Saved ({progress.bundle_status}); computing the UMAP map. Open it now with its PCA map: "
                    "the UMAP map appears there when it is ready.", icon=":material/check_circle:")
        elif progress.bundle:
            st.info(f"Saved ({progress.bundle_status}).", icon=":material/check_circle:")
        elif job.cancel_requested:
            st.warning("Stopping after the current step; the last completed epoch will be saved…")
        return
    text = md(f"Job “{job.name}” {job.status}: {job.message}")
    {"completed": st.success, "cancelled": st.warning}.get(job.status, st.error)(text)


def _open_bundle(job: Job, progress: RunProgress) -> None:
    """Offered as soon as the bundle is saved, before its UMAP map.

    A link, not a button that switches pages from the server: this panel polls while the job runs,
    and a poll the browser sent just as the server switched pages blanked the explorer. A link is
    the browser's own page change, which first stops its polls (as the sidebar's links do).
    """
    if job.bundle or progress.bundle:
        st.page_link(EXPLORE.script, label="Open in the explorer", query_params={"bundle": job.name})


def _panel(jobs: JobRegistry, was_running: bool) -> None:
    try:
        job = jobs.current()
    except EngineUnreachable as exc:  # the head went away while this panel polled
        st.error(md(exc))
        return
    if job is None:
        st.info("No training job yet. Choose settings and press Start.")
        return
    if job.running != was_running:
        st.rerun()  # the job started or ended: redraw the page (form, polling) as a whole
    progress = summarize_events(read_events(job.out_path / EVENTS_FILE))
    st.subheader(f"Job · {md(job.name)}", anchor=False)
    st.caption(md(f"{job.status} · started {time.strftime('%H:%M:%S', time.localtime(job.started))} · "
                  f"{progress.device or job.request.get('device', '')} · into {job.out_path.name}/ in the "
                  f"training folder{cluster.where(job)}"))
    st.progress(_done_fraction(progress, job), text=_progress_line(progress, job))
    _status_message(job, progress)
    if job.running and not progress.bundle and access.unlocked():  # once saved, nothing is left to cancel
        stuck = jobs.can_force_stop and job.cancel_requested and time.time() - job.cancel_requested > FORCE_STOP_AFTER_S
        if stuck:
            st.button("Force stop (lose the unsaved epoch)", key="force-stop", on_click=jobs.cancel,
                      kwargs={"force": True})
        else:
            st.button("Cancel", key="cancel-job", on_click=jobs.cancel, disabled=bool(job.cancel_requested))
    _open_bundle(job, progress)
    if progress.steps or progress.history:
        left, right = st.columns(2)
        left.plotly_chart(figures.training_elbo_figure(progress), key="train-elbo")
        right.plotly_chart(figures.training_terms_figure(progress), key="train-terms")
    live = read_live_map(job.out_path)
    if live is not None:
        names = progress.class_names or [str(i) for i in range(int(live["labels"].max(initial=-1)) + 1)]
        st.plotly_chart(figures.live_map_figure(live, names, class_colours(len(names))), key="live-map")
        st.caption(f"Live latent map: {len(live['xy']):,} fixed test images re-encoded after each epoch "
                   "(PCA of the codes, aligned to the previous epoch so the picture does not jump).")


def job_panel(jobs: JobRegistry) -> None:
    """Follow the current job: polls (ui/background.py) while it runs, not at all otherwise."""
    job = jobs.current()
    running = job is not None and job.running
    background.follow(_panel, running, jobs, running)
