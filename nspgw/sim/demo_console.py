"""The demo's web consoles: every post it starts serves its console on localhost, with one demo login.

The login is printed on the screen and is the same for every post: the demo's keys and accounts are for a
simulation on this machine only (like `nspgw.sim.boxes.SIM_KEY_SEED`) and live in its temporary folder."""

from __future__ import annotations

import socket
from dataclasses import replace
from pathlib import Path

from nspgw.config import ConsoleConfig, load_config, render_config
from nspgw.sim.boxes import SimBox

DEMO_OPERATOR = "demo"
DEMO_PASSWORD = "demo-wachtwoord"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def enable_consoles(boxes: list[SimBox]) -> list[tuple[str, str]]:
    """Switch on each box's console (HTTPS on 127.0.0.1, a free port) with the demo login; (box, URL) pairs."""
    from nspgw.console.accounts import Accounts

    urls = []
    for box in boxes:
        cfg = load_config(box.config_path)
        port = _free_port()
        cfg = replace(cfg, console=ConsoleConfig(enabled=True, host="127.0.0.1", port=port, tls=True))
        Path(box.config_path).write_text(render_config(cfg), encoding="utf-8")
        accounts = Accounts(box.state_dir)
        try:
            if not accounts.exists(DEMO_OPERATOR):
                accounts.add(DEMO_OPERATOR, DEMO_PASSWORD)
        finally:
            accounts.close()
        urls.append((box.name, f"https://localhost:{port}/"))
    return urls
