// The decoded atlas over the Explore map: Python (pages/explore/map_atlas.py) sends the view's cells in
// data.atlas.cells (their centres, codes, and which lie far from data; square on screen); they are decoded here in one batch
// with onnxruntime-web once the page has the decoder (the sliders' payload, shared by id; or the companion's,
// asked for with its trigger "want_decoder": map_events.js), and until then drawn from the tiles Python decoded
// (`picture`), the same way:
// one canvas, each cell's image centred in its cell at a whole multiple of its size, the cells far from data
// dimmed and outlined. The canvas goes on the map as a Plotly layout image (named for its cells; below the points,
// or above them: "instead of the points"), so it pans and zooms with the map until the next view's atlas
// replaces it: a layout image, not a canvas over the plot, because Plotly moves it with the axes during a
// gesture. An invisible trace, "atlas cells", puts a click target at each cell's centre, reached from anywhere
// in the cell (the layout's hoverdistance: half a cell's diagonal): a click on a cell selects its centre,
// which the server decodes by the same inverse projection, so the sliders get the cell's code. Under the
// points a click on a point still selects that image (the click grid, trace 0, is skipped: between points a
// click takes the cell's code); over them ("instead of the points") only the cells take the pointer.
const batchDecoders = new Map(); // payload id -> Promise of an async (codes, n) -> floats (n, C, H, W) in [0, 1]
const readyDecoders = new Set(); // payload ids whose batch decoder is built
const DECODED_ATLAS = "decoded atlas";
const CELLS = "atlas cells";
const FAR_FILL = "rgba(255, 255, 255, 0.6)";
const FAR_LINE = "#d9480f";
const HOVER_DISTANCE = 20; // Plotly's default, in pixels

function decodedAtlasOn(root) {
  const atlas = root.data.decoded;
  return Boolean(atlas && atlas.mode !== "off");
}

function browserDecodesAtlas(root) {
  return Boolean(root.data.decoded && readyDecoders.has(root.data.decoder_id));
}

async function buildBatchDecoder(decoder, ortUrl) {
  const ort = await startOrt(ortUrl);
  const session = await ort.InferenceSession.create(readBytes(decoder.onnx), { executionProviders: ["wasm"] });
  const [name] = session.outputNames;
  return async (codes, n) => {
    const output = (await session.run({ z: new ort.Tensor("float32", codes, [n, decoder.latent_dim]) }))[name];
    const floats = Float32Array.from(output.data);
    output.dispose();
    if (decoder.output === "logits") for (let i = 0; i < floats.length; i++) floats[i] = 1 / (1 + Math.exp(-floats[i]));
    return floats;
  };
}

// Start building the batch decoder once its payload is here; ask Python for the payload otherwise.
function prepareDecoder(root) {
  const id = root.data.decoder_id;
  if (!id) return;
  const payload = decoderPayloads.get(id);
  if (!payload) return askForDecoder(root); // map_events.js
  if (payload.unusable || batchDecoders.has(id)) return;
  batchDecoders.set(id, buildBatchDecoder(payload.decoder, root.data.ort).then((decode) => {
    readyDecoders.add(id);
    reportView(root, 0); // the server stops decoding the cells
    return decode;
  }).catch((error) => {
    console.warn("VAE Lab: the atlas decodes on the server, the browser could not load the decoder:", error);
    return null;
  }));
}

// The cells' pixels as one sheet, cell i at row floor(i / columns), column i % columns (vae.latent.plane.tile's
// order).
function sheetOf(floats, cells) {
  const [channels, height, width] = cells.image_shape, { columns, rows } = cells, plane = height * width;
  const sheet = new ImageData(columns * width, rows * height), data = sheet.data;
  for (let i = 0; i < rows * columns; i++) {
    const row = Math.floor(i / columns), column = i % columns, base = i * channels * plane;
    for (let p = 0; p < plane; p++) {
      const o = 4 * ((row * height + Math.floor(p / width)) * columns * width + column * width + (p % width));
      for (let c = 0; c < 3; c++) {
        const v = floats[base + (channels === 1 ? 0 : c) * plane + p];
        data[o + c] = Math.floor(Math.min(Math.max(v, 0), 1) * 255 + 0.5); // as vae.media.to_pixels
      }
      data[o + 3] = 255;
    }
  }
  const canvas = document.createElement("canvas");
  [canvas.width, canvas.height] = [sheet.width, sheet.height];
  canvas.getContext("2d").putImageData(sheet, 0, 0);
  return canvas;
}

