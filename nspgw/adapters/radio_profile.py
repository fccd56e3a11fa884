"""Firmware profiles: the Meshtastic radio configuration each box role needs, and checks against a live radio.

A profile is a YAML file in the format `meshtastic --export-config` writes (firmware-profiles/<role>.yaml),
so the official `meshtastic --configure` applies it as well as `nspgw radio provision` does. The YAML is
the specification: every field a profile names is compared with the radio, fields it leaves out are not.

The nspgw channel's pre-shared key is never in the file (a profile is shared between boxes and kept in
git). The file carries PLACEHOLDER_PSK; `nspgw radio provision` substitutes the network's real key, read
from a key file on the box (see `nspgw.store.keyfiles.read_channel_key`). A radio that still holds the
placeholder is reported as misconfigured, so a profile applied with the plain official CLI cannot silently go on
air with a known key.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from google.protobuf import json_format
from google.protobuf.message import DecodeError as ProtoDecodeError
from google.protobuf.message import Message
from meshtastic.protobuf import apponly_pb2, channel_pb2, config_pb2, localonly_pb2, module_config_pb2

from nspgw.errors import ConfigError
from nspgw.store.keyfiles import PLACEHOLDER_PSK, check_channel_key

NSPGW_CHANNEL_NAME = "nspgw"
NSPGW_CHANNEL_INDEX = 1

DEFAULT_PUBLIC_PSK = b"\x01"
"""Meshtastic's shorthand for its well-known default key (channel_pb2: psk of length 1 = default key #1)."""

ROLES = ("nsp", "nsp-leaf", "cp", "gct", "repeater")

# Fields whose mismatch makes the adapter refuse to transmit: a radio on another region or preset cannot
# hear the network (or transmits illegally), and a wrong nspgw channel sends our frames where nobody (or
# everybody) can read them.
CRITICAL_FIELDS = frozenset({
    "lora.region", "lora.modem_preset", "lora.use_preset", "lora.tx_enabled",
    f"channel[{NSPGW_CHANNEL_INDEX}].name", f"channel[{NSPGW_CHANNEL_INDEX}].psk",
    f"channel[{NSPGW_CHANNEL_INDEX}].role",
})

_LABELS_NL = {
    "lora.region": "regio",
    "lora.modem_preset": "modem-preset",
    "lora.hop_limit": "hoplimiet",
    "lora.tx_power": "zendvermogen",
    "lora.tx_enabled": "zender aan",
    "device.role": "apparaatrol",
    f"channel[{NSPGW_CHANNEL_INDEX}].psk": "sleutel van kanaal nspgw",
    f"channel[{NSPGW_CHANNEL_INDEX}].name": f"naam van kanaal {NSPGW_CHANNEL_INDEX}",
    f"channel[{NSPGW_CHANNEL_INDEX}].role": "kanaal nspgw",
    "relay.port_311": "doorgeven van poort 311",
}


@dataclass(frozen=True)
class ChannelSpec:
    """One channel a profile requires (index 0 = primary)."""

    index: int
    name: str
    psk: bytes
    role: str  # "PRIMARY" | "SECONDARY"


@dataclass(frozen=True)
class Difference:
    """One field where a radio differs from its profile. Values are display strings (never key bytes)."""

    field: str  # e.g. "lora.region", "channel[1].psk", "module.mqtt.enabled"
    expected: str
    actual: str

    def message(self, lang: str = "nl") -> str:
        if lang == "en":
            if self.field == "relay.port_311":
                return f"radio drops nspgw traffic (port 311): rebroadcast_mode/role {self.actual}"
            return f"{self.field} is {self.actual}, expected {self.expected}"
        label = _LABELS_NL.get(self.field, self.field)
        if self.field == "relay.port_311":
            return f"radio laat nspgw-verkeer (poort 311) vallen: rebroadcast_mode/rol {self.actual}"
        return f"{label} is {self.actual}, verwacht {self.expected}"


