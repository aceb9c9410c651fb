"""Decoding in the browser: onnxruntime-web against the hand-written JavaScript interpreter it replaced.

In one page of Debian's Chromium (headless, software GL), served by the app's own Streamlit server
(onnxruntime-web from ui/static/, as the explorer loads it), for the shipped 16-D conv model: the
interpreter (bench/anchors/, the decoder VAE Lab shipped before, with its float16 program) and
onnxruntime-web's WebAssembly back end on the explorer's ONNX export (float16 weights, as sent),
the same with float32 weights, and a `torch.onnx.export` of the same decoder (what a portable
bundle's decoder.onnx looks like). Each --runs times in a fresh browser context, in alternating
order, after onnxruntime-web has started (its import and WebAssembly compile, timed on their own):
the time to build the decoder (onnxruntime: the session), the first decode, and the median and p95
of --decodes decodes of the same random codes; medians over runs.
WebGPU is looked for and reported: headless Chromium with software GL has none. Prints a table
and writes bench/results/browser_decode.json.

    .venv/bin/python -m bench.browser_decode [--runs 5] [--decodes 100]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import sys
import warnings
from pathlib import Path

import numpy as np
import torch

from bench.anchors import decoder_program
from bench.stats import percentile
from harness.browser import CHROMIUM, CHROMIUM_FLAGS, free_port, start_app
from pages.explore.live_decoder import ORT_DIR, ORT_MODULE, browser_decoder
from vae.bundle import load_bundle
from vae.cli.tables import format_table
from vae.models.decoder_export import export_decoder
from vae.share.components import component_js

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "checkpoints" / "fashion-mnist-conv-z16"
ANCHOR_JS = ROOT / "bench" / "anchors" / "js_interpreter.js"
ORT_PATH = f"/app/static/{ORT_DIR.name}/{ORT_MODULE}"

# Each script in its own scope (they share function names), exposed as one object.
SCOPED = "window.{name} = (() => {{\n{source}\nreturn {{ {exports} }};\n}})();"
# Import onnxruntime-web and start its WebAssembly back end (fetch, compile, initialise), which the
# first session of a page waits for: timed on its own, as the explorer starts it.
LOAD_ORT = """async (ortUrl) => {
  const started = performance.now();
  await onnx.startOrt(ortUrl);
  return performance.now() - started;
}"""
# Build a decoder, then time `codes` through it; the results of the last code are returned.
TIME_DECODES = """async ([kind, decoder, ortUrl, codes]) => {
  let started = performance.now();
  const decode = kind === 'interpreter' ? interpreter.buildDecoder(decoder)
    : await onnx.buildDecoder(decoder, ortUrl);
  const build = performance.now() - started;
  const times = [];
  let image = null;
  for (const code of codes) {
    started = performance.now();
    image = await decode(code);
    times.push(performance.now() - started);
  }
  return {build, times, image: Array.from(image)};
}"""
WEBGPU = """async () => {
  if (!navigator.gpu) return 'navigator.gpu is absent';
  const adapter = await navigator.gpu.requestAdapter().catch(() => null);
  return adapter ? 'available' : 'navigator.gpu has no adapter';
}"""


def torch_exported_onnx(model) -> bytes:
    """The decoder through `torch.onnx.export`, as a portable bundle's decoder.onnx is made."""

    class Decoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, z: torch.Tensor) -> torch.Tensor:
            return self.model.decode(z)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(Decoder(), (torch.zeros(1, model.latent_dim),), input_names=["z"],
                                    output_names=["probs"], dynamo=True, verbose=False)
    return program.model_proto.SerializeToString()


def decoders(model) -> dict[str, tuple[str, dict]]:
    """name: (kind, the decoder as the page receives it)."""
    shape, dim = model.config.input_shape, model.latent_dim
    program = decoder_program.export_decoder(model).to_json("float16")
    return {
        "JS interpreter (anchor), float16 weights": ("interpreter", program),
        "onnxruntime-web, explorer's ONNX, float16 weights": (
            "onnx", browser_decoder(export_decoder(model), dim, shape)),
        "onnxruntime-web, explorer's ONNX, float32 weights": (
            "onnx", browser_decoder(export_decoder(model, "float32"), dim, shape)),
        "onnxruntime-web, torch.onnx.export (portable bundle)": (
            "onnx", browser_decoder(torch_exported_onnx(model), dim, shape)),
    }


