// The Explore page's live decoder in one component: the decoded image, where its code lies on the
// map, and a slider per latent dimension, as plain DOM. A slider step then re-renders this
// component alone, not sixteen React sliders, an image element and an HTML element.
//
// Python sends {rows, values, seq, limit, step, image, picture, marker, url_pending, local_id, ort};
// a move sends {seq, values} as the state value "code". At most one move is in flight: the next goes
// once Python has answered (its data.seq caught up), so dragging never queues reruns, and Python's
// values replace the thumbs only when it has seen every move (so a late answer never snaps a thumb
// back). SETTLE_MS after the last answer the trigger "settled" tells Python to write the code into
// the URL: once per gesture, because a URL change re-renders the whole app and adds a history entry.
//
// Where the browser can decode (local_decoder.js; Python sends the decoder once, when the sliders
// are first touched, as a trigger "want_local" asks), a step decodes here and no move goes to
// Python until the gesture settles: then one move, marked settled, sets the code and the URL.
// The image is a canvas: a step's pixels go straight into it (no PNG to encode and load), each
// drawing counts up its data-frame attribute, and a step decoded here is drawn before the next
// frame. Decodes run one at a time; steps that come meanwhile collapse into the newest.
//
// A code chosen elsewhere on the page (a click on a map point: map_events.js sends CODE_CHOSEN) is decoded
// here at once where the browser has the decoder (the sliders' payload, or the map companion's, whose
// arrival DECODER_ARRIVED announces): the thumbs and the image show it before Python's rerun, which then
// sends the same code.
const RETRY_MS = 1000;
const SETTLE_MS = 400;
const ASK_AGAIN_MS = 5000;
const localDecoders = new Map(); // payload id -> {decode, place} once built and warm, kept across re-mounts
const building = new Set(); // payload ids whose decoder is being built
const unusable = new Set(); // payload ids this browser failed to load

function figure(className, caption, ...content) {
  const element = document.createElement("figure");
  element.className = className;
  const text = document.createElement("figcaption");
  text.textContent = caption;
  element.append(...content, text);
  return element;
}

function buildPictures(root) {
  const decoded = document.createElement("canvas");
  decoded.className = "decoded";
  decoded.setAttribute("role", "img");
  decoded.setAttribute("aria-label", "decoded image");
  decoded.dataset.frame = "0";
  const density = document.createElement("img");
  density.alt = "map density";
  const cross = document.createElement("span");
  cross.textContent = "✕";
  const marker = document.createElement("span"); // the map's size, its corner at the code's place
  marker.className = "position-marker";
  marker.append(cross);
  const map = document.createElement("div");
  map.className = "ld-map";
  map.append(density, marker);
  const row = document.createElement("div");
  row.className = "ld-pictures";
  row.append(figure("ld-decoded", "decoded", decoded), figure("ld-where", "where this code lies on the map", map));
  root.append(row);
  Object.assign(root, { decoded, density, marker, drawn: 0 });
}

function buildSliders(root, data) {
  root.sliders.innerHTML = "";
  root.inputs = [];
  root.values = data.values.slice();
  const addRow = (parent, row) => {
    const wrapper = document.createElement("div");
    wrapper.className = "ld-row";
    const label = document.createElement("label");
    const name = document.createElement("span");
    name.textContent = row.label;
    label.title = row.hint || "";
    const shown = document.createElement("output");
    const input = document.createElement("input");
    Object.assign(input, { type: "range", min: -data.limit, max: data.limit, step: data.step });
    input.dataset.dim = row.dim;
    input.setAttribute("aria-label", row.label);
    input.addEventListener("input", () => {
      clearTimeout(root.settle);
      root.values[row.dim] = Number(input.value);
      shown.textContent = Number(input.value).toFixed(2);
      root.dirty = true;
      if (root.local) {
        decodeHere(root);
        root.settle = setTimeout(() => send(root, true), SETTLE_MS);
      } else {
        send(root);
      }
    });
    input.shown = shown;
    label.append(name, shown);
    wrapper.append(label, input);
    parent.append(wrapper);
    root.inputs.push(input);
  };
  const informative = data.rows.filter((r) => !r.collapsed);
  const collapsed = data.rows.filter((r) => r.collapsed);
  informative.forEach((row) => addRow(root.sliders, row));
  if (collapsed.length) {
    const details = document.createElement("details");
    const summary = document.createElement("summary");
    summary.textContent = `${collapsed.length} unused dimension(s), KL ≈ 0: they change nothing`;
    details.append(summary);
    collapsed.forEach((row) => addRow(details, row));
    root.sliders.append(details);
  }
}

