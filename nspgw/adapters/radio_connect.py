"""Finding and opening a Meshtastic radio: serial (USB, auto-detected), TCP (`host:port`) or BLE.

Every way the library can fail while opening (socket errors, serial errors, its own MeshInterfaceError, and
`our_exit`, which raises SystemExit) becomes a `RadioError` with a Dutch message.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from nspgw.errors import RadioError

log = logging.getLogger("nspgw.radio")

DEFAULT_TCP_PORT = 4403
"""meshtastic.tcp_interface.DEFAULT_TCP_PORT: the firmware's TCP API port."""

# USB vendor ids of boards that ship Meshtastic: Adafruit/nRF52 (0x239a), Espressif native USB (0x303a) as in
# meshtastic.util.whitelistVids, plus the USB-serial bridges on Heltec/T-Beam/RAK boards (CP210x, CH34x).
_LIKELY_VIDS = {0x239A: "nRF52 (Adafruit)", 0x303A: "ESP32 (native USB)", 0x10C4: "CP210x USB-serieel",
                0x1A86: "CH34x USB-serieel"}


@dataclass(frozen=True)
class RadioTarget:
    """How to reach the radio. kind: "serial" (path or "auto"), "tcp" (host, port) or "ble" (address)."""

    kind: str
    path: str = "auto"
    host: str = ""
    port: int = DEFAULT_TCP_PORT
    address: str = ""

    def describe(self) -> str:
        if self.kind == "tcp":
            return f"tcp:{self.host}:{self.port}"
        if self.kind == "ble":
            return f"ble:{self.address}"
        return f"serieel:{self.path}"

    @classmethod
    def parse(cls, *, port: str | None = None, host: str | None = None, ble: str | None = None) -> RadioTarget:
        """From CLI flags or the config's [radio] section: host wins, then BLE, then serial (default auto)."""
        if host:
            name, sep, num = host.rpartition(":")
            if not sep:
                name, num = host, str(DEFAULT_TCP_PORT)
            if not name or not num.isdigit() or not 1 <= int(num) <= 65535:
                raise RadioError(f"ongeldig radio-adres {host!r}; gebruik host:poort, bijv. 127.0.0.1:4403")
            return cls(kind="tcp", host=name, port=int(num))
        if ble:
            return cls(kind="ble", address=ble)
        return cls(kind="serial", path=port or "auto")


@dataclass(frozen=True)
class SerialCandidate:
    """A serial port that may hold a Meshtastic radio."""

    device: str
    description: str
    vid: int | None
    pid: int | None
    likely: bool


def serial_candidates() -> list[SerialCandidate]:
    """Serial ports that look like Meshtastic radios, most likely first (pyserial + meshtastic.util.findPorts)."""
    import serial.tools.list_ports
    from meshtastic import util

    likely_paths = set(util.findPorts(eliminate_duplicates=True))
    out = []
    for p in serial.tools.list_ports.comports():
        if p.vid is None:
            continue  # no USB device behind it (built-in UARTs, ptys)
        likely = p.device in likely_paths or p.vid in _LIKELY_VIDS
        desc = p.description or _LIKELY_VIDS.get(p.vid, "")
        out.append(SerialCandidate(p.device, desc, p.vid, p.pid, likely))
    return sorted(out, key=lambda c: (not c.likely, c.device))


def resolve_serial(path: str) -> str:
    if path != "auto":
        return path
    found = [c for c in serial_candidates() if c.likely]
    if not found:
        raise RadioError("geen Meshtastic-radio gevonden op USB; controleer de kabel of geef --port / --host")
    if len(found) > 1:
        names = ", ".join(c.device for c in found)
        raise RadioError(f"meerdere radio's gevonden ({names}); kies er een met --port")
    return found[0].device


def open_interface(target: RadioTarget, timeout_s: float = 30.0) -> Any:
    """Open the library interface; returns once the radio has sent its whole configuration."""
    try:
        if target.kind == "tcp":
            from meshtastic.tcp_interface import TCPInterface

            return TCPInterface(target.host, portNumber=target.port, timeout=int(timeout_s))
        if target.kind == "ble":
            from meshtastic.ble_interface import BLEInterface

            return BLEInterface(target.address, timeout=int(timeout_s))
        from meshtastic.serial_interface import SerialInterface

        return SerialInterface(devPath=resolve_serial(target.path), timeout=int(timeout_s))
    except RadioError:
        raise
    except (Exception, SystemExit) as exc:  # the library raises anything, and our_exit() raises SystemExit
        log.debug("opening %s failed", target.describe(), exc_info=True)
        raise RadioError(f"radio niet bereikbaar op {target.describe()}: {_reason(exc)}") from None


def close_quietly(iface: Any) -> None:
    """Close an interface whose radio may already be gone; never raises."""
    try:
        iface.close()
    except (Exception, SystemExit):
        log.debug("closing the radio interface failed", exc_info=True)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "verbinding geweigerd"
    if isinstance(exc, TimeoutError):
        return "geen antwoord"
    text = str(exc).strip()
    return text or type(exc).__name__
