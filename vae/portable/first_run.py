"""A graph pair's first run, in a child process under a time and a memory limit.

A graph is data, but running it is not bounded by its file's size: a Loop may spin for ever, an
operator may allocate gigabytes. onnx_bounds refuses what it can see before anything runs; this
catches the rest on the first test run, away from the server. The child imports numpy and
onnxruntime only (no onnx, no torch: it starts in about half a second), reads the two graphs and
the inputs as one .npz on stdin and writes the outputs as one .npz on stdout. The parent kills it
at the time limit; the child also caps its own address space and CPU time, so even an orphan stops.

`python -m vae.portable.first_run CONTRACT_JSON TIMEOUT_S MEMORY_BYTES` is the child.
"""

from __future__ import annotations

import io
import json
import math
import os
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from vae.commands import FIRST_RUN, PACKAGE_ROOT, python_module

TIMEOUT_S = 20.0  # a normal pair's first run takes well under a second
MEMORY_BYTES = 2 * 2**30  # what the child may allocate beyond itself once onnxruntime is imported
STARTED = "running "  # the child's progress lines on stderr: which graph a timeout stopped


class FirstRunError(ValueError):
    """The first run failed, ran out of time or of memory; the message is one line."""


@dataclass(frozen=True)
class Contract:
    """The pair's file labels and edge names (vae.portable.spec's, which the child cannot import: torch)."""

    encoder_label: str
    encoder_input: str
    encoder_outputs: tuple[str, str]
    decoder_label: str
    decoder_input: str
    decoder_output: str


def session_options(threads: int) -> ort.SessionOptions:
    """onnxruntime's options for every session VAE Lab starts.

    No CPU memory arena: with one, memory a large run took stays held by the process afterwards.
    No spinning: idle threads spinning fought the browser for this machine's two cores.
    """
    options = ort.SessionOptions()
    options.enable_cpu_mem_arena = False
    options.intra_op_num_threads = max(1, threads)
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return options


def run_pair(encoder: bytes, decoder: bytes, images: np.ndarray, noise: np.ndarray,
             contract: Contract) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Encode `images`, then decode their means and `noise`, in a child: (mu, logvar, decoded)."""
    payload = io.BytesIO()
    np.savez(payload, encoder=np.frombuffer(encoder, np.uint8), decoder=np.frombuffer(decoder, np.uint8),
             images=images.astype(np.float32), noise=noise.astype(np.float32))
    argv = python_module(FIRST_RUN, json.dumps(asdict(contract)), str(TIMEOUT_S), str(MEMORY_BYTES))
    # The child stays in this process group: cancelling an import (its group) stops it too.
    process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               cwd=PACKAGE_ROOT)
    try:
        out, err = process.communicate(payload.getvalue(), timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
        raise FirstRunError(f"{_running(err, contract)}: the first test run did not end within {TIMEOUT_S:g} s "
                            f"(stopped; a graph that loops or computes this long is refused)") from None
    if process.returncode != 0:
        lines = [line for line in err.decode(errors="replace").splitlines() if not line.startswith(STARTED)]
        raise FirstRunError(lines[-1] if lines else f"{_running(err, contract)}: the first test run stopped "
                            f"(exit code {process.returncode})")
    with np.load(io.BytesIO(out), allow_pickle=False) as outputs:
        return outputs["mu"], outputs["logvar"], outputs["decoded"]


def _running(err: bytes, contract: Contract) -> str:
    """The graph the child was running when it stopped, from its progress lines."""
    started = [line.removeprefix(STARTED) for line in err.decode(errors="replace").splitlines()
               if line.startswith(STARTED)]
    return started[-1] if started else f"{contract.encoder_label} and {contract.decoder_label}"


def _limit_self(timeout_s: float, memory_bytes: int) -> None:
    """Cap this process's address space and CPU time (Linux): an orphaned child still stops."""
    try:
        import resource

        used = int(Path("/proc/self/statm").read_text().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        resource.setrlimit(resource.RLIMIT_AS, (used + memory_bytes, used + memory_bytes))
        cpu = math.ceil(timeout_s) + 5
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    except (ImportError, OSError, ValueError):
        pass  # no /proc or no resource module: the parent's time limit still holds


def _run(label: str, graph: bytes, feed: dict[str, np.ndarray], names: list[str],
         memory_bytes: int) -> list[np.ndarray]:
    print(f"{STARTED}{label}", file=sys.stderr, flush=True)
    try:
        runner = ort.InferenceSession(graph, session_options(1), providers=["CPUExecutionProvider"])
        return runner.run(names, feed)
    except Exception as exc:  # onnxruntime's own kinds, MemoryError
        reason = " ".join(str(exc).split())[:300] or type(exc).__name__
        if isinstance(exc, MemoryError) or "alloc" in reason.lower():
            reason = f"it needs more than the {memory_bytes >> 20} MB a first run may take ({reason})"
        raise SystemExit(f"{label}: the first test run failed ({reason})") from None


def main(contract: Contract, timeout_s: float, memory_bytes: int) -> None:
    with np.load(io.BytesIO(sys.stdin.buffer.read()), allow_pickle=False) as inputs:
        encoder, decoder = inputs["encoder"].tobytes(), inputs["decoder"].tobytes()
        images, noise = inputs["images"], inputs["noise"]
    _limit_self(timeout_s, memory_bytes)
    c = contract
    mu, logvar = _run(c.encoder_label, encoder, {c.encoder_input: images}, list(c.encoder_outputs), memory_bytes)
    (decoded,) = _run(c.decoder_label, decoder, {c.decoder_input: np.concatenate([mu, noise])}, [c.decoder_output],
                      memory_bytes)
    result = io.BytesIO()
    np.savez(result, mu=mu, logvar=logvar, decoded=decoded)
    sys.stdout.buffer.write(result.getvalue())


if __name__ == "__main__":
    main(Contract(**json.loads(sys.argv[1])), float(sys.argv[2]), int(sys.argv[3]))
