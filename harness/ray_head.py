"""A real Ray head on this machine for the tests and the jobs benchmark: `ray start --head --block` on free ports
and a temporary folder of its own, stopped (SIGTERM: Ray drains and ends its processes) when done, or before
(a test of a head that went away)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests

RAY = Path(sys.executable).with_name("ray")
START_TIMEOUT_S = 120
START_TRIES = 2


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ready(address: str) -> bool:
    """Whether the head's Jobs API answers and its node has joined (its CPUs are counted)."""
    try:
        status = requests.get(f"{address}/api/cluster_status", timeout=2).json()["data"]["clusterStatus"]
        return "CPU" in status["loadMetricsReport"]["usage"]
    except (requests.RequestException, ValueError, KeyError, TypeError):
        return False


def _launch(num_cpus: int) -> tuple[subprocess.Popen, str, Path]:
    """`ray start --head --block` in a temporary folder of its own: (process, Jobs API address, folder)."""
    temp = Path(tempfile.mkdtemp(prefix="vae-ray-", dir="/tmp"))  # short: Ray's socket paths have a length limit
    dashboard = free_port()
    argv = [str(RAY), "start", "--head", "--block", "--num-cpus", str(num_cpus), "--node-ip-address", "127.0.0.1",
            "--port", str(free_port()), "--dashboard-host", "127.0.0.1", "--dashboard-port", str(dashboard),
            "--ray-client-server-port", str(free_port()),
            # Every agent port given: with one left to choose, the raylet waits for the agent to write it down,
            # and on a loaded 2-core machine that wait timed out.
            "--dashboard-agent-listen-port", str(free_port()), "--dashboard-agent-grpc-port", str(free_port()),
            "--runtime-env-agent-port", str(free_port()), "--metrics-export-port", str(free_port()),
            "--object-store-memory", str(100 * 2**20), "--temp-dir", str(temp), "--disable-usage-stats",
            "--include-dashboard", "true"]
    # The jobs' `python` is this interpreter, as a cluster node's is the one that has vae-lab's dependencies.
    # A single-node cluster (Ray's own switch for laptops): every address stays 127.0.0.1, where Ray would
    # otherwise turn --node-ip-address 127.0.0.1 into the machine's network address.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "RAY_USAGE_STATS_ENABLED": "0", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    with (temp / "head.log").open("wb") as log:
        head = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                start_new_session=True)
    return head, f"http://127.0.0.1:{dashboard}", temp


def _stop(head: subprocess.Popen, temp: Path) -> None:
    if head.poll() is None:
        head.send_signal(signal.SIGTERM)  # Ray drains and ends the processes it started
    try:
        head.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(head.pid, signal.SIGKILL)
        head.wait(10)
    shutil.rmtree(temp, ignore_errors=True)


@dataclass
class RayHead:
    """A started head: its Jobs API address (http://127.0.0.1:PORT), and `stop` (once is enough)."""

    address: str
    process: subprocess.Popen
    temp: Path

    def stop(self) -> None:
        _stop(self.process, self.temp)


@contextlib.contextmanager
def ray_head(num_cpus: int = 2) -> Iterator[RayHead]:
    """Start a head and yield it; its jobs run this interpreter.

    Tried twice: on a loaded 2-core machine a head's node once missed Ray's fixed 30 s to register."""
    for attempt in range(START_TRIES):
        head, address, temp = _launch(num_cpus)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _ready(address) and head.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        if _ready(address):
            break
        log = (temp / "head.log").read_text()[-2000:]
        _stop(head, temp)
        if attempt + 1 == START_TRIES:
            raise RuntimeError("the Ray head did not start: " + log)
    started = RayHead(address, head, temp)
    try:
        yield started
    finally:
        started.stop()
