// The shared site's page. It mounts the app's own browser components (vae_lab.js is
// ui/components/local_decoder.js + live_decoder.js, map_events.js as it is, copied in by
// `vae-lab export`) and plays the part the Streamlit server plays for them in the app, from
// site.json and decoder.onnx: it answers the sliders' moves, draws the map, and decodes the
// codes a click or a link sets. The view lives in the URL fragment: #i=<test index>&z=<code>&c=<colour>.
import liveDecoder, { buildLocalDecoder, readArray } from "./vae_lab.js";
import mapEvents from "./map_events.js";

const ORT_URL = "onnxruntime-web/ort.wasm.bundle.min.mjs";
const ORT_WASM = "onnxruntime-web/ort-wasm-simd-threaded.wasm.gz";
const PLOTLY = "plotly.min.js.gz";
const NEIGHBOURS = 10; // as the app's selection panel
const MAP_KEY = "map"; // map_events.js finds the chart in the element of class st-key-<MAP_KEY>
const DISPLAY_SCALE = 4; // the selected image and its reconstruction, as in the app
const DENSITY_SIDE = 160; // the live decoder's picture of the map, as the app's

function bytes(base64) {
  const binary = atob(base64);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out.buffer;
}

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

function toBase64(array) {
  let binary = "";
  for (let i = 0; i < array.length; i += 0x8000) binary += String.fromCharCode(...array.subarray(i, i + 0x8000));
  return btoa(binary);
}

function unpack(site) {
  const indices = new Int32Array(bytes(site.indices));
  const xy = new Float32Array(bytes(site.xy));
  const xs = [0, 1].map((axis) => xy.filter((_, i) => i % 2 === axis));
  const bounds = xs.flatMap((v) => { // as ui/figures.py's map_bounds: 5% padding
    let lo = Infinity, hi = -Infinity;
    v.forEach((x) => { lo = Math.min(lo, x); hi = Math.max(hi, x); });
    const pad = 0.05 * Math.max(hi - lo, 1e-6);
    return [lo - pad, hi + pad];
  });
  return {
    site, indices, xy, bounds,
    position: new Map(Array.from(indices, (index, p) => [index, p])),
    labels: new Int32Array(bytes(site.labels)),
    codes: readArray(site.codes, "float16"),
  };
}

// Round and clip a code as the app's sliders show it (ui/state.py's set_code).
function sliderCode(code, limit) {
  return Array.from(code, (v) => Math.min(Math.max(Math.round(v * 100) / 100, -limit), limit));
}

function densityPicture(data) {
  const [x0, x1, y0, y1] = data.bounds, side = DENSITY_SIDE;
  const counts = new Float32Array(side * side);
  for (let p = 0; p < data.indices.length; p++) {
    const column = Math.min(side - 1, Math.floor((data.xy[2 * p] - x0) / (x1 - x0) * side));
    const row = Math.min(side - 1, Math.floor((y1 - data.xy[2 * p + 1]) / (y1 - y0) * side));
    counts[row * side + column] += 1;
  }
  const top = Math.max(Math.log1p(Math.max(...counts)), 1e-9);
  const canvas = Object.assign(document.createElement("canvas"), { width: side, height: side });
  const context = canvas.getContext("2d");
  const picture = context.createImageData(side, side);
  counts.forEach((count, i) => {
    const grey = Math.floor(150 + 105 * (1 - Math.log1p(count) / top));
    picture.data.set([grey, grey, grey, 255], 4 * i);
  });
  context.putImageData(picture, 0, 0);
  return canvas.toDataURL("image/png");
}

function colourPayload(data, key) {
  const site = data.site;
  const base = { class_colours: site.class_colours };
  const chosen = site.values.find((v) => v.key === key);
  if (!chosen) return { ...base, key: "class", hovertemplate: "%{fullData.name}<br>#%{customdata}<extra></extra>" };
  const [low, high] = chosen.range;
  return {
    ...base, key: `${chosen.key}|${low}|${high}`, values: chosen.values, index: site.indices,
    hovertemplate: `%{fullData.name}<br>#%{customdata}<br>${chosen.label} %{marker.color:.3f}<extra></extra>`,
    coloraxis: { colorscale: "Viridis", cmin: low, cmax: high, colorbar: { title: { text: chosen.label, side: "right" },
                                                                            thickness: 14, len: 0.75 } },
  };
}