function loadImage(source) {
  return new Promise((resolve, reject) => {
    const image = new Image();
    image.onload = () => resolve(image);
    image.onerror = reject;
    image.src = source;
  });
}

// The cells' sheet: decoded here when the batch decoder is ready, else Python's picture.
async function cellSheet(root, cells) {
  const decoding = browserDecodesAtlas(root) && batchDecoders.get(root.data.decoder_id);
  const decode = decoding && (await decoding);
  if (decode) {
    const n = cells.rows * cells.columns;
    return [sheetOf(await decode(readArray(cells.codes, "float32"), n), cells), "browser"];
  }
  return cells.picture ? [await loadImage(cells.picture), "server"] : [null, null];
}

// One canvas the size of the plot area: each cell's image centred in its cell (square but for rounding), at a
// whole multiple of its pixel size (smaller only where the cell is smaller than the image: the grid keeps cells
// of 28 px at least), the cells far from data dimmed and outlined.
function compose(sheet, cells, plotWidth, plotHeight) {
  const [, height, width] = cells.image_shape, { columns, rows } = cells;
  const cellWidth = Math.max(1, Math.round(plotWidth / columns)), cellHeight = Math.max(1, Math.round(plotHeight / rows));
  const room = Math.min(cellWidth, cellHeight), largest = Math.max(height, width);
  const scale = room >= largest ? Math.floor(room / largest) : room / largest;
  const [drawWidth, drawHeight] = [Math.round(width * scale), Math.round(height * scale)];
  const offsetX = Math.floor((cellWidth - drawWidth) / 2), offsetY = Math.floor((cellHeight - drawHeight) / 2);
  const canvas = document.createElement("canvas");
  [canvas.width, canvas.height] = [columns * cellWidth, rows * cellHeight];
  const context = canvas.getContext("2d");
  context.imageSmoothingEnabled = scale < 1;
  context.lineWidth = 2;
  context.strokeStyle = FAR_LINE;
  context.fillStyle = FAR_FILL;
  for (let i = 0; i < rows * columns; i++) {
    const row = Math.floor(i / columns), column = i % columns, left = column * cellWidth, top = row * cellHeight;
    context.drawImage(sheet, column * width, row * height, width, height, left + offsetX, top + offsetY,
                      drawWidth, drawHeight);
    if (cells.far[i]) {
      context.fillRect(left + offsetX, top + offsetY, drawWidth, drawHeight);
      context.strokeRect(left + offsetX + 1, top + offsetY + 1, drawWidth - 2, drawHeight - 2);
    }
  }
  return { source: canvas.toDataURL("image/png"),
           cell: { width: cellWidth, height: cellHeight, offsetX, offsetY, scale, size: drawWidth } };
}

// The atlas's layout image is named DECODED_ATLAS and its cells' key: which view it shows.
function isAtlasImage(image) {
  return (image.name || "").startsWith(DECODED_ATLAS);
}

function withoutAtlas(images) {
  return (images || []).filter((image) => !isAtlasImage(image));
}

// What the figure had before the atlas came on, put back when it goes: grid lines, hover distance, each
// trace's hover (null: Plotly's default).
function keepFigure(root, plot) {
  root.before = { grid: [plot._fullLayout.xaxis.showgrid, plot._fullLayout.yaxis.showgrid],
                  hoverdistance: plot.layout.hoverdistance ?? null,
                  hoverinfo: plot.data.map((trace) => trace.hoverinfo ?? null),
                  hovertemplate: plot.data.map((trace) => trace.hovertemplate ?? null) };
}

