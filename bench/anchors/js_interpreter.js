// The anchor of bench/browser_decode.py: ui/components/local_decoder.js as VAE Lab shipped it until
// onnxruntime-web replaced it (commit c65ac8d), so the bench runs it in the same page: unchanged but for
// its array reading, now ui/components/arrays.js, which the bench joins in front of it.
//
// Decoding in the browser: runs the decoder program of vae/decoder_export.py and places a code on
// the map as pages/explore/live_decoder.py's `local_payload` describes, so a slider step needs no server
// round trip. Plain loops over Float32Arrays: the shipped 16-D conv decoder takes a few ms.

function linear(x, w, b, nIn, nOut) {
  const y = new Float32Array(nOut);
  for (let o = 0; o < nOut; o++) {
    let sum = b ? b[o] : 0;
    const row = o * nIn;
    for (let i = 0; i < nIn; i++) sum += w[row + i] * x[i];
    y[o] = sum;
  }
  return y;
}

// A copy of x (c, h, w) with zero rows and columns around each plane.
function padded(x, [c, h, w], top, bottom, left, right) {
  const hp = h + top + bottom, wp = w + left + right;
  const out = new Float32Array(c * hp * wp);
  for (let ch = 0; ch < c; ch++) {
    for (let r = 0; r < h; r++) {
      out.set(x.subarray((ch * h + r) * w, (ch * h + r + 1) * w), (ch * hp + r + top) * wp + left);
    }
  }
  return { data: out, plane: hp * wp, width: wp };
}

// out[o][p] = sum over i and taps of weight(o, i, tap) * x[i][p + tap.offset], for p < n. On a
// padded input whose rows are `width` long, p = row * width + column covers a whole output plane
// in one run (columns past the output's width are thrown away), and four output channels share
// each input value read: ~1.5x faster in V8 than a loop per output row and channel.
function correlate(x, cIn, cOut, taps, weight, n) {
  const groups = Math.ceil(cOut / 4), data = x.data;
  const out = new Float32Array(groups * 4 * n); // channels past cOut get zero weights
  const w = (o, i, tap) => (o < cOut ? weight(o, i, tap) : 0);
  for (let o = 0; o < groups * 4; o += 4) {
    const t0 = o * n, t1 = t0 + n, t2 = t1 + n, t3 = t2 + n;
    for (let i = 0; i < cIn; i++) {
      for (const tap of taps) {
        const w0 = w(o, i, tap), w1 = w(o + 1, i, tap), w2 = w(o + 2, i, tap), w3 = w(o + 3, i, tap);
        const from = i * x.plane + tap.offset;
        for (let p = 0; p < n; p++) {
          const v = data[from + p];
          out[t0 + p] += w0 * v;
          out[t1 + p] += w1 * v;
          out[t2 + p] += w2 * v;
          out[t3 + p] += w3 * v;
        }
      }
    }
  }
  return out;
}

// PyTorch Conv2d, stride 1 (vae/decoder_export.py refuses others): weight (out, in, kh, kw).
function conv2d(x, w, b, op) {
  const [cIn] = op.in_shape, [cOut, hOut, wOut] = op.out_shape;
  const [kh, kw] = op.kernel, [ph, pw] = op.padding;
  const xp = padded(x, op.in_shape, ph, ph, pw, pw);
  const taps = [];
  for (let ky = 0; ky < kh; ky++) for (let kx = 0; kx < kw; kx++) taps.push({ ky, kx, offset: ky * xp.width + kx });
  const n = (hOut - 1) * xp.width + wOut;
  const acc = correlate(xp, cIn, cOut, taps, (o, i, t) => w[((o * cIn + i) * kh + t.ky) * kw + t.kx], n);
  const y = new Float32Array(cOut * hOut * wOut);
  for (let o = 0; o < cOut; o++) {
    for (let oy = 0; oy < hOut; oy++) {
      const row = (o * hOut + oy) * wOut, from = o * n + oy * xp.width;
      for (let ox = 0; ox < wOut; ox++) y[row + ox] = acc[from + ox] + (b ? b[o] : 0);
    }
  }
  return y;
}