function mapTraces(data) {
  const site = data.site;
  const traces = site.class_names.map((name, c) => {
    const members = [];
    data.labels.forEach((label, p) => { if (label === c) members.push(p); });
    return {
      type: "scattergl", mode: "markers", name, meta: c,
      x: members.map((p) => data.xy[2 * p]), y: members.map((p) => data.xy[2 * p + 1]),
      customdata: members.map((p) => data.indices[p]),
      marker: { size: 4, opacity: 0.8, color: site.class_colours[c] },
      hovertemplate: "%{fullData.name}<br>#%{customdata}<extra></extra>",
    };
  });
  const mark = (name, symbol, colour) => ({ type: "scatter", mode: "markers", name, x: [], y: [], hoverinfo: "skip",
    showlegend: false, marker: { symbol, size: 16, color: colour, line: { width: 2, color: colour } } });
  return [...traces, mark("selected", "circle-open", "#000"), mark("current code", "x-thin", "#dc0000")];
}

class Site {
  constructor(data, onnx) {
    this.data = data;
    this.site = data.site;
    this.state = { selected: null, code: new Array(this.site.latent_dim).fill(0), colour: "class", seq: 0,
                   image: undefined, marker: [50, 50], hidden: [] };
    this.payload = {
      id: "decoder", bounds: data.bounds,
      projection: this.site.placement.kind === "neighbours" ? { ...this.site.placement, codes: this.site.codes }
        : this.site.placement,
      decoder: { ...this.site.decoder, onnx: toBase64(onnx) },
    };
    this.queue = Promise.resolve();
    this.atlas = new Image();
    this.atlas.src = this.site.atlas.file;
  }

  // One decode at a time on the page's own decoder (buildLocalDecoder's contract); a copy of the pixels.
  decode(code) {
    const run = this.queue.then(async () => {
      const pixels = await (await this.local).decode(code);
      return new ImageData(new Uint8ClampedArray(pixels.data), pixels.width, pixels.height);
    });
    this.queue = run.catch(() => {});
    return run;
  }

  async start() {
    this.local = buildLocalDecoder(this.payload, ORT_URL);
    this.local.catch((error) => this.fail(error));
    this.density = densityPicture(this.data);
    await this.drawMap();
    this.mountMapEvents();
    this.renderDecoder();
    document.getElementById("colour").addEventListener("change", (event) => this.recolour(event.target.value));
    document.getElementById("copy-link").addEventListener("click", () => this.copyLink());
    window.addEventListener("hashchange", () => this.restore());
    await this.restore();
    document.body.dataset.ready = "true";
  }

  fail(error) {
    const shown = document.getElementById("error");
    shown.textContent = `This browser could not run the decoder: ${error}`;
    shown.hidden = false;
  }

  async drawMap() {
    const plot = document.getElementById("map");
    await Plotly.newPlot(plot, mapTraces(this.data), {
      height: 620, margin: { l: 10, r: 10, t: 10, b: 10 }, dragmode: "pan", hovermode: "closest",
      xaxis: { showticklabels: false, zeroline: false }, yaxis: { showticklabels: false, zeroline: false },
      legend: { itemsizing: "constant" }, meta: { colour: "class" },
    }, { scrollZoom: true, displaylogo: false, responsive: true });
    plot.on("plotly_click", (event) => {
      const point = (event.points || []).find((p) => typeof p.customdata === "number");
      if (point) this.select(point.customdata);
    });
    this.plot = plot;
  }

