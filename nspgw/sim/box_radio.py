"""The radio settings a simulated box's mesh node gets: its post type's firmware profile (firmware-profiles/),
as `nspgw radio provision` leaves it on a radio, optionally with another device role for that one box.

    radio = box_radio(Role.NSP)                     # role, rebroadcast mode and hop limit of nsp.yaml
    radio = box_radio(Role.CP, "ROUTER_LATE")       # a scenario's `radio_role` override for one box

The profile is read with the daemon's own loader (nspgw/adapters/radio_profile.py) and written onto a factory
radio (CLIENT, rebroadcast mode ALL) the way `radio_admin.apply_profile` writes it: the device section twice,
each write through firmware's rules (sim/device_roles.py: deprecated roles stored as CLIENT, NONE refused for
router roles, installRoleDefaults on a role change). So a scenario sees what a provisioned radio holds, the
port-311 trap included when a profile or an override asks for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from meshtastic.protobuf import config_pb2, localonly_pb2, mesh_pb2

from nspgw.crypto.roster import Role
from nspgw.errors import ConfigError
from nspgw.sim.device_roles import set_device_config
from nspgw.sim.mesh_types import ROLES

_DeviceRole = config_pb2.Config.DeviceConfig.Role
_Mode = config_pb2.Config.DeviceConfig.RebroadcastMode


@dataclass(frozen=True)
class BoxRadio:
    """What the mesh model needs of a box's radio (`Mesh.add_node` arguments)."""

    role: str
    rebroadcast_mode: str
    hop_limit: int


def check_radio_role(value: object, where: str) -> str:
    """A Meshtastic device role name (any case) from a scenario file; ConfigError naming `where` otherwise."""
    if not isinstance(value, str) or value.upper() not in ROLES:
        raise ConfigError(f"{where}: {value!r} is not a Meshtastic device role ({', '.join(ROLES)})")
    return value.upper()


def box_radio(role: Role, radio_role: str | None = None) -> BoxRadio:
    """The radio of a box of post type `role` provisioned with its profile; `radio_role` replaces the profile's
    device role (the rest of the profile, the rebroadcast mode included, stays)."""
    from nspgw.adapters import radio_profile as profiles

    role_name = None if radio_role is None else check_radio_role(radio_role, "radio_role")
    # Parsing a profile costs tens of milliseconds (YAML): once per profile file and role, not once per box.
    return _provisioned(profiles.profile_dir() / f"{role.value}.yaml", role_name)


@lru_cache(maxsize=64)
def _provisioned(path: Path, radio_role: str | None) -> BoxRadio:
    from nspgw.adapters import radio_profile as profiles

    profile = profiles.load_profile(path)
    config = localonly_pb2.LocalConfig()  # factory: CLIENT, rebroadcast mode ALL
    owner = mesh_pb2.User()
    wanted = config_pb2.Config.DeviceConfig()
    wanted.CopyFrom(config.device)
    for name in profile.config_fields.get("device", ()):  # only what the profile names, as apply_profile
        setattr(wanted, name, getattr(profile.config.device, name))
    if radio_role is not None:
        wanted.role = _DeviceRole.Value(radio_role)
    for _ in range(2):  # radio_admin.apply_profile writes the device section twice
        set_device_config(config, owner, wanted)
    return BoxRadio(role=_DeviceRole.Name(config.device.role),
                    rebroadcast_mode=_Mode.Name(config.device.rebroadcast_mode),
                    hop_limit=profile.config.lora.hop_limit or 3)