// Kernel indices k that reach output index s*m + phase, each with the input offset d: from m + d.
function kernelTaps(phase, size, stride, pad) {
  const taps = [];
  for (let k = 0; k < size; k++) if ((phase + pad - k) % stride === 0) taps.push([k, (phase + pad - k) / stride]);
  return taps;
}

// PyTorch ConvTranspose2d: weight (in, out, kh, kw); y[o, s*iy - p + ky, s*ix - p + kx] += w * x[i, iy, ix].
// Each output phase (rows s*m + py, columns s*n + px) is a stride-1 correlation with a sub-kernel.
function convTranspose2d(x, w, b, op) {
  const [cIn, hIn, wIn] = op.in_shape, [cOut, hOut, wOut] = op.out_shape;
  const [kh, kw] = op.kernel, [sh, sw] = op.stride, [ph, pw] = op.padding;
  const rows = Array.from({ length: sh }, (_, py) => kernelTaps(py, kh, sh, ph));
  const cols = Array.from({ length: sw }, (_, px) => kernelTaps(px, kw, sw, pw));
  const span = (phases, count, inSize) => { // zero padding so every tap stays inside
    const d = phases.flat().map(([, shift]) => shift);
    return [Math.max(0, -Math.min(0, ...d)), Math.max(0, count - 1 + Math.max(0, ...d) - (inSize - 1))];
  };
  const [top, bottom] = span(rows, Math.ceil(hOut / sh), hIn);
  const [left, right] = span(cols, Math.ceil(wOut / sw), wIn);
  const xp = padded(x, op.in_shape, top, bottom, left, right);
  const y = new Float32Array(cOut * hOut * wOut);
  for (let py = 0; py < sh; py++) {
    for (let px = 0; px < sw; px++) {
      const hm = Math.ceil((hOut - py) / sh), wm = Math.ceil((wOut - px) / sw);
      if (hm <= 0 || wm <= 0) continue;
      const taps = [];
      for (const [ky, dy] of rows[py]) {
        for (const [kx, dx] of cols[px]) taps.push({ ky, kx, offset: (dy + top) * xp.width + dx + left });
      }
      const n = (hm - 1) * xp.width + wm;
      const acc = correlate(xp, cIn, cOut, taps, (o, i, t) => w[((i * cOut + o) * kh + t.ky) * kw + t.kx], n);
      for (let o = 0; o < cOut; o++) {
        for (let m = 0; m < hm; m++) {
          const row = (o * hOut + sh * m + py) * wOut + px, from = o * n + m * xp.width;
          for (let k = 0; k < wm; k++) y[row + sw * k] = acc[from + k] + (b ? b[o] : 0);
        }
      }
    }
  }
  return y;
}

const ELEMENTWISE = {
  relu: () => (v) => (v > 0 ? v : 0),
  silu: () => (v) => v / (1 + Math.exp(-v)),
  elu: (op) => (v) => (v > 0 ? v : op.alpha * (Math.exp(v) - 1)),
  sigmoid: () => (v) => 1 / (1 + Math.exp(-v)),
};