@dataclass(frozen=True)
class FirmwareProfile:
    """A parsed profile. `config`/`module_config` hold the values; `*_fields` list what the file names."""

    name: str
    path: Path
    config: localonly_pb2.LocalConfig
    config_fields: dict[str, tuple[str, ...]]
    module_config: localonly_pb2.LocalModuleConfig
    module_fields: dict[str, tuple[str, ...]]
    channels: tuple[ChannelSpec, ...]
    channel_url: str
    raw: dict[str, Any]

    @property
    def region(self) -> str:
        return _enum_name(self.config.lora, "region")

    @property
    def modem_preset(self) -> str:
        return _enum_name(self.config.lora, "modem_preset")

    def with_preset(self, preset: str) -> FirmwareProfile:
        """This profile with the box's configured modem preset (nspgw.toml `radio.preset`) in `lora` and in the
        channel URL's LoRa settings, so provisioning and verifying follow the configuration."""
        if preset == self.modem_preset:
            return self
        config = localonly_pb2.LocalConfig()
        config.CopyFrom(self.config)
        config.lora.modem_preset = config_pb2.Config.LoRaConfig.ModemPreset.Value(preset)
        settings, lora = parse_channel_url(self.channel_url, where=f"{self.name}.channel_url")
        lora.modem_preset = config.lora.modem_preset
        fields = dict(self.config_fields)
        if "modem_preset" not in fields.get("lora", ()):
            fields["lora"] = (*fields.get("lora", ()), "modem_preset")
        return dataclasses.replace(self, config=config, config_fields=fields,
                                   channel_url=make_channel_url(settings, lora))

    def channel_url_with_psk(self, psk: bytes) -> str:
        """The profile's channel URL with the nspgw channel's placeholder key replaced by `psk`."""
        check_channel_key(psk)
        settings, lora = parse_channel_url(self.channel_url, where=f"{self.name}.channel_url")
        for s in settings:
            if s.name == NSPGW_CHANNEL_NAME:
                s.psk = psk
        return make_channel_url(settings, lora)


def profile_dir() -> Path:
    """Where role profiles live: $NSPGW_PROFILE_DIR, else the checkout's firmware-profiles/, else /usr/share."""
    env = os.environ.get("NSPGW_PROFILE_DIR")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parents[2] / "firmware-profiles"
    return here if here.is_dir() else Path("/usr/share/nspgw/firmware-profiles")


def load_profile(name_or_path: str | Path) -> FirmwareProfile:
    """Load a role profile (`nsp`, `nsp-leaf`, `cp`, `gct`, `repeater`) or a YAML file path; ConfigError names
    the field."""
    text = str(name_or_path)
    if text in ROLES:
        path = profile_dir() / f"{text}.yaml"
    elif text.endswith((".yaml", ".yml")):
        path = Path(text)
    else:
        raise ConfigError(f"onbekend profiel {text!r}; kies uit {', '.join(ROLES)} of geef een .yaml-bestand")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"profiel {path} bestaat niet / profile not found") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"profiel {path} is geen leesbare YAML: {exc}") from None
    return parse_profile(raw, path)


def parse_profile(raw: Any, path: Path) -> FirmwareProfile:
    name = path.stem
    if not isinstance(raw, dict):
        raise ConfigError(f"{name}: profiel moet een YAML-mapping zijn")
    config = localonly_pb2.LocalConfig()
    config_fields = _parse_sections(raw.get("config", {}), config, f"{name}.config")
    module_config = localonly_pb2.LocalModuleConfig()
    module_fields = _parse_sections(raw.get("module_config", {}), module_config, f"{name}.module_config")
    url = raw.get("channel_url", raw.get("channelUrl"))
    if not isinstance(url, str):
        raise ConfigError(f"{name}.channel_url: ontbreekt / missing")
    settings, lora = parse_channel_url(url, where=f"{name}.channel_url")
    channels = tuple(
        ChannelSpec(index=i, name=s.name, psk=bytes(s.psk), role="PRIMARY" if i == 0 else "SECONDARY")
        for i, s in enumerate(settings)
    )
    if len(channels) <= NSPGW_CHANNEL_INDEX or channels[NSPGW_CHANNEL_INDEX].name != NSPGW_CHANNEL_NAME:
        raise ConfigError(f"{name}.channel_url: kanaal {NSPGW_CHANNEL_INDEX} moet {NSPGW_CHANNEL_NAME!r} heten")
    if "lora" in config_fields and lora.region != config.lora.region:
        # `--configure` sends the URL's LoRa settings first; a mismatch would briefly move the radio.
        raise ConfigError(f"{name}.channel_url: regio in de URL wijkt af van config.lora.region")
    return FirmwareProfile(name=name, path=path, config=config, config_fields=config_fields,
                           module_config=module_config, module_fields=module_fields, channels=channels,
                           channel_url=url, raw=raw)


def _parse_sections(table: Any, root: Message, where: str) -> dict[str, tuple[str, ...]]:
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: moet een mapping zijn")
    fields: dict[str, tuple[str, ...]] = {}
    for section, values in table.items():
        section_snake = _snake(str(section))
        desc = root.DESCRIPTOR.fields_by_name.get(section_snake)
        if desc is None or desc.message_type is None:
            raise ConfigError(f"{where}.{section}: onbekende sectie / unknown section")
        if not isinstance(values, dict):
            raise ConfigError(f"{where}.{section}: moet een mapping zijn")
        target = getattr(root, section_snake)
        try:
            json_format.ParseDict(_strip_base64_marks(values), target)
        except json_format.ParseError as exc:
            raise ConfigError(f"{where}.{section}: {exc}") from None
        names = []
        for key in values:
            fd = target.DESCRIPTOR.fields_by_name.get(_snake(str(key)))
            if fd is None:  # ParseDict accepted a json name; map it back
                fd = next(f for f in target.DESCRIPTOR.fields if f.json_name == key)
            names.append(fd.name)
        fields[section_snake] = tuple(names)
    return fields