  mountMapEvents() {
    mapEvents({
      data: { map_key: MAP_KEY, atlas_id: "atlas", hidden: this.state.hidden, detail: null,
              colour: colourPayload(this.data, this.state.colour),
              atlas: { id: "atlas", jpeg: this.site.atlas.file, indices: this.site.indices, columns: this.site.atlas.columns,
                       height: this.site.atlas.height, width: this.site.atlas.width } },
      parentElement: document.getElementById("map-events"),
      setStateValue: (name, value) => {
        if (name !== "hidden") return;
        this.state.hidden = value;
        this.mountMapEvents();
      },
      setTriggerValue: () => {}, // the atlas is sent at once: there is nothing to ask for
    });
  }

  renderDecoder() {
    const { rows, limit, step } = this.site.sliders;
    liveDecoder({
      data: { rows, limit, step, values: this.state.code, seq: this.state.seq, image: this.state.image,
              picture: this.density, marker: this.state.marker, url_pending: false, local_id: "decoder",
              local: this.payload, ort: ORT_URL },
      parentElement: document.getElementById("decoder"),
      setStateValue: (name, move) => { if (name === "code") this.takeMove(move); },
      setTriggerValue: () => {}, // "want_local": sent at once; "settled": the URL is written at each move
    });
  }

  // A move the sliders send (at the end of a gesture, once decoded here): it becomes the code.
  async takeMove(move) {
    this.state.seq = move.seq;
    this.state.code = move.values;
    this.state.image = undefined; // the component drew it already
    this.state.marker = (await this.local).place(move.values);
    this.renderDecoder();
    this.markCode();
    this.writeFragment();
  }

  // A code set here (a click, a link): decoded here and sent to the sliders as the server's answer.
  async setCode(code) {
    const values = sliderCode(code, this.site.sliders.limit);
    this.state.code = values;
    const pixels = await this.decode(values);
    if (this.state.code !== values) return; // a newer code came meanwhile
    const canvas = Object.assign(document.createElement("canvas"), { width: pixels.width, height: pixels.height });
    canvas.getContext("2d").putImageData(pixels, 0, 0);
    this.state.image = canvas.toDataURL("image/png");
    this.state.marker = (await this.local).place(values);
    this.renderDecoder();
    this.markCode();
    this.writeFragment();
  }

  markCode() {
    const [x0, x1, y0, y1] = this.data.bounds, [left, top] = this.state.marker;
    const traces = this.plot.data.length;
    Plotly.restyle(this.plot, { x: [[x0 + left / 100 * (x1 - x0)]], y: [[y1 - top / 100 * (y1 - y0)]] }, [traces - 1]);
  }

  async select(index) {
    const p = this.data.position.get(index);
    if (p === undefined) return;
    this.state.selected = index;
    const traces = this.plot.data.length;
    Plotly.restyle(this.plot, { x: [[this.data.xy[2 * p]]], y: [[this.data.xy[2 * p + 1]]] }, [traces - 2]);
    this.showSelection(index, p);
    const dim = this.site.latent_dim, code = this.data.codes.slice(p * dim, (p + 1) * dim);
    await Promise.all([this.showReconstruction(code), this.setCode(code)]);
  }

  showSelection(index, p) {
    const site = this.site, panel = document.getElementById("selection");
    panel.hidden = false;
    document.getElementById("selection-title").textContent =
      `Selected: test #${index} · ${site.class_names[this.data.labels[p]]}`;
    panel.dataset.index = index;
    this.drawTile(document.getElementById("original"), index, DISPLAY_SCALE);
    const dim = site.latent_dim;
    document.getElementById("code").textContent = Array.from(this.data.codes.slice(p * dim, (p + 1) * dim),
      (v, d) => `z${d}=${v >= 0 ? "+" : ""}${v.toFixed(2)}`).join("  ");
    const strip = document.getElementById("neighbours");
    strip.replaceChildren(...this.nearest(p, NEIGHBOURS).map((q) => {
      const neighbour = this.data.indices[q];
      const button = document.createElement("button");
      button.title = `test #${neighbour}`;
      button.dataset.index = neighbour;
      const canvas = document.createElement("canvas");
      this.drawTile(canvas, neighbour, 2);
      const caption = document.createElement("span");
      caption.textContent = `#${neighbour}`;
      button.append(canvas, caption);
      button.addEventListener("click", () => this.select(neighbour));
      return button;
    }));
  }

