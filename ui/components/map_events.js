// The Explore map's companion in the browser: the hovered test image next to the pointer, which
// classes the legend hides (state value "hidden", a list of class numbers: Streamlit draws a
// changed figure as a new chart, so Python must send the legend's state back in the figure), and
// the map's colours, changed in place (Plotly.update) when Python asks for other ones than the
// figure's `layout.meta.colour`: far quicker than the new chart a changed figure would make.
//
// The decoded atlas (map_atlas.js, joined in front of this file) is drawn over the map for its view too.
//
// A large map (pages/explore/map_detail.py) draws a picture of every point under a sample of points, both for
// the view: when a pan or zoom ends, the view goes to Python (state value "view"), and the view's
// picture, points and click grid come back in `data.detail`, swapped in place (Plotly.restyle and
// relayout) once the map's `layout.meta.detail` says it shows another view.
//
// The other way round, an image of the grid under the map (pages/explore/image_grid.py: its caption
// starts "#<test index>") rings that image's point on the map while the pointer is on it.
//
// For the thumbnail, Python sends the map's key and, once the pointer first enters the map (trigger "want_atlas"), an
// atlas: one JPEG of the drawn images in a grid, with the test index of each tile. The atlas is kept
// across reruns (by id), so a hover draws a tile from it at once, with no round trip.
//
// A click on a point is answered here too: once the pointer has entered the map the companion asks for the
// browser's decoder (trigger "want_decoder", before the atlas: both at once would be one rerun's), and the
// atlas carries its images' codes (a large map's view, its points' codes); a click on a point whose code is
// here sends that code to the sliders (CODE_CHOSEN, local_decoder.js), which decode and paint it at once.
// Streamlit's own rerun for the selection follows, and sets the same code (and the rest of the page).
const atlases = new Map(); // atlas id -> {image, columns, height, width, slots: Map(test index -> tile)}
const SCALE = 3;

function readIndices(base64) {
  const indices = readArray(base64, "int32");
  const slots = new Map();
  indices.forEach((index, slot) => slots.set(index, slot));
  return slots;
}

function loadAtlas(root, atlas) {
  const image = new Image();
  const entry = { image, columns: atlas.columns, height: atlas.height, width: atlas.width,
                  slots: readIndices(atlas.indices), ready: false,
                  codes: atlas.codes ? readArray(atlas.codes, "float32") : null, dim: atlas.dim };
  image.onload = () => {
    entry.ready = true;
    if (root.hovered) show(root, root.hovered); // the pointer has waited on a point for the atlas
  };
  image.src = atlas.jpeg;
  atlases.set(atlas.id, entry);
  root.dataset.atlas = atlas.id; // which atlas (images, codes) the page holds: tests wait for it
}

function show(root, event) {
  const point = event.points.find((p) => typeof p.customdata === "number");
  const atlas = atlases.get(root.data.atlas_id);
  const slot = point && atlas && atlas.ready ? atlas.slots.get(point.customdata) : undefined;
  if (slot === undefined) return hide(root);
  const { canvas, caption } = root;
  canvas.width = atlas.width * SCALE;
  canvas.height = atlas.height * SCALE;
  const context = canvas.getContext("2d");
  context.imageSmoothingEnabled = false;
  const column = slot % atlas.columns, row = Math.floor(slot / atlas.columns);
  context.drawImage(atlas.image, column * atlas.width, row * atlas.height, atlas.width, atlas.height,
                    0, 0, canvas.width, canvas.height);
  caption.textContent = `#${point.customdata}`;
  root.dataset.index = point.customdata;
  // Left of the pointer: Plotly puts its hover label (with the value) to the right where it fits.
  const pointer = event.event || {};
  root.style.left = `${Math.max(0, (pointer.clientX || 0) - canvas.width - 28)}px`;
  root.style.top = `${Math.max(0, (pointer.clientY || 0) - canvas.height / 2 - 12)}px`;
  root.style.display = "block";
}

function hide(root) {
  root.style.display = "none";
  delete root.dataset.index;
}

// Colour the map's point traces (`customdata`: each point's test index; `meta`: its class) as
// `root.data.colour` says: by class, or by a value per test image on a colour axis (`values` of
// every point, or of the points `index` lists).
function recolour(root) {
  const plot = root.plot, colour = root.data.colour;
  if (!plot || !colour || !plot._fullData || !window.Plotly) return;
  if ((plot.layout.meta || {}).colour === colour.key) return;
  const values = colour.values ? readArray(colour.values, "float32") : null;
  let valueOf = (i) => values[i];
  if (values && colour.index) {
    const position = readIndices(colour.index);
    valueOf = (i) => values[position.get(i)];
  }
  const traces = [], colours = [];
  plot._fullData.forEach((trace) => {
    if (!trace.customdata) return;
    traces.push(trace.index);
    colours.push(values ? Array.from(trace.customdata, valueOf) : colour.class_colours[trace.meta]);
  });
  window.Plotly.update(plot, {
    "marker.color": colours,
    "marker.coloraxis": traces.map(() => (values ? "coloraxis" : null)),
    hovertemplate: traces.map(() => colour.hovertemplate),
  }, { coloraxis: values ? colour.coloraxis : null, meta: { ...(plot.layout.meta || {}), colour: colour.key } }, traces);
}

