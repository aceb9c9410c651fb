"""Start VAE Lab with its heavy libraries imported before the first visitor arrives.

    vae-lab serve [--checkpoints DIR] [streamlit options]    (runs this module)
    python -m ui.serve [streamlit options] [-- --checkpoints DIR]

It refuses to start bound to anything but this machine unless the operator set an access token
(ui/access.py).

`streamlit run app.py` (at the repository root) works too, but Streamlit imports a page's modules
during the first session's first run: PyTorch alone takes ~1.6 s here, so the first visitor waited
~2.5 s longer than later ones. Here they are imported while the server starts (ui/preload.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

from streamlit.web import bootstrap, cli

from ui import access, preload

APP = Path(__file__).resolve().parent / "app.py"


def bound_address(argv: list[str]) -> str:
    """The address Streamlit will listen on: `--server.address`, else its environment and config files."""
    from streamlit import config

    flags = {}
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        if arg.startswith("--server.address="):
            flags["server_address"] = arg.split("=", 1)[1]
        elif arg == "--server.address" and i + 1 < len(argv):
            flags["server_address"] = argv[i + 1]
    # As `streamlit run` does before it reads the config: ui/.streamlit/config.toml sits beside the
    # app, not in the working directory, and is found through the main script's path.
    config._main_script_path = str(APP)
    bootstrap.load_config_options(flag_options=flags)
    address = config.get_option("server.address") or ""
    # Forget this reading: Streamlit's own, with every flag, would otherwise differ from it and print
    # "An update to the [server] config option section was detected" at every start.
    config._config_options = None
    return address


def main() -> None:
    problem = access.exposure_problem(bound_address(sys.argv[1:]), access.operator_token())
    if problem:  # said before anything else is imported, so it is the only line printed
        sys.exit(f"error: {problem}")
    preload.start()
    sys.argv = ["streamlit", "run", str(APP), *sys.argv[1:]]
    sys.exit(cli.main(prog_name="streamlit"))


if __name__ == "__main__":
    main()