  // Positions of the k codes nearest (Euclidean) to position p's, nearest first, p left out: as
  // vae.latent.placement.nearest_neighbours finds them.
  nearest(p, k) {
    const dim = this.site.latent_dim, codes = this.data.codes, n = codes.length / dim;
    const distances = new Float64Array(n);
    for (let q = 0; q < n; q++) {
      let d2 = 0;
      for (let d = 0; d < dim; d++) { const diff = codes[q * dim + d] - codes[p * dim + d]; d2 += diff * diff; }
      distances[q] = d2;
    }
    distances[p] = Infinity;
    return Array.from(distances.keys()).sort((a, b) => distances[a] - distances[b]).slice(0, Math.min(k, n - 1));
  }

  drawTile(canvas, index, scale) {
    const { columns, height, width } = this.site.atlas, slot = this.data.position.get(index);
    const draw = () => {
      Object.assign(canvas, { width: width * scale, height: height * scale });
      const context = canvas.getContext("2d");
      context.imageSmoothingEnabled = false;
      context.drawImage(this.atlas, (slot % columns) * width, Math.floor(slot / columns) * height, width, height,
                        0, 0, canvas.width, canvas.height);
    };
    if (this.atlas.complete) draw();
    else this.atlas.addEventListener("load", draw, { once: true });
  }

  async showReconstruction(code) {
    const pixels = await this.decode(Array.from(code));
    const canvas = document.getElementById("reconstruction");
    Object.assign(canvas, { width: pixels.width, height: pixels.height });
    canvas.getContext("2d").putImageData(pixels, 0, 0);
    canvas.dataset.frame = String(Number(canvas.dataset.frame || 0) + 1);
  }

  recolour(key) {
    this.state.colour = key;
    document.getElementById("colour").value = key;
    this.mountMapEvents();
    this.writeFragment();
  }

  writeFragment() {
    const parts = [];
    if (this.state.selected !== null) parts.push(`i=${this.state.selected}`);
    parts.push(`z=${this.state.code.map(String).join(",")}`);
    if (this.state.colour !== "class") parts.push(`c=${encodeURIComponent(this.state.colour)}`);
    this.written = `#${parts.join("&")}`;
    history.replaceState(null, "", this.written);
    document.getElementById("link").value = location.href;
  }

  // The view a link names: its selected image, then its code and colouring (each checked).
  async restore() {
    if (location.hash === this.written) return; // our own writing
    const fields = new URLSearchParams(location.hash.slice(1));
    const index = Number.parseInt(fields.get("i"), 10);
    if (this.data.position.has(index)) await this.select(index);
    const code = (fields.get("z") || "").split(",").map(Number);
    if (code.length === this.site.latent_dim && code.every(Number.isFinite)) await this.setCode(code);
    const colour = fields.get("c");
    if (colour && this.site.values.some((v) => v.key === colour)) this.recolour(colour);
    this.writeFragment();
  }

  async copyLink() {
    const field = document.getElementById("link");
    field.select();
    try {
      await navigator.clipboard.writeText(field.value);
    } catch { // an insecure origin has no clipboard: the link is selected for a copy by hand
    }
  }
}

async function main() {
  const [site] = await Promise.all([fetch("site.json").then((response) => response.json()), loadScripts()]);
  const onnx = new Uint8Array(await (await fetch(site.decoder.file)).arrayBuffer());
  const data = unpack(site);
  describe(site);
  window.vaeLab = new Site(data, onnx);
  await window.vaeLab.start();
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
  const select = document.getElementById("colour");
  select.append(new Option("class", "class"), ...site.values.map((v) => new Option(v.label, v.key)));
}

main().catch((error) => {
  const shown = document.getElementById("error");
  shown.textContent = `The page could not start: ${error}`;
  shown.hidden = false;
});