// Swap in a large map's layers for the view Python last made them for (see the top of this file).
function showDetail(root) {
  const plot = root.plot, detail = root.data.detail;
  if (!plot || !detail || !plot._fullData || !window.Plotly) return;
  if ((plot.layout.meta || {}).detail === detail.key) return;
  const x = readArray(detail.x, "float32"), y = readArray(detail.y, "float32");
  const index = readArray(detail.index, "int32"), label = readArray(detail.label, "int32");
  const traces = [0], xs = [detail.grid_x], ys = [detail.grid_y], ids = [null];
  plot._fullData.forEach((trace) => {
    if (!trace.customdata) return;
    const members = [];
    label.forEach((c, i) => { if (c === trace.meta) members.push(i); });
    traces.push(trace.index);
    // A class with no point in view keeps one empty point: Plotly drops an empty trace from the legend.
    xs.push(members.length ? members.map((i) => x[i]) : [null]);
    ys.push(members.length ? members.map((i) => y[i]) : [null]);
    ids.push(members.length ? members.map((i) => index[i]) : [null]);
  });
  window.Plotly.restyle(plot, { x: xs, y: ys, customdata: ids }, traces);
  // The colours belong to the points: recolour() repaints them for this view's points.
  const decoded = (plot.layout.images || []).filter(isAtlasImage); // map_atlas.js
  window.Plotly.relayout(plot, { images: [detail.image, ...decoded],
                                 meta: { ...(plot.layout.meta || {}), detail: detail.key, colour: null } });
}

// The code of test image `index` where the page has it: the large map's view's points (data.detail), else the
// atlas's images; null otherwise.
function codeOf(root, index) {
  const detail = root.data.detail;
  if (detail && detail.codes) {
    if (root.detailCodes?.key !== detail.key) {
      root.detailCodes = { key: detail.key, slots: readIndices(detail.index), codes: readArray(detail.codes, "float32") };
    }
    const { slots, codes } = root.detailCodes, slot = slots.get(index), dim = codes.length / Math.max(slots.size, 1);
    if (slot !== undefined) return codes.slice(slot * dim, (slot + 1) * dim);
  }
  const atlas = atlases.get(root.data.atlas_id), slot = atlas && atlas.codes ? atlas.slots.get(index) : undefined;
  return slot === undefined ? null : atlas.codes.slice(slot * atlas.dim, (slot + 1) * atlas.dim);
}

// A click on a map point (a point trace's: `customdata` its index, `meta` its class) with its code here: the
// sliders decode it now (see the top of this file).
function clicked(root, event) {
  const point = (event.points || []).find((p) => typeof p.customdata === "number" && typeof p.data?.meta === "number");
  const code = point && codeOf(root, point.customdata);
  if (code) document.dispatchEvent(new CustomEvent(CODE_CHOSEN, { detail: { values: Array.from(code) } }));
}

// Ask Python for the browser's decoder unless it is here or was asked for lately (a rerun that another request
// interrupts can lose the answer): whether it is still to come.
const ASK_DECODER_AGAIN_MS = 5000;
function askForDecoder(root) {
  const id = root.data.decoder_id;
  if (!id || decoderPayloads.has(id)) return false;
  if (root.askedDecoder !== id || performance.now() - root.askedAt > ASK_DECODER_AGAIN_MS) {
    [root.askedDecoder, root.askedAt] = [id, performance.now()];
    root.setTriggerValue("want_decoder", id);
  }
  return true;
}

// Plotly reports a wheel zoom once its events stop (50 ms after the last); a moment more lets a next one join.
const VIEW_SETTLE_MS = 30;

const RANGE_CHANGE = /^[xy]axis\.(range|autorange)/; // a relayout's keys when the view moved

function axisRanges(plot) {
  return [...plot._fullLayout.xaxis.range, ...plot._fullLayout.yaxis.range].map(Number);
}

// Tell Python the map's view, its plot area in pixels and whether the browser decodes the atlas (map_atlas.js),
// `delay` ms after the last call, and only when that changed since the last report. The view is the one the
// last gesture ended on (its plotly_relayout): a report for another reason (the size, the decoder) during a
// pan must not send the view as it is mid-way.
function reportView(root, delay = VIEW_SETTLE_MS) {
  clearTimeout(root.viewTimer);
  root.viewTimer = setTimeout(() => sendView(root), delay);
}

