// The shared site's page (`vae-lab export`): loads the site's files and shows the explorer
// (explorer.js) with the app's components (vae_lab.js: ui/components/local_decoder.js and
// live_decoder.js; map_events.js), and keeps the view in the URL fragment, so a link restores it:
// #i=<test index>&z=<code>&c=<colour>.
import liveDecoder, { buildLocalDecoder, readArray } from "./vae_lab.js";
import mapEvents from "./map_events.js";
import { mountExplorer } from "./explorer.js";

const ORT_URL = "onnxruntime-web/ort.wasm.bundle.min.mjs";
const ORT_WASM = "onnxruntime-web/ort-wasm-simd-threaded.wasm.gz";
const PLOTLY = "plotly.min.js.gz";

// Plotly.js and onnxruntime-web's WebAssembly are stored gzip-compressed (vae/share/site.py); a host
// that serves them with Content-Encoding: gzip hands over plain bytes, which are used as they are.
async function unpacked(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes.buffer;
  return new Response(new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"))).arrayBuffer();
}

async function loadScripts() {
  const [plotly, wasm, ort] = await Promise.all([unpacked(PLOTLY), unpacked(ORT_WASM),
                                                 import(new URL(ORT_URL, document.baseURI).href)]);
  (0, eval)(new TextDecoder().decode(plotly)); // a global script, as a <script> tag would run it: window.Plotly
  ort.env.wasm.wasmBinary = wasm; // the module local_decoder.js imports (the same URL: the same module)
}

function describe(site) {
  document.title = `${site.name} · VAE Lab`;
  document.getElementById("name").textContent = site.name;
  const sample = site.n_images < site.n_bundle ? ` (a sample of the bundle's ${site.n_bundle.toLocaleString("en")})` : "";
  const elbo = site.test_neg_elbo == null ? "" : ` · test −ELBO ${site.test_neg_elbo.toFixed(2)} nats`;
  document.getElementById("about").textContent =
    `${site.n_images.toLocaleString("en")} test images${sample} on the ${site.projection_label} map · ` +
    `${site.latent_dim}-D latent${elbo}. Only the decoder is included (decoder.onnx): this page decodes codes, ` +
    "but it holds no encoder and cannot encode new images.";
}

function readFragment() {
  const fields = new URLSearchParams(location.hash.slice(1));
  return { selected: Number.parseInt(fields.get("i"), 10), code: (fields.get("z") || "").split(",").map(Number),
           colour: fields.get("c") };
}

let written = null; // the fragment this page wrote last (its own hashchange is no new link)

function writeFragment({ selected, code, colour }) {
  const parts = [];
  if (selected !== null) parts.push(`i=${selected}`);
  parts.push(`z=${code.map(String).join(",")}`);
  if (colour !== "class") parts.push(`c=${encodeURIComponent(colour)}`);
  written = `#${parts.join("&")}`;
  history.replaceState(null, "", written);
  document.getElementById("link").value = location.href;
}

async function copyLink() {
  const field = document.getElementById("link");
  field.select();
  try {
    await navigator.clipboard.writeText(field.value);
  } catch { // an insecure origin has no clipboard: the link is selected for a copy by hand
  }
}

async function main() {
  const [site] = await Promise.all([fetch("site.json").then((response) => response.json()), loadScripts()]);
  const onnx = new Uint8Array(await (await fetch(site.decoder.file)).arrayBuffer());
  describe(site);
  const explorer = await mountExplorer(document.getElementById("explorer"), {
    site, onnx, atlasUrl: site.atlas.file, ortUrl: ORT_URL,
    modules: { liveDecoder, buildLocalDecoder, readArray, mapEvents }, onView: writeFragment,
  });
  await explorer.restore(readFragment());
  writeFragment(explorer.view());
  window.addEventListener("hashchange", () => {
    if (location.hash !== written) explorer.restore(readFragment());
  });
  document.getElementById("copy-link").addEventListener("click", copyLink);
  document.body.dataset.ready = "true";
}

main().catch((error) => {
  const shown = document.getElementById("error");
  shown.textContent = `The page could not start: ${error}`;
  shown.hidden = false;
});
