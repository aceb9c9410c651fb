"""Who may start, cancel or write anything: everyone on this machine, or whoever has the token.

The server listens on 127.0.0.1 (`.streamlit/config.toml`), so only this machine reaches it. An
operator who binds it to another address must set an access token (`VAE_LAB_TOKEN`): without one
the server refuses to start, since anyone who reached the port could start and cancel training
jobs. With a token set, starting or cancelling a job and writing into a bundle ask for it once per
browser session; looking around does not. A wrong token costs a second, and each client address
gets one guess at a time however many sessions it opens.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import threading
import time

import streamlit as st

TOKEN_VAR = "VAE_LAB_TOKEN"
UNLOCKED_KEY = "access_unlocked"
WRONG_TOKEN_DELAY_S = 1.0  # per wrong guess and client address: the token itself should be long and random
LOCAL_CLIENTS = "local"  # the key of every client without an address (see _client_key)
MAX_CLIENTS = 10_000  # addresses tracked; guesses from any more all queue on one lock
_TURNS: dict[str, threading.Lock] = {}
_TURNS_LOCK = threading.Lock()


def operator_token() -> str | None:
    """The access token the operator set, or None."""
    return os.environ.get(TOKEN_VAR) or None


def is_loopback(address: str) -> bool:
    """Whether a server bound to `address` is reachable from this machine only ('' means every interface)."""
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False  # a host name or '': it may resolve to, or mean, every interface


def exposure_problem(address: str, token: str | None) -> str | None:
    """Why the server must not start bound to `address`, or None when it may."""
    if is_loopback(address) or token:
        return None
    where = f"address {address!r}" if address else "every network interface"
    return (f"refusing to listen on {where} without an access token: set {TOKEN_VAR} to a long random "
            "secret (see README, 'Reaching the app from another machine'), or bind to 127.0.0.1")


def unlocked() -> bool:
    """Whether this session may start, cancel and write: always without a token, else once it was given."""
    return operator_token() is None or bool(st.session_state.get(UNLOCKED_KEY))


def _client_key() -> str:
    """Whom a guess comes from: the client's address, or one key for every local client.

    `st.context.ip_address` is None on localhost, and outside a served session; the same key then
    stands for all of them, so opening more sessions never buys more guesses.
    """
    try:
        address = st.context.ip_address
    except Exception:  # no runtime (a script run by a test): no address to tell clients apart
        address = None
    return address or LOCAL_CLIENTS


def _turn(client: str) -> threading.Lock:
    """The lock one client's guesses queue on (past MAX_CLIENTS addresses, all share one)."""
    with _TURNS_LOCK:
        if client not in _TURNS and len(_TURNS) >= MAX_CLIENTS:
            client = LOCAL_CLIENTS
        return _TURNS.setdefault(client, threading.Lock())


def _check_token() -> None:
    token, entered = operator_token(), st.session_state.get("access_token_entry", "")
    st.session_state["access_token_entry"] = ""
    with _turn(_client_key()):  # one guess at a time per client, however many sessions it opens
        if token and hmac.compare_digest(entered.encode(), token.encode()):
            st.session_state[UNLOCKED_KEY] = True
            st.session_state.pop("access_token_wrong", None)
        else:
            time.sleep(WRONG_TOKEN_DELAY_S)
            st.session_state["access_token_wrong"] = True


def token_form(what: str) -> None:
    """Ask for the operator's token; `what` says what it unlocks."""
    with st.form("access-token"):
        st.text_input(f"Access token ({what})", type="password", key="access_token_entry",
                      help=f"The operator of this server set {TOKEN_VAR}; ask them for it.")
        st.form_submit_button("Unlock", on_click=_check_token)
    if st.session_state.get("access_token_wrong"):
        st.error("That is not the access token.")
