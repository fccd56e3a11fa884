"""The box configuration file (`/etc/nspgw/nspgw.toml` by default).

The roster (signed by the network authority) is the source of truth for addresses, roles and parents; the
configuration says which box this is, where its state lives and how to reach its radio and broker.
Every problem is a `ConfigError` that names the field, in Dutch first.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nspgw.errors import ConfigError

DEFAULT_CONFIG_PATH = Path("/etc/nspgw/nspgw.toml")
ROLES = ("nsp", "cp", "gct")
PRESETS = (
    "SHORT_TURBO", "SHORT_FAST", "SHORT_SLOW", "MEDIUM_FAST", "MEDIUM_SLOW",
    "LONG_FAST", "LONG_MODERATE", "LONG_SLOW",
)


@dataclass(frozen=True)
class RadioConfig:
    enabled: bool = True
    port: str = "auto"  # "auto" = detect a Meshtastic USB radio; or a device path
    host: str = ""  # "host:port" for a TCP radio (takes precedence over port)
    profile: str = ""  # firmware profile name; defaults to the box role
    channel_index: int = 1  # the "nspgw" channel on the radio
    preset: str = "LONG_FAST"
    region: str = "EU_868"


@dataclass(frozen=True)
class MqttConfig:
    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 1883
    tls: bool = False
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    username: str = ""
    password_file: str = ""
    keepalive_s: int = 10


@dataclass(frozen=True)
class ConsoleConfig:
    """The operators' web console (nspgw.console), served by the daemon."""

    enabled: bool = False
    host: str = "127.0.0.1"  # localhost only; the post's LAN address (or 0.0.0.0) to serve phones and tablets
    port: int = 8443
    tls: bool = True  # HTTPS with the box's own certificate (state_dir/console/cert.pem)
    session_hours: int = 12  # one shift; then log in again


@dataclass(frozen=True)
class AlertsConfig:
    on_flash: str = ""  # command run (no shell) with the message as NSPGW_* variables when a FLASH report arrives


@dataclass(frozen=True)
class Config:
    path: Path
    name: str
    role: str
    network: str
    state_dir: Path
    parent: str = ""
    radio: RadioConfig = field(default_factory=RadioConfig)
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    console: ConsoleConfig = field(default_factory=ConsoleConfig)
    alerts: AlertsConfig = field(default_factory=AlertsConfig)

    @property
    def store_path(self) -> Path:
        return self.state_dir / "nspgw.db"

    @property
    def keys_dir(self) -> Path:
        return self.state_dir / "keys"

    @property
    def roster_path(self) -> Path:
        """The signed roster the box trusts (written by `nspgw roster import`, read by the daemon)."""
        return self.keys_dir / "roster.json"


def config_path_from_env(explicit: Path | None) -> Path:
    """`--config` wins, then `$NSPGW_CONFIG`, then the system default."""
    if explicit is not None:
        return explicit
    env = os.environ.get("NSPGW_CONFIG")
    return Path(env) if env else DEFAULT_CONFIG_PATH


def load_config(path: Path) -> Config:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"configuratiebestand {path} bestaat niet (maak het met `nspgw init`) / config file not found"
        ) from None
    except OSError as exc:
        raise ConfigError(f"configuratiebestand {path} is niet leesbaar: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: geen geldige TOML: {exc}") from None
    return parse_config(data, path)


def _take(table: dict[str, Any], key: str, kind: type, where: str, default: Any = ...) -> Any:
    if key not in table:
        if default is ...:
            raise ConfigError(f"{where}.{key}: ontbreekt / missing")
        return default
    value = table[key]
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if not ok:
        raise ConfigError(f"{where}.{key}: moet een {kind.__name__} zijn, niet {value!r}")
    return value


def _reject_unknown(table: dict[str, Any], known: set[str], where: str) -> None:
    for key in table:
        if key not in known:
            raise ConfigError(f"{where}.{key}: onbekend veld / unknown field")


