"""Technician operations on a radio: read its identity, apply a firmware profile, check it against one.

These run on the caller's thread with a short-lived interface (the CLI is one-shot); the daemon's adapter
(`meshtastic_radio.py`) is the only long-lived user of the library. A radio is a single-client device: run
them while the nspgw service is stopped, or the serial port is busy.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from nspgw.adapters import radio_profile as profiles
from nspgw.adapters.radio_connect import RadioTarget, close_quietly, open_interface
from nspgw.errors import RadioError
from nspgw.ids import node_id_str

log = logging.getLogger("nspgw.radio")


@dataclass(frozen=True)
class RadioInfo:
    """What `nspgw radio detect` shows for one radio."""

    target: str
    node_id: str
    long_name: str
    hw_model: str
    firmware: str
    region: str
    modem_preset: str
    nspgw_channel: str  # "index 1" or "ontbreekt"


@contextlib.contextmanager
def connected(target: RadioTarget, timeout_s: float = 30.0) -> Iterator[Any]:
    """A short-lived interface. The library's reader thread prints tracebacks straight to stderr
    (`traceback.print_exc()`), e.g. when it sends its first heartbeat just as a quick command closes the
    socket (a harmless race); those go to the debug log instead of a technician's terminal."""
    captured = io.StringIO()
    with contextlib.redirect_stderr(captured):
        try:
            iface = open_interface(target, timeout_s)
            try:
                yield iface
            finally:
                close_quietly(iface)
        finally:
            if captured.getvalue():
                log.debug("meshtastic library output: %s", captured.getvalue())


def read_info(iface: Any, target: RadioTarget) -> RadioInfo:
    node = iface.localNode
    lora = node.localConfig.lora
    my = iface.myInfo.my_node_num if iface.myInfo else 0
    user = (iface.nodesByNum or {}).get(my, {}).get("user", {})
    meta = iface.metadata
    idx = next((c.index for c in node.channels or [] if c.settings.name == profiles.NSPGW_CHANNEL_NAME
                and c.role != 0), None)
    return RadioInfo(
        target=target.describe(),
        node_id=node_id_str(my) if my else "?",
        long_name=str(user.get("longName", "")),
        hw_model=str(user.get("hwModel", "")),
        firmware=str(meta.firmware_version) if meta is not None else "?",
        region=lora.DESCRIPTOR.fields_by_name["region"].enum_type.values_by_number[lora.region].name,
        modem_preset=lora.DESCRIPTOR.fields_by_name["modem_preset"].enum_type.values_by_number[
            lora.modem_preset].name,
        nspgw_channel=f"index {idx}" if idx is not None else "ontbreekt",
    )


def compare_radio(iface: Any, profile: profiles.FirmwareProfile, psk: bytes | None) -> list[profiles.Difference]:
    node = iface.localNode
    return profiles.compare(profile, node.localConfig, node.moduleConfig, list(node.channels or []),
                            nspgw_psk=psk)


def radio_rows(iface: Any, profile: profiles.FirmwareProfile,
               psk: bytes | None) -> list[tuple[str, str, str, bool]]:
    """Every checked field with the profile's and the radio's value (the verify table)."""
    node = iface.localNode
    return profiles.rows(profile, node.localConfig, node.moduleConfig, list(node.channels or []), nspgw_psk=psk)


def apply_profile(iface: Any, profile: profiles.FirmwareProfile, psk: bytes, owner: str | None = None) -> None:
    """Write a profile as `meshtastic --configure` does: one settings transaction, the channel URL (with the
    network key instead of the placeholder), then each config and module section, then commit.

    Only the fields the profile names change; the rest of each section keeps the radio's values (the same
    seeding the official CLI does), so a site-specific setting such as the fixed position survives.

    The device section is written twice. Firmware 2.7 (AdminModule::handleSetConfig) copies the section and
    then, when the role changed, runs NodeDB::installRoleDefaults, which for ROUTER overwrites the
    rebroadcast mode just written with CORE_PORTNUMS_ONLY, a mode that drops nspgw's port 311. The second
    write, with the role now unchanged, puts the profile's mode back.
    """
    node = iface.localNode
    url = profile.channel_url_with_psk(psk)
    try:
        node.beginSettingsTransaction()
        if owner:
            node.setOwner(long_name=owner, short_name=_short_name(owner))
        node.setURL(url)
        for section, names in profile.config_fields.items():
            _merge(getattr(node.localConfig, section), getattr(profile.config, section), names)
            node.writeConfig(section)
            if section == "device" and "role" in names:
                node.writeConfig(section)  # role unchanged now: installRoleDefaults no longer applies
        for section, names in profile.module_fields.items():
            _merge(getattr(node.moduleConfig, section), getattr(profile.module_config, section), names)
            node.writeConfig(section)
        node.commitSettingsTransaction()
    except (Exception, SystemExit) as exc:  # our_exit() in the library raises SystemExit
        raise RadioError(f"profiel {profile.name} toepassen mislukt: {exc}") from None


def provision_checked(target: RadioTarget, profile: profiles.FirmwareProfile, psk: bytes, *,
                      owner: str | None = None, timeout_s: float = 30.0, tries: int = 3) -> int:
    """Apply `profile` and the channel key, then read the radio back over a new connection and apply again
    while a difference that stops transmission remains; the number of re-applies. A radio may reboot while it
    takes a role change (firmware AdminModule: reboot after a config write) and miss what follows (seen on the
    virtual radios: the nspgw channel still DISABLED); the daemon's profile gate would then keep it off the
    air. RadioError if it stays wrong."""
    with connected(target, timeout_s) as iface:
        apply_profile(iface, profile, psk, owner=owner)
    redone = 0
    for _ in range(tries):
        with connected(target, timeout_s) as iface:
            bad = profiles.critical(compare_radio(iface, profile, psk))
            if not bad:
                return redone
            redone += 1
            apply_profile(iface, profile, psk, owner=owner)
    raise RadioError(f"radio {owner or target.describe()} blijft verkeerd ingesteld: "
                     f"{'; '.join(d.message('nl') for d in bad)}")


def _merge(live: Any, want: Any, names: tuple[str, ...]) -> None:
    for name in names:
        value = getattr(want, name)
        fd = want.DESCRIPTOR.fields_by_name[name]
        if fd.message_type is not None:
            getattr(live, name).CopyFrom(value)
        elif profiles.is_repeated(fd):
            del getattr(live, name)[:]
            getattr(live, name).extend(value)
        else:
            setattr(live, name, value)


def _short_name(owner: str) -> str:
    letters = [c for c in owner if c.isalnum()]
    return "".join(letters[:4]) or "NSP"
