"""nspgw.crypto: identities, sealing, signatures, replay windows and the roster (docs/security.md)."""

from nspgw.crypto.keyring import KeyRing
from nspgw.crypto.keys import Identity, NetworkKey, SigningKey
from nspgw.crypto.replay import ReplayWindow
from nspgw.crypto.roster import Role, Roster, RosterDelta, RosterEntry

__all__ = [
    "Identity",
    "KeyRing",
    "NetworkKey",
    "ReplayWindow",
    "Role",
    "Roster",
    "RosterDelta",
    "RosterEntry",
    "SigningKey",
]
