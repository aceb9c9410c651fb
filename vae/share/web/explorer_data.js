// What the shared explorer (explorer.js, joined after this file into one module by vae/share/site.py's
// EXPLORER_JS) makes from a site's data before drawing it: the unpacked arrays, codes as the
// sliders keep them, the live decoder's picture of the map, the map's colours and its traces.
const DENSITY_SIDE = 160; // the live decoder's picture of the map, as the app's

function toBase64(array) {
  let binary = "";
  for (let i = 0; i < array.length; i += 0x8000) binary += String.fromCharCode(...array.subarray(i, i + 0x8000));
  return btoa(binary);
}

function unpack(site, readArray) {
  const indices = readArray(site.indices, "int32");
  const xy = readArray(site.xy, "float32");
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
    labels: readArray(site.labels, "int32"),
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