function sendView(root) {
  clearTimeout(root.viewTimer);
  const plot = root.plot;
  if (!plot || !plot._fullLayout) return;
  const range = root.settled?.plot === plot ? root.settled.range : axisRanges(plot);
  const { w, h } = plot._fullLayout._size;
  const view = { map: root.data.map_key, range, size: [Math.round(w), Math.round(h)], decoder: browserDecodesAtlas(root) };
  const text = JSON.stringify(view);
  if (text === root.reported) return;
  [root.reported, root.reportedAt] = [text, performance.now()];
  root.setStateValue("view", view);
}

// A gesture's end goes to Python before Plotly's own redraw for it (~100-150 ms of the map's points here), after
// which its relayout event would report it: the axes hold the new view already as the pointer comes up after a
// pan (reported there and then: Plotly redraws in the mouseup that follows), and once a wheel's notches stop
// (WHEEL_SETTLE_MS, just before Plotly's own 50 ms wait ends).
const WHEEL_SETTLE_MS = 40;

function gestureEnded(root, plot) {
  if (!(root.data.detail || decodedAtlasOn(root)) || plot !== root.plot || !plot._fullLayout) return;
  root.settled = { plot, range: axisRanges(plot) };
  sendView(root);
}

function attach(root) {
  const name = root.data.map_key.trim().replaceAll(/[^a-zA-Z0-9_-]/g, "-");
  const plot = document.querySelector(`.st-key-${name} .js-plotly-plot`);
  if (!plot || plot === root.plot || typeof plot.on !== "function") return;
  root.plot = plot;
  plot.on("plotly_hover", (event) => {
    root.hovered = event;
    show(root, event);
  });
  plot.on("plotly_unhover", () => {
    root.hovered = null;
    hide(root);
  });
  // A legend click restyles the trace's `visible`; each point trace's `meta` is its class number.
  plot.on("plotly_restyle", () => {
    const hidden = plot._fullData.filter((t) => t.customdata && t.visible === "legendonly").map((t) => t.meta);
    if (JSON.stringify(hidden) !== JSON.stringify(root.data.hidden)) root.setStateValue("hidden", hidden);
  });
  plot.on("plotly_relayout", (event) => {
    if (!Object.keys(event || {}).some((k) => RANGE_CHANGE.test(k))) return;
    root.settled = { plot, range: axisRanges(plot) };
    if (root.data.detail || decodedAtlasOn(root)) reportView(root);
  });
  plot.on("plotly_afterplot", () => showDecodedAtlas(root)); // a figure redrawn from Python's has no atlas
  plot.on("plotly_click", (event) => clicked(root, event));
  const pressed = () => { root.pressed = performance.now(); };
  plot.addEventListener("pointerdown", pressed);
  plot.addEventListener("pointerup", pressed);
  plot.addEventListener("pointerdown", () => { root.panning = plot; }); // its pointerup: on the document
  plot.addEventListener("wheel", () => {
    clearTimeout(root.wheelTimer);
    root.wheelTimer = setTimeout(() => gestureEnded(root, plot), WHEEL_SETTLE_MS);
  }, { passive: true });
  plot.addEventListener("pointerenter", () => askForAtlas(root));
}

// The map is the page's main object: its area (pages/explore/map_events.py, a container of fixed height whose
// chart stretches to fill it) is made as tall as the window leaves below its top (at least MIN_MAP_PX), so
// map, decoded image and sliders are in view together. The area's height, not the figure's, is set here:
// Streamlit sizes the chart to its area itself, where a height set on the figure would be undone by
// Streamlit's next drawing of its own figure (and set again, and so on).
const MIN_MAP_PX = 480;
const MAP_MARGIN_PX = 24;

function fitHeight(root) {
  const area = document.querySelector(`.st-key-${root.data.area}`);
  const wrapper = area && area.parentElement; // Streamlit's wrapper holds the container's fixed height
  if (!wrapper) return;
  const scroller = area.closest("[data-testid=stMain]"); // the page scrolls there, not the window
  const top = area.getBoundingClientRect().top + (scroller ? scroller.scrollTop : window.scrollY);
  const height = `${Math.max(MIN_MAP_PX, Math.round(window.innerHeight - top - MAP_MARGIN_PX))}px`;
  if (wrapper.style.height !== height) Object.assign(wrapper.style, { height, flex: `0 0 ${height}` });
}

// Fit the area again whenever the page's content or the window changes size (what lies above the map may
// grow or shrink): in a ResizeObserver's callback the page is laid out already, so the measure costs nothing.
function watchHeight(root) {
  const page = document.querySelector("[data-testid=stMainBlockContainer]");
  if (!page || root.watched === page) return;
  root.watched = page;
  root.resizes?.disconnect();
  root.resizes = new ResizeObserver(() => fitHeight(root));
  root.resizes.observe(page);
}

