"""The server listens on this machine only, unless an operator exposes it with an access token.

`./run.sh` is run as shipped, in a copy of the tree whose setup step is already done (its
scripts/setup.sh replaced by a no-op and .venv/bin/vae-lab by this interpreter's `vae.cli`), so
the test neither installs anything nor touches the shared environment.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from harness.browser import free_port
from ui.access import exposure_problem, is_loopback

from .conftest import ROOT


def listening_addresses(port: int) -> set[str]:
    """The local addresses of the sockets listening on `port` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                raw = bytes.fromhex(address)
                # /proc writes each 32-bit word in host (little-endian) order.
                words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
                family = socket.AF_INET if width == 8 else socket.AF_INET6
                found.add(socket.inet_ntop(family, words))
    return found


def outward_address() -> str | None:
    """This machine's address on its network, if it has one (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))
            address = probe.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


@pytest.fixture()
def run_sh(tmp_path):
    """A copy of run.sh beside a finished setup: `vae-lab` is this interpreter running this tree's code."""
    shutil.copy2(ROOT / "run.sh", tmp_path / "run.sh")
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "setup.sh").write_text("#!/usr/bin/env bash\nexit 0\n")
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "vae-lab").write_text(
        f'#!/usr/bin/env bash\nexport PYTHONPATH="{ROOT}"\nexec "{sys.executable}" -m vae.cli "$@"\n')
    for script in (tmp_path / "run.sh", tmp_path / "scripts" / "setup.sh", tmp_path / ".venv" / "bin" / "vae-lab"):
        script.chmod(0o755)
    return tmp_path / "run.sh"


def start(command: list, env: dict | None = None) -> subprocess.Popen:
    environment = {k: v for k, v in os.environ.items() if k != "VAE_LAB_TOKEN"}
    return subprocess.Popen(command, env={**environment, **(env or {})}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def wait_healthy(port: int, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError("the server did not answer")


def stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, 15)
    proc.wait(timeout=30)


def test_run_sh_listens_on_127_0_0_1_only(run_sh):
    port = free_port()
    proc = start([str(run_sh), "--server.port", str(port)])
    try:
        wait_healthy(port, proc)
        assert listening_addresses(port) == {"127.0.0.1"}
        other = outward_address()
        if other:  # reaching the port from the network is refused
            with pytest.raises(OSError), socket.create_connection((other, port), timeout=2):
                pass
    finally:
        stop(proc)
    # A quiet start: no warning about a config change nobody made (the address check reads the config first).
    assert "config option section was detected" not in proc.stdout.read() + proc.stderr.read()


def test_binding_elsewhere_without_a_token_is_refused_in_one_line(run_sh):
    started = time.monotonic()
    proc = start([str(run_sh), "--server.port", str(free_port()), "--server.address", "0.0.0.0"])
    _, err = proc.communicate(timeout=120)
    assert proc.returncode != 0 and time.monotonic() - started < 120
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "refusing to listen on address '0.0.0.0'" in lines[0] and "VAE_LAB_TOKEN" in lines[0]


def test_with_a_token_the_operator_may_expose_it(run_sh):
    port = free_port()
    proc = start([str(run_sh), "--server.port", str(port), "--server.address", "0.0.0.0"],
                 env={"VAE_LAB_TOKEN": "a-long-random-secret"})
    try:
        wait_healthy(port, proc)
        assert listening_addresses(port) == {"0.0.0.0"}
    finally:
        stop(proc)


@pytest.mark.parametrize("address, exposed", [("127.0.0.1", False), ("localhost", False), ("::1", False),
                                              ("127.0.0.2", False), ("", True), ("0.0.0.0", True), ("::", True),
                                              ("192.168.1.5", True), ("my-host.example", True)])
def test_which_addresses_need_a_token(address, exposed):
    assert is_loopback(address) is not exposed
    assert (exposure_problem(address, None) is not None) is exposed
    assert exposure_problem(address, "a-token") is None