function clearDecodedAtlas(root) {
  const plot = root.plot;
  if (!plot || !plot._fullData || !(plot.layout.meta || {}).decoded) return;
  const before = root.before || { grid: [true, true], hoverdistance: null, hoverinfo: [], hovertemplate: [] };
  // The meta first: each Plotly call below redraws, and a redraw calls showDecodedAtlas again.
  window.Plotly.relayout(plot, { images: withoutAtlas(plot.layout.images), "xaxis.showgrid": before.grid[0],
                                 "yaxis.showgrid": before.grid[1], hoverdistance: before.hoverdistance,
                                 meta: { ...(plot.layout.meta || {}), decoded: null } });
  const cells = plot.data.findIndex((trace) => trace.name === CELLS);
  if (cells >= 0) window.Plotly.deleteTraces(plot, cells);
  delete plot.dataset.atlasTargets;
  const traces = before.hoverinfo.map((_, i) => i).filter((i) => i < plot.data.length);
  window.Plotly.restyle(plot, { hoverinfo: traces.map((i) => before.hoverinfo[i]),
                                hovertemplate: traces.map((i) => before.hovertemplate[i]) }, traces);
}

// Which traces take the pointer while the atlas shows (see the top of this file), as a restyle of every trace
// (hover settings only: no redraw of the points). A trace with a hovertemplate ignores hoverinfo "skip": the
// template goes meanwhile.
function hoverUpdate(root, plot, mode) {
  const { hoverinfo, hovertemplate } = root.before;
  const isCells = plot.data.map((trace) => trace.name === CELLS);
  const skip = plot.data.map((_, i) => !isCells[i] && (mode === "over" || i === 0));
  return {
    hoverinfo: plot.data.map((_, i) => (isCells[i] ? "none" : skip[i] ? "skip" : hoverinfo[i] ?? null)),
    hovertemplate: plot.data.map((_, i) => (skip[i] ? null : hovertemplate[i] ?? null)),
  };
}

// Move the cells' click targets to `cells` (added once per figure); the plot's data-atlas-targets then names
// the cells they are at. New data for a trace makes Plotly compute and draw every trace again (~50 ms of script
// and a slow frame in software WebGL), so this comes after the frame that shows the picture; a newer atlas (or
// none) by then makes it moot.
function moveTargets(root, plot, applied, cells, size) {
  cancelAnimationFrame(root.targetsFrame);
  clearTimeout(root.targetsTimer);
  root.targetsFrame = requestAnimationFrame(() => { root.targetsTimer = setTimeout(() => {
    if (plot !== root.plot || !(plot.layout.images || []).some((image) => image.name === applied)) return;
    const targets = plot.data.findIndex((trace) => trace.name === CELLS);
    if (targets >= 0 && plot.dataset.atlasTargets !== cells.key) {
      window.Plotly.restyle(plot, { x: [cells.x], y: [cells.y], "marker.size": size }, [targets]);
    } else if (targets < 0) {
      const hidden = { marker: { opacity: 0 } };
      window.Plotly.addTraces(plot, { type: "scattergl", mode: "markers", name: CELLS, x: cells.x, y: cells.y,
                                      showlegend: false, hoverinfo: "none", selected: hidden, unselected: hidden,
                                      marker: { size, opacity: 0, color: "#000" } });
    }
    plot.dataset.atlasTargets = cells.key;
  }); });
}

