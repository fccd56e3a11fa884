"""What firmware 2.7.26 does to a device config it is asked to store: AdminModule::handleSetConfig for the
`device` section, with NodeDB::installRoleDefaults on a role change. Kept apart from `device.py` so the
rules and their sources sit on one page (docs/simulation-model.md, "Roles and rebroadcast modes").
"""

from __future__ import annotations

from typing import Any

from meshtastic.protobuf import config_pb2

_Role = config_pb2.Config.DeviceConfig.Role
_Mode = config_pb2.Config.DeviceConfig.RebroadcastMode

# NodeDB::installRoleDefaults: roles that make the owner unmessagable.
_UNMESSAGABLE = frozenset({_Role.ROUTER, _Role.ROUTER_LATE, _Role.SENSOR, _Role.TRACKER, _Role.TAK_TRACKER})
# AdminModule::handleSetConfig: deprecated roles stored as CLIENT.
_DEPRECATED = frozenset({_Role.ROUTER_CLIENT, _Role.REPEATER})
NONE_FOR_ROUTER_WARNING = "Rebroadcast mode can't be set to NONE for a router role"


def install_role_defaults(role: int, device: Any, owner: Any) -> None:
    """NodeDB::installRoleDefaults, the parts the mesh model uses: ROUTER gets CORE_PORTNUMS_ONLY (so it
    stops relaying every port outside Router.cpp's whitelist, nspgw's 311 included), CLIENT_HIDDEN gets
    LOCAL_ONLY; router-like roles make the owner unmessagable."""
    if role == _Role.ROUTER:
        device.rebroadcast_mode = _Mode.CORE_PORTNUMS_ONLY
    elif role == _Role.CLIENT_HIDDEN:
        device.rebroadcast_mode = _Mode.LOCAL_ONLY
    if role in _UNMESSAGABLE:
        owner.is_unmessagable = True


def set_device_config(config: Any, owner: Any, new: Any) -> str | None:
    """AdminModule::handleSetConfig, device section, in firmware order: copy the whole section; NONE with a
    router role becomes ALL (with a warning to the client, returned here); a changed role installs its
    defaults (overriding the rebroadcast mode just copied); ROUTER_CLIENT and REPEATER are stored as CLIENT.

    The order is why `--set device.role ROUTER --set device.rebroadcast_mode LOCAL_ONLY` in one command
    reads back CORE_PORTNUMS_ONLY, and why a second write with the role unchanged keeps the mode.
    """
    existing = config.device.role
    config.device.CopyFrom(new)
    warning = None
    if config.device.rebroadcast_mode == _Mode.NONE and config.device.role in (_Role.ROUTER, _Role.ROUTER_LATE):
        config.device.rebroadcast_mode = _Mode.ALL
        warning = NONE_FOR_ROUTER_WARNING
    if existing != new.role:
        install_role_defaults(new.role, config.device, owner)
    if new.role in _DEPRECATED:
        config.device.role = _Role.CLIENT
    owner.role = config.device.role
    return warning