def _strip_base64_marks(value: Any) -> Any:
    """`--export-config` writes bytes fields as "base64:..." (keys in the security section); JSON wants bare base64."""
    if isinstance(value, dict):
        return {k: _strip_base64_marks(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strip_base64_marks(v) for v in value]
    if isinstance(value, str) and value.startswith("base64:"):
        return value.removeprefix("base64:")
    return value


def parse_channel_url(url: str, where: str = "channel_url") -> tuple[list[channel_pb2.ChannelSettings],
                                                                     config_pb2.Config.LoRaConfig]:
    """Decode a meshtastic.org channel URL (as Node.setURL does) into channel settings and LoRa config."""
    if "/#" not in url:
        raise ConfigError(f"{where}: geen Meshtastic-kanaal-URL")
    b64 = url.split("/#")[-1]
    b64 += "=" * (-len(b64) % 4)
    cs = apponly_pb2.ChannelSet()
    try:
        cs.ParseFromString(base64.urlsafe_b64decode(b64))
    except (binascii.Error, ValueError, ProtoDecodeError) as exc:
        raise ConfigError(f"{where}: onleesbare kanaal-URL ({exc})") from None
    if not cs.settings:
        raise ConfigError(f"{where}: URL bevat geen kanalen")
    return list(cs.settings), cs.lora_config


def make_channel_url(settings: list[channel_pb2.ChannelSettings], lora: config_pb2.Config.LoRaConfig) -> str:
    """Encode like Node.getURL (unpadded url-safe base64), so `meshtastic --configure` reads it back."""
    cs = apponly_pb2.ChannelSet()
    cs.settings.extend(settings)
    cs.lora_config.CopyFrom(lora)
    s = base64.urlsafe_b64encode(cs.SerializeToString()).decode("ascii").rstrip("=")
    return f"https://meshtastic.org/e/#{s}"


def compare(profile: FirmwareProfile, config: localonly_pb2.LocalConfig,
            module_config: localonly_pb2.LocalModuleConfig | None,
            channels: list[channel_pb2.Channel], *, nspgw_psk: bytes | None = None) -> list[Difference]:
    """Every field the profile names that the radio holds differently, in profile order, plus PORT_311_FIELD
    when the live config would drop nspgw's port 311 (see `port_311_dropped`).

    `nspgw_psk`: the network key the nspgw channel must hold; without it any key other than the
    placeholder, the public default and an empty key passes (a technician may verify without the key file).
    """
    return [Difference(f, e, a) for f, e, a, ok in rows(profile, config, module_config, channels,
                                                        nspgw_psk=nspgw_psk) if not ok]


def rows(profile: FirmwareProfile, config: localonly_pb2.LocalConfig,
         module_config: localonly_pb2.LocalModuleConfig | None,
         channels: list[channel_pb2.Channel], *, nspgw_psk: bytes | None = None) -> list[tuple[str, str, str, bool]]:
    """(field, expected, radio, ok) for every field checked: what `nspgw radio verify` prints."""
    out: list[tuple[str, str, str, bool]] = []
    for section, names in profile.config_fields.items():
        want, have = getattr(profile.config, section), getattr(config, section)
        out += [(f"{section}.{n}", _show(want, n), _show(have, n), _show(want, n) == _show(have, n))
                for n in names]
    if module_config is not None:
        for section, names in profile.module_fields.items():
            want, have = getattr(profile.module_config, section), getattr(module_config, section)
            out += [(f"module.{section}.{n}", _show(want, n), _show(have, n), _show(want, n) == _show(have, n))
                    for n in names]
    by_index = {c.index: c for c in channels}
    for spec in profile.channels:
        bad = {d.field: d for d in _compare_channel(spec, by_index.get(spec.index), nspgw_psk)}
        for name, want in (("role", spec.role), ("name", repr(spec.name)), ("psk", _psk_want(spec))):
            field = f"channel[{spec.index}].{name}"
            d = bad.get(field)
            out.append((field, d.expected, d.actual, False) if d else (field, want, want, True))
    dropped = port_311_dropped(config, profile)
    out.append((PORT_311_FIELD, "relayed", dropped or "relayed", dropped is None))
    return out


PORT_311_FIELD = "relay.port_311"


def port_311_dropped(config: localonly_pb2.LocalConfig, profile: FirmwareProfile | None = None) -> str | None:
    """Why a radio with this config would drop nspgw's port 311, or None.

    Firmware 2.7.26: with rebroadcast_mode CORE_PORTNUMS_ONLY, Router::handleReceived skips every decoded
    packet on a port outside its whitelist (311 is not in it): not relayed, not even given to the box. A
    role change to ROUTER sets that mode itself (NodeDB::installRoleDefaults, after AdminModule copied the
    requested mode). That is always wrong. NONE and CLIENT_MUTE never relay (FloodingRouter::isRebroadcaster)
    but still hand the box what is addressed to it: wrong unless `profile` asks for exactly that (a leaf post,
    see `relays_nothing`), so a radio left mute by hand is still caught."""
    dev = config.device
    mode = config_pb2.Config.DeviceConfig.RebroadcastMode.Name(dev.rebroadcast_mode)
    role = config_pb2.Config.DeviceConfig.Role.Name(dev.role)
    if mode == "CORE_PORTNUMS_ONLY":
        return "CORE_PORTNUMS_ONLY"
    if profile is not None and relays_nothing(profile):
        return None
    if mode == "NONE":
        return "NONE (no relaying)"
    if role == "CLIENT_MUTE":
        return "CLIENT_MUTE (no relaying)"
    return None


def relays_nothing(profile: FirmwareProfile) -> bool:
    """The profile itself makes a leaf radio: role CLIENT_MUTE or rebroadcast mode NONE."""
    dev, names = profile.config.device, profile.config_fields.get("device", ())
    return (("role" in names and dev.role == config_pb2.Config.DeviceConfig.Role.CLIENT_MUTE)
            or ("rebroadcast_mode" in names
                and dev.rebroadcast_mode == config_pb2.Config.DeviceConfig.RebroadcastMode.NONE))


def _psk_want(spec: ChannelSpec) -> str:
    return "netwerksleutel" if spec.name == NSPGW_CHANNEL_NAME else _psk_kind(spec.psk)


def critical(diffs: list[Difference]) -> list[Difference]:
    """The differences that must stop transmission (see CRITICAL_FIELDS)."""
    return [d for d in diffs if d.field in CRITICAL_FIELDS]


def _compare_channel(spec: ChannelSpec, ch: channel_pb2.Channel | None, nspgw_psk: bytes | None) -> list[Difference]:
    f = f"channel[{spec.index}]"
    if ch is None or ch.role == channel_pb2.Channel.Role.DISABLED:
        return [Difference(f"{f}.role", spec.role, "DISABLED")]
    out = []
    role = channel_pb2.Channel.Role.Name(ch.role)
    if role != spec.role:
        out.append(Difference(f"{f}.role", spec.role, role))
    if ch.settings.name != spec.name:
        out.append(Difference(f"{f}.name", repr(spec.name), repr(ch.settings.name)))
    have = bytes(ch.settings.psk)
    if spec.name == NSPGW_CHANNEL_NAME:
        if have == PLACEHOLDER_PSK:
            out.append(Difference(f"{f}.psk", "netwerksleutel", "voorbeeldsleutel (nog niet ingericht)"))
        elif nspgw_psk is not None and have != nspgw_psk:
            out.append(Difference(f"{f}.psk", "netwerksleutel", "andere sleutel"))
        elif nspgw_psk is None and len(have) not in (16, 32):
            out.append(Difference(f"{f}.psk", "eigen sleutel (16/32 bytes)", _psk_kind(have)))
    elif have != spec.psk:
        out.append(Difference(f"{f}.psk", _psk_kind(spec.psk), _psk_kind(have)))
    return out


def _psk_kind(psk: bytes) -> str:
    if not psk:
        return "geen versleuteling"
    if len(psk) == 1:
        return f"standaardsleutel #{psk[0]}"
    return f"eigen sleutel ({len(psk)} bytes)"


def _show(msg: Message, name: str) -> str:
    fd = msg.DESCRIPTOR.fields_by_name[name]
    value = getattr(msg, name)
    if fd.enum_type is not None and not is_repeated(fd):
        ev = fd.enum_type.values_by_number.get(value)
        return ev.name if ev else str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if is_repeated(fd):
        return "[" + ", ".join(str(v) for v in value) + "]"
    if isinstance(value, Message):
        return json_format.MessageToJson(value, indent=None)
    return str(value)


def is_repeated(fd: Any) -> bool:
    if hasattr(fd, "is_repeated"):  # protobuf >= 5.28 deprecates `label`
        return bool(fd.is_repeated)
    return bool(fd.label == fd.LABEL_REPEATED)


def _enum_name(msg: Message, name: str) -> str:
    return _show(msg, name)


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


# Re-exported for callers that build expected configs without importing protobuf modules themselves.
LocalConfig = localonly_pb2.LocalConfig
LocalModuleConfig = localonly_pb2.LocalModuleConfig
ModuleConfig = module_config_pb2.ModuleConfig