// Put a composed atlas on the map, then its click targets, unless the plot shows it already. The layout's
// meta.decoded says how it lies on this figure (mode and opacity: a new figure from Python has none); it
// changes only with them, because a change of the meta redraws the map's points (~100 ms here).
function applyDecodedAtlas(root, drawn) {
  const plot = root.plot, atlas = root.data.decoded, cells = drawn.cells;
  const style = `${atlas.mode}|${atlas.opacity}`, applied = `${DECODED_ATLAS} ${cells.key}`;
  const shown = (plot.layout.meta || {}).decoded;
  if (shown === style && (plot.layout.images || []).some((image) => image.name === applied)) return;
  const [x0, x1, y0, y1] = cells.view;
  const image = { name: applied, source: drawn.source, xref: "x", yref: "y", x: x0, y: y1, sizex: x1 - x0,
                  sizey: y1 - y0, sizing: "stretch", xanchor: "left", yanchor: "top", opacity: atlas.opacity,
                  layer: atlas.mode === "over" ? "above" : "below" };
  const reach = Math.ceil(Math.hypot(drawn.cell.width, drawn.cell.height) / 2);
  const layout = { images: [...withoutAtlas(plot.layout.images), image], hoverdistance: Math.max(reach, HOVER_DISTANCE) };
  // The picture in one quick redraw (a call per change would redraw each time), with the meta where it changes:
  // a redraw calls showDecodedAtlas again, which must find this atlas applied. When the atlas comes on (or
  // changes its mode), the hover settings too, and no grid lines: over its cells they read as white streaks
  // (put back when it goes).
  if (shown === style) {
    window.Plotly.relayout(plot, layout);
  } else if (shown && shown.split("|")[0] === atlas.mode) {
    window.Plotly.relayout(plot, { ...layout, meta: { ...plot.layout.meta, decoded: style } });
  } else {
    if (!shown) keepFigure(root, plot);
    window.Plotly.update(plot, hoverUpdate(root, plot, atlas.mode),
                         { ...layout, "xaxis.showgrid": false, "yaxis.showgrid": false,
                           meta: { ...(plot.layout.meta || {}), decoded: style } }, plot.data.map((_, i) => i));
  }
  moveTargets(root, plot, applied, cells, Math.min(drawn.cell.width, drawn.cell.height));
  plot.dataset.decodedAtlas = cells.key;
  plot.dataset.decodedBy = drawn.decoder;
  root.atlasShown = { key: cells.key, decoder: drawn.decoder, cell: drawn.cell, at: performance.now() };
}

// Draw the newest cells Python sent (one composition at a time; a newer view's cells replace an older's).
async function drawWanted(root) {
  while (root.atlasWanted) {
    const cells = root.atlasWanted;
    root.atlasWanted = null;
    const started = performance.now();
    const [sheet, decoder] = await cellSheet(root, cells);
    const plot = root.plot;
    if (!sheet || !plot || !plot._fullLayout) continue;
    const decoded = performance.now(), { w, h } = plot._fullLayout._size;
    root.atlasDrawn = { ...compose(sheet, cells, w, h), cells, decoder };
    const composed = performance.now();
    if (!root.atlasWanted && decodedAtlasOn(root)) applyDecodedAtlas(root, root.atlasDrawn);
    // Where a redraw's time goes (bench/atlas.py reads it): decoding (or loading the server's tiles), composing,
    // putting it on the map (Plotly's redraw).
    root.atlasTimes = { arrived: started, decode_ms: decoded - started, compose_ms: composed - decoded,
                        apply_ms: performance.now() - composed };
  }
  root.atlasBusy = null;
}

function showDecodedAtlas(root) {
  const plot = root.plot;
  if (!plot || !plot._fullData || !window.Plotly) return;
  if (!decodedAtlasOn(root)) return clearDecodedAtlas(root);
  prepareDecoder(root);
  reportView(root, 0); // the plot's size and the decoder's state, once they change
  const cells = root.data.decoded.cells;
  if (!cells) return;
  const drawn = root.atlasDrawn;
  if (drawn && drawn.cells.key === cells.key) return applyDecodedAtlas(root, drawn); // put back: a new figure drops it
  if (root.atlasWanted?.key === cells.key || (root.atlasBusy && root.atlasDrawing === cells.key)) return;
  root.atlasWanted = cells;
  root.atlasDrawing = cells.key;
  root.atlasBusy ??= drawWanted(root);
}
