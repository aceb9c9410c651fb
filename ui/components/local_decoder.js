// Decoding in the browser: onnxruntime-web (WebAssembly) runs the decoder as an ONNX model, and the
// code is placed on the map as pages/explore/live_decoder.py's `local_payload` describes, so a slider step
// needs no server round trip. The shipped 16-D conv decoder takes ~1 ms a step this way.
//
// The decoder contract (pages/explore/live_decoder.py's `browser_decoder`): base64 ONNX bytes whose input "z"
// takes (1, latent_dim) float32 and whose one output is (1, C, H, W) float32, holding pixel means
// in [0, 1] (output "probs") or logits (output "logits": the sigmoid is applied here).

// The first runs of a decoder and of the placement are slow (onnxruntime's first run ~10-90 ms; V8
// compiles hot JavaScript and WebAssembly after a few calls): a decoder is warmed with these runs
// before a step uses it.
const WARM_UP_RUNS = 8;
// A one-node ONNX model (Identity of one float, made with onnx.helper, opset 17). A session for it
// starts onnxruntime's WebAssembly (fetch, compile, initialise: ~1.5 s on a busy 2-core machine),
// which the decoder's own session then finds ready: the page starts it when the sliders are first
// touched, while the server exports the decoder.
const START_MODEL = "CAg6OwoQCgF4EgF5IghJZGVudGl0eRIFc3RhcnRaDwoBeBIKCggIARIECgIIAWIPCgF5EgoKCAgBEgQKAggBQgQKABAR";
let ortStarted = null; // onnxruntime-web, imported and started once per page
// The decoder payloads this page has received, by id: the sliders (live_decoder.js) and the map's atlas
// (map_atlas.js) are separate components and share one transfer.
const decoderPayloads = (globalThis.vaeLabDecoderPayloads ??= new Map());
// The map's companion (map_events.js) tells the sliders (live_decoder.js), separate components on one page, by
// events on the document: that a decoder payload has arrived (detail: its id), and that a click chose a code
// (detail: {values}), which the sliders decode here at once when they can.
const DECODER_ARRIVED = "vae-lab-decoder-arrived";
const CODE_CHOSEN = "vae-lab-code-chosen";

function startOrt(url) {
  // A full URL: this script may run as a blob: module, against which a path does not resolve.
  ortStarted ??= import(new URL(url, document.baseURI).href).then(async (ort) => {
    ort.env.wasm.numThreads = 1; // threads need a cross-origin isolated page, which Streamlit's is not
    const session = await ort.InferenceSession.create(readBytes(START_MODEL), { executionProviders: ["wasm"] });
    await session.release();
    return ort;
  }).catch((error) => {
    ortStarted = null; // a later touch tries again
    throw error;
  });
  return ortStarted;
}

// An async function from a code (latent_dim numbers) to the image's floats (C, H, W) in [0, 1].
// One run at a time: callers wait for each result.
async function buildDecoder(decoder, ortUrl) {
  const ort = await startOrt(ortUrl);
  const session = await ort.InferenceSession.create(readBytes(decoder.onnx), { executionProviders: ["wasm"] });
  if (!session.inputNames.includes("z") || session.outputNames.length !== 1) {
    throw new Error(`a decoder takes "z" and gives one output, not ${session.inputNames} -> ${session.outputNames}`);
  }
  const [name] = session.outputNames;
  const size = decoder.image_shape.reduce((a, b) => a * b, 1);
  const z = new Float32Array(decoder.latent_dim);
  const input = new ort.Tensor("float32", z, [1, decoder.latent_dim]);
  const image = new Float32Array(size);
  const decode = async (code) => {
    z.set(code);
    const output = (await session.run({ z: input }))[name];
    if (output.data.length !== size) throw new Error(`the decoder gave ${output.dims}, not ${decoder.image_shape}`);
    if (decoder.output === "logits") {
      for (let i = 0; i < size; i++) image[i] = 1 / (1 + Math.exp(-output.data[i]));
    } else {
      image.set(output.data);
    }
    output.dispose();
    return image;
  };
  return decode;
}

// A function from a code to its map position [x, y], as vae.latent.placement.ForwardProjector does it.
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

// Pixels as the server makes them (vae.media.to_pixels): floor(clip(v) * 255 + 0.5).
function toPixels(image, channels, pixels) {
  const plane = pixels.width * pixels.height, data = pixels.data;
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) {
      const v = image[(channels === 1 ? 0 : c) * plane + p];
      data[4 * p + c] = Math.floor(Math.min(Math.max(v, 0), 1) * 255 + 0.5);
    }
    data[4 * p + 3] = 255;
  }
  return pixels;
}

// {decode(code) -> Promise of ImageData, place(code) -> [left %, top %] on the map picture}, warm.
async function buildLocalDecoder(payload, ortUrl) {
  const decode = await buildDecoder(payload.decoder, ortUrl);
  const place = buildPlacer(payload.projection);
  const [channels, height, width] = payload.decoder.image_shape;
  const pixels = new ImageData(width, height);
  const [x0, x1, y0, y1] = payload.bounds;
  const clip = (v) => Math.min(Math.max(v, 0), 1);
  const local = {
    decode: async (code) => toPixels(await decode(code), channels, pixels),
    place: (code) => {
      const [x, y] = place(Float64Array.from(code)); // one array type, so V8's warm code stays valid
      const percent = (fraction) => Math.round(clip(fraction) * 10000) / 100;
      return [percent((x - x0) / (x1 - x0)), percent((y1 - y) / (y1 - y0))];
    },
  };
  for (let run = 0; run < WARM_UP_RUNS; run++) {
    const code = Array.from({ length: payload.decoder.latent_dim }, () => Math.random() * 2 - 1);
    await local.decode(code);
    local.place(code);
  }
  return local;
}
