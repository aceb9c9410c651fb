#!/usr/bin/env bash
# Install onnxruntime-web at the version package-lock.json pins and copy the two files the browser
# loads (the ES module and its WebAssembly) into ui/static/onnxruntime-web/, which Streamlit serves
# at /app/static/ (ui/.streamlit/config.toml: enableStaticServing): no CDN, works offline.
# Without npm the app still runs; slider steps then decode on the server.
set -euo pipefail
cd "$(dirname "$0")/.."
out=ui/static/onnxruntime-web
stamp=$out/.installed-$(sha256sum package-lock.json | cut -c1-16)
[ -f "$stamp" ] && exit 0
if ! command -v npm >/dev/null; then
  echo "npm not found: slider steps will decode on the server (scripts/system-packages.sh installs npm)" >&2
  exit 0
fi
# --ignore-scripts: nothing the browser loads is built at install time, and no package runs code here.
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
rm -rf "$out"
mkdir -p "$out"
cp node_modules/onnxruntime-web/dist/ort.wasm.bundle.min.mjs node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.wasm "$out/"
cp scripts/licenses/onnxruntime-web.txt "$out/LICENSE.txt"
rm -rf node_modules  # 150 MB of builds for other back ends; npm keeps its own cache
touch "$stamp"
