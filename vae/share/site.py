"""`vae-lab export`: a bundle as a static site that maps, shows and decodes with no Python server.

The folder holds index.html, site.js (the page) and explorer.js (what it shows, web/explorer_data.js
and web/explorer.js joined; the notebook widget shows it too), the app's browser components (vae_lab.js, made from
ui/components/local_decoder.js and live_decoder.js as pages/explore/live_decoder.py joins them;
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
import io
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from vae.bundle import Bundle, load_bundle
from vae.latent import tsne
from vae.latent.selection import display_subset
from vae.models.decoder_export import UnsupportedLayer
from vae.share.atlas import atlas_webp
from vae.share.browser import ORT_DIR, ORT_MODULE, decoder_onnx
from vae.share.components import COMPONENTS_DIR, LIVE_DECODER_JS, MAP_EVENTS_JS, component_js
from vae.share.site_data import choose_projection, site_data

ORT_WASM = "ort-wasm-simd-threaded.wasm"
ORT_FILES = (ORT_MODULE, ORT_WASM, "LICENSE.txt")
PLOTLY_PACKED = "plotly.min.js.gz"
WEB = Path(__file__).parent / "web"
PAGE_FILES = ("index.html", "site.js", "site.css", "explorer.css")
EXPLORER_JS = ("explorer_data.js", "explorer.js")  # one module, its files joined in this order
DEFAULT_IMAGES = 10_000
MAX_IMAGES = 20_000  # the browser places codes on a UMAP map by its nearest codes: all of them, each step
DECODER = "decoder.onnx"
ATLAS = "atlas.webp"
DATA = "site.json"


@dataclass(frozen=True)
class SiteParts:
    """What a site (or the notebook widget) shows of a bundle: site.json's data, the decoder, the atlas."""

    data: dict
    decoder: bytes
    atlas: bytes


@dataclass(frozen=True)
class SiteReport:
    """What an export wrote: the folder, its files' sizes in bytes and the images it holds."""

    out: Path
    sizes: dict[str, int]
    n_images: int

    @property
    def total_bytes(self) -> int:
        return sum(self.sizes.values())


def site_parts(bundle: Bundle, images: int = DEFAULT_IMAGES, projection: str | None = None) -> SiteParts:
    """The parts for a fixed sample of `images` of the bundle's images, on the map `projection`."""
    if not 1 <= images <= MAX_IMAGES:
        raise ValueError(f"images must be 1..{MAX_IMAGES:,}, not {images:,}")
    try:
        onnx_bytes, output = decoder_onnx(bundle.model)
    except UnsupportedLayer as error:
        raise ValueError(f"{bundle.name}'s decoder cannot run in a browser: {error}") from error
    keep = display_subset(len(bundle.mu), images)
    picture, layout = atlas_webp(bundle.images, keep)
    decoder = {"file": DECODER, "latent_dim": bundle.latent_dim, "output": output,
               "image_shape": list(bundle.model.config.input_shape)}
    data = site_data(bundle, keep, choose_projection(bundle, projection), decoder, {"file": ATLAS, **layout})
    return SiteParts(data, onnx_bytes, picture)


def _check_ort() -> None:
    missing = [name for name in ORT_FILES if not (ORT_DIR / name).is_file()]
    if missing:
        raise ValueError(f"onnxruntime-web is not in {ORT_DIR} ({', '.join(missing)} missing): "
                         "run scripts/web-assets.sh (it needs npm)")


def packed_scripts() -> dict[str, bytes]:
    """Plotly.js and onnxruntime-web's WebAssembly gzip-compressed, by their names in a site (no
    time stamp: the same bytes every time)."""
    _check_ort()
    import plotly.offline

    return {PLOTLY_PACKED: gzip.compress(plotly.offline.get_plotlyjs().encode(), compresslevel=9, mtime=0),
            f"onnxruntime-web/{ORT_WASM}.gz": gzip.compress((ORT_DIR / ORT_WASM).read_bytes(), compresslevel=9,
                                                            mtime=0)}


def components_module() -> str:
    """The live decoder as the app mounts it, as one ES module that also lends the explorer its decoder."""
    return component_js(LIVE_DECODER_JS) + "\nexport { buildLocalDecoder, readArray };\n"


def _ready_folder(out: Path) -> None:
    """An empty folder to write into: new, empty, or a previous export (replaced)."""
    if out.exists() and any(out.iterdir()):
        if not (out / DATA).is_file() or not (out / "index.html").is_file():
            raise ValueError(f"{out} is not empty and holds no earlier export: choose a new folder")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


def explorer_module() -> str:
    """The shared explorer's module: its files (EXPLORER_JS) joined."""
    return "\n".join((WEB / name).read_text() for name in EXPLORER_JS)


def _write_scripts(out: Path) -> None:
    packed = packed_scripts()
    (out / "onnxruntime-web").mkdir()
    for name, data in packed.items():
        (out / name).write_bytes(data)
    for name in ORT_FILES:
        if name != ORT_WASM:
            shutil.copyfile(ORT_DIR / name, out / "onnxruntime-web" / name)
    (out / "vae_lab.js").write_text(components_module(), encoding="utf-8")
    (out / "map_events.js").write_text(component_js(MAP_EVENTS_JS), encoding="utf-8")
    (out / "explorer.js").write_text(explorer_module(), encoding="utf-8")
    for source in (COMPONENTS_DIR / "live_decoder.css", *(WEB / n for n in PAGE_FILES)):
        shutil.copyfile(source, out / source.name)


def export_site(bundle_path: str | Path, out: str | Path, images: int = DEFAULT_IMAGES,
                projection: str | None = None) -> SiteReport:
    """Write the static site of the bundle at `bundle_path` into `out` (a sample of `images` images)."""
    _check_ort()
    bundle = tsne.with_cached_map(load_bundle(bundle_path))
    parts = site_parts(bundle, images, projection)
    out = Path(out)
    _ready_folder(out)
    _write_scripts(out)
    (out / DECODER).write_bytes(parts.decoder)
    (out / ATLAS).write_bytes(parts.atlas)
    (out / DATA).write_text(json.dumps(parts.data, separators=(",", ":")), encoding="utf-8")
    sizes = {str(p.relative_to(out)): p.stat().st_size for p in sorted(out.rglob("*")) if p.is_file()}
    return SiteReport(out, sizes, parts.data["n_images"])


def site_zip(bundle_path: str | Path, images: int = DEFAULT_IMAGES) -> bytes:
    """The static site of a bundle as the bytes of a zip file (one folder, `<bundle name>-site/`)."""
    import tempfile
    import zipfile

    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / f"{Path(bundle_path).name}-site"
        export_site(bundle_path, folder, images)
        buffer = io.BytesIO()
        # The largest files are compressed already (gzip, WebP, float16 weights): stored as they are.
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    archive.write(path, str(path.relative_to(folder.parent)))
        return buffer.getvalue()
