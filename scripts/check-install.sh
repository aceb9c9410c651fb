#!/usr/bin/env bash
# CI: `pip install .` from a clean clone into a fresh venv outside the repository, then, from another
# folder, `vae-lab --help` lists the sub-commands and `vae-lab serve --checkpoints <repo>/checkpoints`
# answers with the app. (tests/browser/test_install.py checks the same wheel in a browser, faster.)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'kill "${server:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
git clone -q "$repo" "$work/clone"
python=${PYTHON:-$(command -v python3.11 || command -v python3)}
"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q --upgrade pip
"$work/venv/bin/python" -m pip install -q -r "$work/clone/requirements.txt"
"$work/venv/bin/python" -m pip install -q "$work/clone"
mkdir "$work/elsewhere" && cd "$work/elsewhere"
help=$("$work/venv/bin/vae-lab" --help)
for command in serve train evaluate; do
  grep -q "$command" <<<"$help" || { echo "vae-lab --help does not list $command" >&2; exit 1; }
done
port=$("$work/venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$work/venv/bin/vae-lab" serve --checkpoints "$repo/checkpoints" --server.port "$port" >"$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 120); do
  if curl -fs "http://127.0.0.1:$port/_stcore/health" >/dev/null; then
    curl -fs "http://127.0.0.1:$port/" | grep -q "<title>Streamlit</title>" && { echo "vae-lab installs and serves"; exit 0; }
  fi
  sleep 1
done
cat "$work/serve.log" >&2
echo "vae-lab serve did not answer" >&2
exit 1
