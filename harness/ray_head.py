"""A real Ray head on this machine for the tests and the jobs benchmark: `ray start --head --block` on free ports
and a temporary folder of its own, stopped (SIGTERM: Ray drains and ends its processes) when done."""

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
from pathlib import Path

import requests

RAY = Path(sys.executable).with_name("ray")
START_TIMEOUT_S = 120


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


@contextlib.contextmanager
def ray_head(num_cpus: int = 2) -> Iterator[str]:
    """Start a head and yield its Jobs API address (http://127.0.0.1:PORT); its jobs run this interpreter."""
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
           "RAY_USAGE_STATS_ENABLED": "0", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
           # Ray's own advice when its node did not register in time on a loaded 2-core machine (default 10 s).
           "RAY_raylet_start_wait_time_s": "120"}
    log = (temp / "head.log").open("wb")
    head = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                            start_new_session=True)
    address = f"http://127.0.0.1:{dashboard}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _ready(address):
            if head.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the Ray head did not start: " + (temp / "head.log").read_text()[-2000:])
            time.sleep(0.5)
        yield address
    finally:
        head.send_signal(signal.SIGTERM)
        try:
            head.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait(10)
        log.close()
        shutil.rmtree(temp, ignore_errors=True)