// The code as Python sent it, with the moved sliders' values: a range input snaps its value to
// its step (0.05), so reading every input would round the dimensions nobody touched.
function currentValues(root) {
  return root.values.slice();
}

// New pixels into the canvas, resized to them; `drawn` orders drawings (a server image that loads
// after a newer local decode is dropped).
function draw(root, source) {
  const canvas = root.decoded;
  if (canvas.width !== source.width || canvas.height !== source.height) {
    canvas.width = source.width;
    canvas.height = source.height;
  }
  const context = canvas.getContext("2d");
  if (source instanceof ImageData) context.putImageData(source, 0, 0);
  else context.drawImage(source, 0, 0);
  canvas.dataset.frame = String(Number(canvas.dataset.frame) + 1);
}

// Moved by a transform, which the compositor applies without a layout or paint of the page.
function moveMarker(root, [left, top]) {
  root.marker.style.transform = `translate(${left}%, ${top}%)`;
}

// Decode the sliders' code here; a promise of the drawing (or of the one running, which takes it up).
function decodeHere(root) {
  root.wanted = currentValues(root);
  if (!root.decoding) root.decoding = decodeWanted(root);
  return root.decoding;
}

async function decodeWanted(root) {
  try {
    while (root.wanted) {
      const values = root.wanted;
      root.wanted = null;
      const pixels = await root.local.decode(values);
      root.drawn += 1;
      draw(root, pixels);
      delete root.decoded.dataset.uri;
      moveMarker(root, root.local.place(values));
    }
  } catch (error) { // decode on the server from now on
    console.warn("VAE Lab: decoding on the server, the browser's decoder failed:", error);
    unusable.add(root.localId);
    localDecoders.delete(root.localId);
    root.local = null;
    root.dataset.decoder = "server";
    send(root);
  } finally {
    root.decoding = null;
  }
}

function askForLocalDecoder(root) {
  const id = root.localId;
  if (!id || localDecoders.has(id) || building.has(id) || unusable.has(id)) return;
  if (decoderPayloads.has(id)) return loadLocalDecoder(root, decoderPayloads.get(id), root.ortUrl); // the atlas's
  if (performance.now() - (root.askedAt ?? -Infinity) < ASK_AGAIN_MS) return; // an answer may be on its way
  root.askedAt = performance.now();
  root.setTriggerValue("want_local", id);
  startOrt(root.ortUrl).catch(() => {}); // meanwhile; a failure shows when the decoder is built
}

function send(root, settled = false) {
  if (!root.dirty) return;
  const now = performance.now();
  if (root.inFlight && now - root.sentAt < RETRY_MS) {
    clearTimeout(root.retry);
    root.retry = setTimeout(() => send(root, settled), RETRY_MS);
    return;
  }
  root.seq += 1;
  root.dirty = false;
  root.inFlight = true;
  root.sentAt = now;
  root.setStateValue("code", { seq: root.seq, values: currentValues(root), settled });
}

function showPictures(root, data) {
  if (root.decoded.dataset.uri !== data.image) {
    root.decoded.dataset.uri = data.image;
    const ticket = ++root.drawn;
    const image = new Image();
    image.onload = () => { if (ticket === root.drawn) draw(root, image); };
    image.src = data.image;
  }
  if (root.density.dataset.uri !== data.picture) {
    root.density.dataset.uri = data.picture;
    root.density.src = data.picture;
  }
  moveMarker(root, data.marker);
}