def parse_config(data: dict[str, Any], path: Path) -> Config:
    _reject_unknown(data, {"box", "radio", "mqtt", "console", "alerts"}, "config")
    box = data.get("box")
    if not isinstance(box, dict):
        raise ConfigError("box: sectie [box] ontbreekt / missing [box] section")
    _reject_unknown(box, {"name", "role", "network", "state_dir", "parent"}, "box")
    name = _take(box, "name", str, "box")
    if not name or len(name) > 32 or not all(c.isalnum() or c in "-_." for c in name):
        raise ConfigError("box.name: 1-32 tekens, letters/cijfers/-_. / 1-32 chars")
    role = _take(box, "role", str, "box")
    if role not in ROLES:
        raise ConfigError(f"box.role: moet een van {', '.join(ROLES)} zijn, niet {role!r}")
    network = _take(box, "network", str, "box")
    if not network or not all(c.isalnum() or c in "-_" for c in network):
        raise ConfigError("box.network: letters, cijfers, - en _ / letters, digits, - and _")
    state_dir = Path(_take(box, "state_dir", str, "box", str(path.parent / "state")))
    if not state_dir.is_absolute():
        state_dir = (path.parent / state_dir).resolve()
    parent = _take(box, "parent", str, "box", "")
    if role == "nsp" and not parent:
        raise ConfigError("box.parent: een NSP heeft een coordinatiepunt (parent) nodig")

    radio_t = data.get("radio", {})
    if not isinstance(radio_t, dict):
        raise ConfigError("radio: moet een tabel zijn")
    _reject_unknown(radio_t, set(RadioConfig.__dataclass_fields__), "radio")
    d = RadioConfig()
    radio = RadioConfig(
        enabled=_take(radio_t, "enabled", bool, "radio", d.enabled),
        port=_take(radio_t, "port", str, "radio", d.port),
        host=_take(radio_t, "host", str, "radio", d.host),
        profile=_take(radio_t, "profile", str, "radio", role),
        channel_index=_take(radio_t, "channel_index", int, "radio", d.channel_index),
        preset=_take(radio_t, "preset", str, "radio", d.preset),
        region=_take(radio_t, "region", str, "radio", d.region),
    )
    if not 0 <= radio.channel_index <= 7:
        raise ConfigError("radio.channel_index: moet 0..7 zijn")
    if radio.preset not in PRESETS:
        raise ConfigError(f"radio.preset: onbekend preset {radio.preset!r}")

    mqtt_t = data.get("mqtt", {})
    if not isinstance(mqtt_t, dict):
        raise ConfigError("mqtt: moet een tabel zijn")
    _reject_unknown(mqtt_t, set(MqttConfig.__dataclass_fields__), "mqtt")
    m = MqttConfig()
    mqtt = MqttConfig(**{
        k: _take(mqtt_t, k, type(getattr(m, k)), "mqtt", getattr(m, k)) for k in MqttConfig.__dataclass_fields__
    })
    if not 1 <= mqtt.port <= 65535:
        raise ConfigError("mqtt.port: moet 1..65535 zijn")
    if not 5 <= mqtt.keepalive_s <= 60:
        raise ConfigError("mqtt.keepalive_s: moet 5..60 zijn (uitval binnen 30 s merken)")
    console = _section(data, "console", ConsoleConfig)
    if not 1 <= console.port <= 65535:
        raise ConfigError("console.port: moet 1..65535 zijn")
    if not 1 <= console.session_hours <= 48:
        raise ConfigError("console.session_hours: moet 1..48 zijn")
    alerts = _section(data, "alerts", AlertsConfig)
    return Config(path=path, name=name, role=role, network=network, state_dir=state_dir, parent=parent,
                  radio=radio, mqtt=mqtt, console=console, alerts=alerts)


def _section(data: dict[str, Any], name: str, cls: type[Any]) -> Any:
    """A table whose keys are exactly the dataclass fields, each of its default's type."""
    table = data.get(name, {})
    if not isinstance(table, dict):
        raise ConfigError(f"{name}: moet een tabel zijn")
    _reject_unknown(table, set(cls.__dataclass_fields__), name)
    d = cls()
    return cls(**{k: _take(table, k, type(getattr(d, k)), name, getattr(d, k)) for k in cls.__dataclass_fields__})


def render_config(cfg: Config) -> str:
    """TOML text for a config (what `nspgw init` writes)."""

    def val(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int):
            return str(v)
        return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = ["# nspgw box configuration (written by `nspgw init`)", "[box]"]
    for k in ("name", "role", "network", "parent"):
        lines.append(f"{k} = {val(getattr(cfg, k))}")
    lines.append(f"state_dir = {val(str(cfg.state_dir))}")
    for section, obj in (("radio", cfg.radio), ("mqtt", cfg.mqtt), ("console", cfg.console),
                         ("alerts", cfg.alerts)):
        lines += ["", f"[{section}]"]
        lines += [f"{k} = {val(getattr(obj, k))}" for k in obj.__dataclass_fields__]
    return "\n".join(lines) + "\n"
