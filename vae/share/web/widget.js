// The notebook widget's front end (anywidget; vae/share/widget.py). It shows the same explorer as a
// shared site (explorer.js) with the same components from ui/components/; Python puts their
// sources in SOURCES above this line, and each becomes a module here (a widget's module cannot
// import files beside it). Plotly.js and onnxruntime-web's WebAssembly come gzip-compressed as
// binary traits, as a site stores them. A click or a slider gesture sets the traits
// selected_index, code and colour, which Python reads as `widget.selected`.
const moduleUrl = (text) => URL.createObjectURL(new Blob([text], { type: "text/javascript" }));

async function gunzip(view) {
  const stream = new Blob([view]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Response(stream).arrayBuffer();
}

let loaded = null; // the modules, loaded once per page

function loadModules(model) {
  loaded ??= (async () => {
    const ortUrl = moduleUrl(SOURCES.ort);
    const [components, mapEvents, explorer, ort] = await Promise.all(
      [SOURCES.vae_lab, SOURCES.map_events, SOURCES.explorer].map((text) => import(moduleUrl(text)))
        .concat(import(ortUrl)));
    ort.env.wasm.wasmBinary = await gunzip(model.get("ort_wasm")); // nothing to fetch beside a blob: module
    if (!window.Plotly) (0, eval)(new TextDecoder().decode(await gunzip(model.get("plotly"))));
    return {
      ortUrl, mountExplorer: explorer.mountExplorer,
      modules: { liveDecoder: components.default, buildLocalDecoder: components.buildLocalDecoder,
                 readArray: components.readArray, mapEvents: mapEvents.default },
    };
  })();
  return loaded;
}

async function render({ model, el }) {
  const { ortUrl, mountExplorer, modules } = await loadModules(model);
  const root = document.createElement("div");
  el.append(root);
  const atlasUrl = URL.createObjectURL(new Blob([model.get("atlas")], { type: "image/webp" }));
  const decoder = model.get("decoder");
  const explorer = await mountExplorer(root, {
    site: model.get("site"), atlasUrl, ortUrl, modules,
    onnx: new Uint8Array(decoder.buffer, decoder.byteOffset, decoder.byteLength),
    onView: ({ selected, code, colour }) => {
      model.set({ selected_index: selected, code, colour });
      model.save_changes();
    },
  });
  const follow = () => { // Python set the selection: show it
    const index = model.get("selected_index");
    if (index !== null && index !== explorer.view().selected) explorer.restore({ selected: index });
  };
  model.on("change:selected_index", follow);
  await explorer.restore({ selected: model.get("selected_index"), colour: model.get("colour") });
  return () => {
    model.off("change:selected_index", follow);
    URL.revokeObjectURL(atlasUrl);
  };
}

export default { render };