// Build the decoder Python sent (once per page and payload); the sliders use it once it is warm.
function loadLocalDecoder(root, payload, ortUrl) {
  if (payload.unusable) { // the server cannot export this model's decoder: ask no more
    unusable.add(payload.id);
    return;
  }
  if (localDecoders.has(payload.id) || building.has(payload.id)) return;
  decoderPayloads.set(payload.id, payload);
  building.add(payload.id);
  buildLocalDecoder(payload, ortUrl).then(async (local) => {
    localDecoders.set(payload.id, local);
    if (root.localId !== payload.id) return;
    root.local = local;
    await decodeHere(root); // the same image, drawn here once: a canvas's first drawing of this kind is slow
    if (root.local) root.dataset.decoder = "browser";
  }).catch((error) => { // the server path still works: say why in the console, and ask no more
    console.warn("VAE Lab: decoding on the server, the browser could not load the decoder:", error);
    unusable.add(payload.id);
  }).finally(() => building.delete(payload.id));
}

// The code the sliders hold, and their thumbs and printed values.
function setValues(root, values) {
  root.values = values.slice();
  root.inputs.forEach((input) => {
    const value = values[Number(input.dataset.dim)];
    if (Number(input.value) !== value) input.value = value;
    input.shown.textContent = value.toFixed(2);
  });
}

// Show a code chosen elsewhere (see the top): the thumbs at once, the image once decoded here.
function showChosen(root, values) {
  if (!root.isConnected || !root.local || values.length !== root.values.length) return;
  setValues(root, values);
  decodeHere(root);
}

// The map companion's decoder payload has arrived: build it for the sliders too, when it is theirs.
function takeArrived(root, id) {
  if (root.isConnected && id === root.localId && decoderPayloads.has(id)) {
    loadLocalDecoder(root, decoderPayloads.get(id), root.ortUrl);
  }
}

export default function (component) {
  const { data, parentElement, setStateValue, setTriggerValue } = component;
  let root = parentElement.querySelector(".live-decoder");
  if (!root) {
    root = document.createElement("div");
    root.className = "live-decoder";
    root.seq = 0;
    buildPictures(root);
    root.sliders = document.createElement("div");
    root.sliders.className = "ld-sliders";
    root.sliders.addEventListener("focusin", () => askForLocalDecoder(root));
    root.sliders.addEventListener("pointerover", () => askForLocalDecoder(root));
    root.append(root.sliders);
    parentElement.append(root);
    document.addEventListener(CODE_CHOSEN, (event) => showChosen(root, event.detail.values));
    document.addEventListener(DECODER_ARRIVED, (event) => takeArrived(root, event.detail));
  }
  const layout = JSON.stringify([data.rows, data.limit, data.step]);
  if (root.layout !== layout) {
    root.layout = layout;
    buildSliders(root, data);
  }
  root.setStateValue = setStateValue;
  root.setTriggerValue = setTriggerValue;
  root.seq = Math.max(root.seq, data.seq);
  if (data.local) loadLocalDecoder(root, data.local, data.ort);
  root.localId = data.local_id;
  root.ortUrl = data.ort;
  root.local = localDecoders.get(data.local_id);
  root.dataset.decoder = root.local ? "browser" : "server";
  const stale = data.seq < root.seq; // Python has not seen the latest move yet
  if (!(root.local && (stale || root.dirty))) showPictures(root, data); // never over a newer local image
  if (stale) return;
  root.inFlight = false;
  if (root.dirty) {
    if (!root.local) send(root); // decoding here, the gesture's settle timer sends it
    return;
  }
  setValues(root, data.values);
  if (data.url_pending) {
    clearTimeout(root.settle);
    root.settle = setTimeout(() => root.setTriggerValue("settled", root.seq), SETTLE_MS);
  }
}