const GRID_RING = "in the grid under the pointer";

// Ring (or, with index null, un-ring) a test image's point on the map, if the map draws it.
function ringPoint(root, index) {
  const plot = root.plot;
  if (!plot || !plot._fullData || !window.Plotly) return;
  let x = [], y = [];
  for (const trace of plot._fullData) {
    const at = index === null || !trace.customdata ? -1 : Array.prototype.indexOf.call(trace.customdata, index);
    if (at >= 0 && trace.visible === true) {
      [x, y] = [[trace.x[at]], [trace.y[at]]];
      break;
    }
  }
  const ring = plot.data.findIndex((trace) => trace.name === GRID_RING);
  if (ring >= 0) {
    window.Plotly.restyle(plot, { x: [x], y: [y] }, [ring]);
  } else if (x.length) {
    window.Plotly.addTraces(plot, { type: "scattergl", mode: "markers", name: GRID_RING, x, y, showlegend: false,
                                    hoverinfo: "skip", marker: { symbol: "circle-open", size: 20, color: "#000",
                                                                 line: { width: 3, color: "#000" } } });
  }
}

function gridIndex(target) {
  const tile = target instanceof Element  // one image and its caption
    ? target.closest(".st-key-image-grid [data-testid=stImageContainer]") : null;
  const found = tile && /^#(\d+)/.exec(tile.textContent.trim());
  return found ? Number(found[1]) : null;
}

// Asked a moment after the pointer enters the map, and never within QUIET_MS of a press: Streamlit
// sends the widget updates of one moment together, under one fragment, so a map click (a full rerun)
// sent with this request (a rerun of this component's fragment) would be lost.
const QUIET_MS = 300;
function askForAtlas(root) {
  const id = root.data.atlas_id;
  if (!id || atlases.has(id) || root.asked === id) return;
  clearTimeout(root.askTimer);
  root.askTimer = setTimeout(() => {
    if (performance.now() - (root.pressed ?? -Infinity) < QUIET_MS) return askForAtlas(root);
    if (askForDecoder(root)) return askForAtlas(root); // the decoder first; the atlas once it is here
    if (root.data.atlas_id !== id || atlases.has(id)) return;
    root.asked = id;
    root.setTriggerValue("want_atlas", id);
  }, QUIET_MS);
}

export default function (component) {
  const { data, parentElement, setStateValue, setTriggerValue } = component;
  let root = parentElement.querySelector(".map-hover");
  if (!root) {
    root = document.createElement("figure");
    root.className = "map-hover";
    Object.assign(root.style, { position: "fixed", display: "none", zIndex: 1000, pointerEvents: "none",
                                margin: 0, padding: "4px", background: "#fff", border: "1px solid #888",
                                borderRadius: "4px", boxShadow: "0 2px 6px rgba(0,0,0,.3)" });
    root.canvas = document.createElement("canvas");
    root.canvas.style.display = "block";
    root.caption = document.createElement("figcaption");
    Object.assign(root.caption.style, { font: "12px sans-serif", textAlign: "center" });
    root.append(root.canvas, root.caption);
    parentElement.append(root);
    // The thumbnail is fixed to the window: once the page scrolls it would float over other parts.
    document.addEventListener("scroll", () => hide(root), { capture: true, passive: true });
    document.addEventListener("pointerup", () => { // a pan may end off the map
      if (root.panning) gestureEnded(root, root.panning);
      root.panning = null;
    }, true);
    document.addEventListener("pointerover", (event) => {
      const index = gridIndex(event.target);
      if (index !== root.ringed) ringPoint(root, (root.ringed = index));
    });
    // The map is drawn after this component, and Streamlit may replace it: look for it now and then.
    window.addEventListener("resize", () => root.isConnected && fitHeight(root));
    root.timer = setInterval(() => {
      if (!root.isConnected) {
        root.resizes?.disconnect();
        return clearInterval(root.timer);
      }
      attach(root);
      watchHeight(root);
      showDetail(root);
      showDecodedAtlas(root);
      recolour(root);
    }, 500);
  }
  root.data = data;
  root.setTriggerValue = setTriggerValue;
  root.setStateValue = setStateValue;
  if (data.atlas && !atlases.has(data.atlas.id)) loadAtlas(root, data.atlas);
  if (data.decoder && !decoderPayloads.has(data.decoder.id)) {
    decoderPayloads.set(data.decoder.id, data.decoder);
    document.dispatchEvent(new CustomEvent(DECODER_ARRIVED, { detail: data.decoder.id }));
  }
  attach(root);
  watchHeight(root);
  showDetail(root);
  showDecodedAtlas(root);
  recolour(root);
}
