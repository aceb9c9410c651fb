"""`vae-lab export`: a bundle as a static site that maps, shows and decodes with no Python server.

The folder holds index.html, site.js (the page) and explorer.js (what it shows, also the notebook
widget's), the app's browser components (vae_lab.js, made
from ui/components/local_decoder.js and live_decoder.js as ui/live_decoder.py joins them;
map_events.js), Plotly.js from the installed plotly package, onnxruntime-web from the app's pinned
copy (ui/static/, filled by scripts/web-assets.sh), decoder.onnx, atlas.webp (the images) and
site.json (the map, classes, per-image values, codes). Only the decoder leaves: the site holds no
encoder. Any static file server serves it; the page asks nothing of any other host.

Plotly.js (4.8 MB) and onnxruntime-web's WebAssembly (14 MB) are stored gzip-compressed, 1.5 and
3.7 MB, and unpacked by the page (DecompressionStream): that keeps the shipped z16's site of
10,000 images under 10 MB on any host, also one that compresses nothing.
"""

from __future__ import annotations

import gzip
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from vae.bundle import Bundle, load_bundle
from vae.latent.selection import display_subset
from vae.models.decoder_export import UnsupportedLayer
from vae.share.atlas import atlas_webp
from vae.share.browser import decoder_onnx
from vae.share.site_data import choose_projection, site_data

UI = Path(__file__).resolve().parents[2] / "ui"
COMPONENTS = UI / "components"
ORT_DIR = UI / "static" / "onnxruntime-web"  # as ui/live_decoder.py's ORT_DIR
ORT_FILES = ("ort.wasm.bundle.min.mjs", "ort-wasm-simd-threaded.wasm", "LICENSE.txt")
PACKED = ("ort-wasm-simd-threaded.wasm",)  # with plotly.min.js, stored as .gz (see the top)
WEB = Path(__file__).parent / "web"
PAGE_FILES = ("index.html", "site.js", "site.css", "explorer.js", "explorer.css")
DEFAULT_IMAGES = 10_000
MAX_IMAGES = 20_000  # the browser places codes on a UMAP map by its nearest codes: all of them, each step
DECODER = "decoder.onnx"
ATLAS = "atlas.webp"
DATA = "site.json"


@dataclass(frozen=True)
class SiteReport:
    """What an export wrote: the folder, its files' sizes in bytes and the images it holds."""

    out: Path
    sizes: dict[str, int]
    n_images: int

    @property
    def total_bytes(self) -> int:
        return sum(self.sizes.values())


def _ready_folder(out: Path) -> None:
    """An empty folder to write into: new, empty, or a previous export (replaced)."""
    if out.exists() and any(out.iterdir()):
        if not (out / DATA).is_file() or not (out / "index.html").is_file():
            raise ValueError(f"{out} is not empty and holds no earlier export: choose a new folder")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


def _components_module() -> str:
    """The live decoder as the app mounts it (local_decoder.js, then live_decoder.js), as one ES
    module that also lends its decoder to the page."""
    parts = [(COMPONENTS / name).read_text() for name in ("local_decoder.js", "live_decoder.js")]
    return "\n".join(parts) + "\nexport { buildLocalDecoder, readArray };\n"


def _write_packed(path: Path, data: bytes) -> None:
    """`data` gzip-compressed as `path`.gz (no time stamp: the same export gives the same bytes)."""
    path.with_name(path.name + ".gz").write_bytes(gzip.compress(data, compresslevel=9, mtime=0))


def _copy_scripts(out: Path) -> None:
    missing = [name for name in ORT_FILES if not (ORT_DIR / name).is_file()]
    if missing:
        raise ValueError(f"onnxruntime-web is not in {ORT_DIR} ({', '.join(missing)} missing): "
                         "run scripts/web-assets.sh (it needs npm)")
    import plotly.offline

    _write_packed(out / "plotly.min.js", plotly.offline.get_plotlyjs().encode())
    (out / "onnxruntime-web").mkdir()
    for name in ORT_FILES:
        if name in PACKED:
            _write_packed(out / "onnxruntime-web" / name, (ORT_DIR / name).read_bytes())
        else:
            shutil.copyfile(ORT_DIR / name, out / "onnxruntime-web" / name)
    (out / "vae_lab.js").write_text(_components_module(), encoding="utf-8")
    for source in (COMPONENTS / "map_events.js", COMPONENTS / "live_decoder.css", *(WEB / n for n in PAGE_FILES)):
        shutil.copyfile(source, out / source.name)


def _write_model(bundle: Bundle, out: Path, images: int, projection: str | None) -> int:
    """decoder.onnx, atlas.webp and site.json for a sample of `images` of the bundle's images."""
    try:
        onnx_bytes, output = decoder_onnx(bundle.model)
    except UnsupportedLayer as error:
        raise ValueError(f"{bundle.name}'s decoder cannot run in a browser: {error}") from error
    keep = display_subset(len(bundle.mu), images)
    picture, layout = atlas_webp(bundle.images, keep)
    (out / DECODER).write_bytes(onnx_bytes)
    (out / ATLAS).write_bytes(picture)
    decoder = {"file": DECODER, "latent_dim": bundle.latent_dim, "output": output,
               "image_shape": list(bundle.model.config.input_shape)}
    data = site_data(bundle, keep, choose_projection(bundle, projection), decoder, {"file": ATLAS, **layout})
    (out / DATA).write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8")
    return len(keep)


def export_site(bundle_path: str | Path, out: str | Path, images: int = DEFAULT_IMAGES,
                projection: str | None = None) -> SiteReport:
    """Write the static site of the bundle at `bundle_path` into `out` (a sample of `images` images)."""
    if not 1 <= images <= MAX_IMAGES:
        raise ValueError(f"images must be 1..{MAX_IMAGES:,}, not {images:,}")
    bundle = load_bundle(bundle_path)
    out = Path(out)
    _ready_folder(out)
    _copy_scripts(out)
    n_images = _write_model(bundle, out, images, projection)
    sizes = {str(p.relative_to(out)): p.stat().st_size for p in sorted(out.rglob("*")) if p.is_file()}
    return SiteReport(out, sizes, n_images)