def run_once(browser, url: str, cases: dict, codes: list[list[float]], order: list[str]) -> dict[str, dict]:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{url}/app/static/{ORT_DIR.name}/LICENSE.txt")  # a page of the app's origin, nothing else
    anchor = component_js(("arrays.js",)) + ANCHOR_JS.read_text()
    page.add_script_tag(content=SCOPED.format(name="interpreter", source=anchor, exports="buildDecoder"))
    page.add_script_tag(content=SCOPED.format(name="onnx", source=component_js(("arrays.js", "local_decoder.js")),
                                              exports="buildDecoder, startOrt"))
    results = {"load_ort_ms": page.evaluate(LOAD_ORT, f"{url}{ORT_PATH}")}
    for name in order:
        kind, decoder = cases[name]
        results[name] = page.evaluate(TIME_DECODES, [kind, decoder, f"{url}{ORT_PATH}", codes])
    results["webgpu"] = page.evaluate(WEBGPU)
    context.close()
    return results


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="fresh browser contexts (medians reported)")
    parser.add_argument("--decodes", type=int, default=100)
    args = parser.parse_args()
    if not (ORT_DIR / ORT_MODULE).is_file():
        sys.exit(f"onnxruntime-web is not in {ORT_DIR}: run scripts/web-assets.sh")
    model = load_bundle(SHIPPED).model.eval()
    cases = decoders(model)
    codes = np.random.default_rng(0).standard_normal((args.decodes, model.latent_dim)).astype(np.float32)
    expected = model.decode(torch.from_numpy(codes[-1:]))[0].detach().numpy().ravel()
    names = list(cases)
    runs = []
    port = free_port()
    server = start_app(port)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            for run in range(args.runs):
                runs.append(run_once(browser, f"http://127.0.0.1:{port}", cases, codes.tolist(),
                                     names if run % 2 == 0 else names[::-1]))
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=20)

    summary = {}
    for name in names:
        results = [r[name] for r in runs]
        summary[name] = {
            "build_ms": statistics.median(r["build"] for r in results),
            "first_ms": statistics.median(r["times"][0] for r in results),
            "median_ms": statistics.median(statistics.median(r["times"]) for r in results),
            "p95_ms": statistics.median(percentile(r["times"], 0.95) for r in results),
            "max_abs_vs_pytorch": max(float(np.abs(np.array(r["image"]) - expected).max()) for r in results),
            "payload_bytes": len(base64.b64decode(cases[name][1]["onnx" if cases[name][0] == "onnx" else "weights"])),
        }
    load_ort_ms = statistics.median(r["load_ort_ms"] for r in runs)
    anchor = summary[names[0]]["median_ms"]
    rows = [(name, round(s["build_ms"], 1), round(s["first_ms"], 2), round(s["median_ms"], 2), round(s["p95_ms"], 2),
             f"{s['median_ms'] / anchor:.2f}x", f"{s['max_abs_vs_pytorch']:.1e}", f"{s['payload_bytes'] / 1e6:.2f}")
            for name, s in summary.items()]
    print(format_table([f"shipped z16 decoder in Chromium (median of {args.runs} runs, {args.decodes} decodes each)",
                        "build ms", "first ms", "median ms", "p95 ms", "vs anchor", "max |diff| vs PyTorch",
                        "model MB"], rows))
    print(f"onnxruntime-web's start in a fresh page (import, fetch and compile its 14 MB WebAssembly, once a "
          f"page, before the first build above): {load_ort_ms:.0f} ms")
    ratio = summary[names[1]]["median_ms"] / anchor
    print(f"onnxruntime-web / interpreter, median decode: {ratio:.2f}x (retire the interpreter if <= 1.5x): "
          f"{'retire' if ratio <= 1.5 else 'keep'}")
    print(f"WebGPU in this browser: {runs[0]['webgpu']}; onnxruntime-web runs on WebAssembly (SIMD, one thread: "
          "Streamlit's page is not cross-origin isolated, which threads need)")
    out = ROOT / "bench" / "results" / "browser_decode.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"summary": summary, "load_ort_ms": load_ort_ms, "ratio_onnx_to_interpreter": ratio,
                               "webgpu": runs[0]["webgpu"],
                               "decode_ms": {name: [r[name]["times"] for r in runs] for name in names},
                               "args": vars(args), "load_average": os.getloadavg()}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