// A function from a code (array of latent_dim numbers) to the image's floats (C, H, W) in [0, 1].
function buildDecoder(program) {
  const weights = readArray(program.weights, program.dtype);
  const steps = program.ops.map((op) => {
    const param = (start, length) => {
      if (start >= 0 && start + length > weights.length) throw new Error(`${op.op}: weights too short`);
      return start < 0 ? null : weights.subarray(start, start + length);
    };
    if (op.op === "linear") {
      const [nIn] = op.in_shape, [nOut] = op.out_shape;
      const w = param(op.weight, nIn * nOut), b = param(op.bias, nOut);
      return (x) => linear(x, w, b, nIn, nOut);
    }
    if (op.op === "conv2d" || op.op === "conv_transpose2d") {
      const w = param(op.weight, op.in_shape[0] * op.out_shape[0] * op.kernel[0] * op.kernel[1]);
      const b = param(op.bias, op.out_shape[0]);
      return op.op === "conv2d" ? (x) => conv2d(x, w, b, op) : (x) => convTranspose2d(x, w, b, op);
    }
    if (op.op === "unflatten") return (x) => x;
    if (!(op.op in ELEMENTWISE)) throw new Error(`unknown op ${op.op}`);
    const fn = ELEMENTWISE[op.op](op);
    return (x) => x.map(fn);
  });
  return (code) => steps.reduce((x, step) => step(x), Float32Array.from(code));
}

// A function from a code to its map position [x, y], as vae.latent_tools.ForwardProjector does it.
function buildPlacer(projection) {
  if (projection.kind === "latent") return (code) => [code[0], code[1]];
  if (projection.kind === "pca") {
    const [first, second] = projection.components;
    return (code) => [0, 1].map((row) => code.reduce(
      (sum, v, d) => sum + (v - projection.mean[d]) * (row ? second[d] : first[d]), 0));
  }
  const codes = readArray(projection.codes, projection.dtype);
  const xy = readArray(projection.xy, "float32");
  const dim = projection.dim, n = codes.length / dim, k = Math.min(projection.k, n);
  return (code) => { // inverse-distance weights of the k nearest codes' map positions
    const nearest = []; // [distance², index], sorted, at most k
    for (let j = 0; j < n; j++) {
      let d2 = 0;
      for (let d = 0; d < dim; d++) { const diff = codes[j * dim + d] - code[d]; d2 += diff * diff; }
      if (nearest.length === k && d2 >= nearest[k - 1][0]) continue;
      let at = nearest.length === k ? k - 1 : nearest.length;
      while (at > 0 && nearest[at - 1][0] > d2) { nearest[at] = nearest[at - 1]; at--; }
      nearest[at] = [d2, j];
    }
    let total = 0, x = 0, y = 0;
    for (const [d2, j] of nearest) {
      const weight = 1 / Math.max(Math.sqrt(d2), 1e-12);
      total += weight; x += weight * xy[2 * j]; y += weight * xy[2 * j + 1];
    }
    return [x / total, y / total];
  };
}

// Pixels as the server makes them (vae.latent_tools.to_pixels): floor(clip(v) * 255 + 0.5).
function toDataUri(image, [channels, height, width], canvas) {
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext("2d");
  const pixels = context.createImageData(width, height);
  const plane = height * width;
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) {
      const v = image[(channels === 1 ? 0 : c) * plane + p];
      pixels.data[4 * p + c] = Math.floor(Math.min(Math.max(v, 0), 1) * 255 + 0.5);
    }
    pixels.data[4 * p + 3] = 255;
  }
  context.putImageData(pixels, 0, 0);
  return canvas.toDataURL("image/png");
}

// {decode(code) -> PNG data URI, place(code) -> [left %, top %] on the map picture}.
function buildLocalDecoder(payload) {
  const decode = buildDecoder(payload.decoder);
  const place = buildPlacer(payload.projection);
  const outShape = payload.decoder.ops[payload.decoder.ops.length - 1].out_shape;
  const canvas = document.createElement("canvas");
  const [x0, x1, y0, y1] = payload.bounds;
  const clip = (v) => Math.min(Math.max(v, 0), 1);
  return {
    decode: (code) => toDataUri(decode(code), outShape, canvas),
    place: (code) => {
      const [x, y] = place(code);
      const percent = (fraction) => Math.round(clip(fraction) * 10000) / 100;
      return [percent((x - x0) / (x1 - x0)), percent((y1 - y) / (y1 - y0))];
    },
  };
}
