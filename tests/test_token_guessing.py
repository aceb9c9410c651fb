"""Wrong access tokens wait out a delay: one client's guesses one after the other, different clients'
side by side (issue 20), so guessing is slow and nobody else waits for it."""

from __future__ import annotations

import threading
from types import SimpleNamespace

from ui import access


def guesses_at_once(monkeypatch, addresses: list[str | None], patience: float) -> int:
    """How many wrong tokens wait out their delay at the same time when one is entered from each
    address at once (None: a client without an address, as on localhost); each waits at most
    `patience` seconds for the others to be waiting too."""
    monkeypatch.setenv(access.TOKEN_VAR, "the-right-token-is-long")
    waiting, most, lock = 0, 0, threading.Lock()
    together = threading.Barrier(len(addresses))

    def delay(_seconds):
        nonlocal waiting, most
        with lock:
            waiting += 1
            most = max(most, waiting)
        try:
            together.wait(timeout=patience)  # returns once every guess is waiting; times out when they queue
        except threading.BrokenBarrierError:
            pass
        with lock:
            waiting -= 1

    where = threading.local()

    class Context:  # st.context as each guess's session sees it
        ip_address = property(lambda _: where.address)

    monkeypatch.setattr(access, "time", SimpleNamespace(sleep=delay))
    monkeypatch.setattr(access.st, "context", Context())

    def guess(address):
        where.address = address
        access._check_token()

    threads = [threading.Thread(target=guess, args=(address,)) for address in addresses]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return most


def test_wrong_tokens_from_one_client_wait_one_after_the_other(monkeypatch):
    assert guesses_at_once(monkeypatch, [None, None, None], patience=0.5) == 1
    assert guesses_at_once(monkeypatch, ["203.0.113.7", "203.0.113.7"], patience=0.5) == 1


def test_wrong_tokens_from_different_addresses_do_not_wait_for_each_other(monkeypatch):
    assert guesses_at_once(monkeypatch, ["203.0.113.7", "198.51.100.2"], patience=30) == 2
