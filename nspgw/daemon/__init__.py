"""The nspgw daemon: the service loop (`service`), its driver (`driver`), threads and control socket (`io`),
control commands (`control`), status record (`status`), peer presence (`presence`) and service journal
(`journal`).

Kept import-free on purpose: `nspgw.daemon.status` is read by the CLI and the console, which must not pull
the whole service (radio, MQTT) in. `Daemon` is still reachable as `nspgw.daemon.Daemon`, loaded on use."""

from typing import Any


def __getattr__(name: str) -> Any:
    if name in ("Daemon", "setup_logging", "core_timing"):
        from nspgw.daemon import service

        return getattr(service, name)
    raise AttributeError(name)
