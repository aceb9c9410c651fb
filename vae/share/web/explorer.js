// The explorer a shared site and the notebook widget show: the map, the selected image and the
// live decoder. It mounts the app's own browser components (ui/components/: the live decoder with
// its onnxruntime-web decoder, and the map's companion for hover thumbnails and colours), handed in
// as `modules`, and plays the part the Streamlit server plays for them in the app: it answers the
// sliders' moves, draws the map, and decodes the codes a click or a view sets. `onView` hears of
// every new view ({selected, code, colour}); `restore(view)` shows one. explorer_data.js comes
// first in the same module (vae/share/site.py's EXPLORER_JS): what it draws is made there.
const NEIGHBOURS = 10; // as the app's selection panel
const DISPLAY_SCALE = 4; // the selected image and its reconstruction, as in the app
const TEMPLATE = `
  <div class="vl-map-column">
    <div class="vl-controls"><label>Colour by <select class="vl-colour"></select></label></div>
    <div class="vl-map-box"><div class="vl-map"></div></div>
    <p class="vl-hint">Hover a point for its image; click one to select it. The sliders decode in this browser.</p>
    <div class="vl-map-events"></div>
  </div>
  <div class="vl-side-column">
    <div class="vl-decoder"></div>
    <div class="vl-selection" hidden>
      <h2 class="vl-selection-title"></h2>
      <div class="vl-pair">
        <figure><canvas class="vl-original"></canvas><figcaption>original (from the WebP atlas)</figcaption></figure>
        <figure><canvas class="vl-reconstruction"></canvas><figcaption>reconstruction (its code decoded)</figcaption></figure>
      </div>
      <p class="vl-caption">latent code (posterior mean)</p>
      <pre class="vl-code"></pre>
      <p class="vl-caption">nearest neighbours in latent space</p>
      <div class="vl-neighbours"></div>
    </div>
  </div>`;

class Explorer {
  constructor(root, { site, onnx, atlasUrl, ortUrl, modules, onView }) {
    Object.assign(this, { root, modules, ortUrl, onView });
    this.data = unpack(site, modules.readArray);
    this.site = site;
    this.mapKey = `vae-lab-map-${Math.random().toString(36).slice(2, 10)}`; // one per explorer on a page
    root.classList.add("vae-lab-explorer");
    root.innerHTML = TEMPLATE; // markup of its own only: every text from the data is set as text
    root.querySelector(".vl-map-box").classList.add(`st-key-${this.mapKey}`);
    const select = this.part("colour");
    select.append(new Option("class", "class"), ...site.values.map((v) => new Option(v.label, v.key)));
    this.state = { selected: null, code: new Array(this.site.latent_dim).fill(0), colour: "class", seq: 0,
                   image: undefined, marker: [50, 50], hidden: [] };
    this.payload = {
      id: `${this.mapKey}-decoder`, bounds: this.data.bounds,
      projection: site.placement.kind === "neighbours" ? { ...site.placement, codes: site.codes } : site.placement,
      decoder: { ...site.decoder, onnx: toBase64(onnx) },
    };
    this.queue = Promise.resolve();
    this.atlas = new Image();
    this.atlas.src = this.atlasUrl = atlasUrl;
  }

  part(name) {
    return this.root.querySelector(`.vl-${name}`);
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
    this.local = this.modules.buildLocalDecoder(this.payload, this.ortUrl);
    this.local.catch((error) => this.fail(error));
    this.density = densityPicture(this.data);
    await this.drawMap();
    this.mountMapEvents();
    this.renderDecoder();
    this.part("colour").addEventListener("change", (event) => this.recolour(event.target.value));
    this.root.dataset.ready = "true";
  }

  fail(error) {
    const shown = document.createElement("p");
    shown.className = "vl-error";
    shown.textContent = `This browser could not run the decoder: ${error}`;
    this.root.prepend(shown);
  }

  async drawMap() {
    const plot = this.part("map");
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
    this.modules.mapEvents({
      data: { map_key: this.mapKey, atlas_id: this.mapKey, hidden: this.state.hidden, detail: null,
              colour: colourPayload(this.data, this.state.colour),
              atlas: { id: this.mapKey, jpeg: this.atlasUrl, indices: this.site.indices, columns: this.site.atlas.columns,
                       height: this.site.atlas.height, width: this.site.atlas.width } },
      parentElement: this.part("map-events"),
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
    this.modules.liveDecoder({
      data: { rows, limit, step, values: this.state.code, seq: this.state.seq, image: this.state.image,
              picture: this.density, marker: this.state.marker, url_pending: false, local_id: this.payload.id,
              local: this.payload, ort: this.ortUrl },
      parentElement: this.part("decoder"),
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
    this.tellView();
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
    this.tellView();
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
    const site = this.site, panel = this.part("selection");
    panel.hidden = false;
    this.part("selection-title").textContent =
      `Selected: test #${index} · ${site.class_names[this.data.labels[p]]}`;
    panel.dataset.index = index;
    this.drawTile(this.part("original"), index, DISPLAY_SCALE);
    const dim = site.latent_dim;
    this.part("code").textContent = Array.from(this.data.codes.slice(p * dim, (p + 1) * dim),
      (v, d) => `z${d}=${v >= 0 ? "+" : ""}${v.toFixed(2)}`).join("  ");
    const strip = this.part("neighbours");
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
    const canvas = this.part("reconstruction");
    Object.assign(canvas, { width: pixels.width, height: pixels.height });
    canvas.getContext("2d").putImageData(pixels, 0, 0);
    canvas.dataset.frame = String(Number(canvas.dataset.frame || 0) + 1);
  }

  recolour(key) {
    this.state.colour = key;
    this.part("colour").value = key;
    this.mountMapEvents();
    this.tellView();
  }

  // The view as it is now, for a link (the site) or Python (the widget).
  view() {
    return { selected: this.state.selected, code: this.state.code.slice(), colour: this.state.colour };
  }

  tellView() {
    if (this.onView) this.onView(this.view());
  }

  // Show a view: its selected image, then its code and colouring (each checked, as from a link).
  async restore({ selected, code, colour }) {
    if (this.data.position.has(selected)) await this.select(selected);
    if (Array.isArray(code) && code.length === this.site.latent_dim && code.every(Number.isFinite)) {
      await this.setCode(code);
    }
    if (colour && this.site.values.some((v) => v.key === colour)) this.recolour(colour);
  }
}

export async function mountExplorer(root, options) {
  const explorer = new Explorer(root, options);
  await explorer.start();
  return explorer;
}
