"""Enrolment: building a network (authority key, roster, network key, one identity per box).

Sans-IO: every secret is derived from a `seed` the caller supplies. Production enrolment passes 32 bytes
from `os.urandom` (see `nspgw.store.keyfiles`); tests, the simulator and the demo pass a fixed seed so
that keys, and therefore golden vectors, are reproducible. Secrets derived from one seed are independent
(HKDF with a distinct label per secret, RFC 5869 §3.1).
"""

from __future__ import annotations

from dataclasses import dataclass

from nspgw.crypto.keyring import KeyRing
from nspgw.crypto.keys import Identity, NetworkKey, SigningKey, hkdf
from nspgw.crypto.roster import Role, Roster, RosterEntry
from nspgw.errors import SecurityError
from nspgw.ids import BoxAddr


@dataclass(frozen=True, slots=True)
class BoxSpec:
    """What the technician enters for a box: address, name, role, parent CP, radio node number."""

    addr: BoxAddr
    name: str
    role: Role
    node_num: int
    parent: BoxAddr | None = None


def derive_secret(seed: bytes, label: str) -> bytes:
    if len(seed) < 16:
        raise SecurityError("enrolment seed must be at least 16 bytes")
    return hkdf(seed, salt=b"nspgw/v1/enrol", info=label.encode("utf-8"), length=32)


def identity_from_seed(seed: bytes, addr: int) -> Identity:
    return Identity(derive_secret(seed, f"box/{addr}/sign"), derive_secret(seed, f"box/{addr}/dh"))


@dataclass(frozen=True, slots=True, repr=False)
class Network:
    """A whole enrolled network (what the authority's enrolment workstation holds)."""

    authority: SigningKey
    roster: Roster
    network_key: NetworkKey
    identities: dict[int, Identity]

    def __repr__(self) -> str:
        return f"Network(roster_version={self.roster.version}, boxes={sorted(self.identities)}, <redacted>)"

    def keyring(self, addr: int) -> KeyRing:
        """The key ring box `addr` would load from its enrolment bundle."""
        return KeyRing(BoxAddr(addr), self.identities[addr], self.roster, self.authority.public, (self.network_key,))


def make_network(boxes: list[BoxSpec], seed: bytes, *, version: int = 1) -> Network:
    """Enrol `boxes` deterministically from `seed` and sign roster version `version`."""
    authority = SigningKey(derive_secret(seed, "authority"))
    identities: dict[int, Identity] = {b.addr: identity_from_seed(seed, b.addr) for b in boxes}
    entries = tuple(
        RosterEntry(
            b.addr, b.name, b.role, b.node_num, identities[b.addr].sign_public, identities[b.addr].dh_public, b.parent
        )
        for b in boxes
    )
    roster = Roster(version, entries).signed(authority)
    network_key = NetworkKey(0, derive_secret(seed, "network/0"))
    return Network(authority, roster, network_key, identities)


def demo_boxes() -> list[BoxSpec]:
    """The standard small network of tests and the demo: a crisis team, two CPs, three NSPs."""
    return [
        BoxSpec(BoxAddr(1), "GCT Elsterwijk", Role.GCT, 0x1000_0001),
        BoxSpec(BoxAddr(10), "CP Noord", Role.CP, 0x1000_000A),
        BoxSpec(BoxAddr(11), "CP Zuid", Role.CP, 0x1000_000B),
        BoxSpec(BoxAddr(101), "NSP Bieb", Role.NSP, 0x1000_0065, BoxAddr(10)),
        BoxSpec(BoxAddr(102), "NSP Kerk St. Joris", Role.NSP, 0x1000_0066, BoxAddr(10)),
        BoxSpec(BoxAddr(201), "NSP Sporthal", Role.NSP, 0x1000_00C9, BoxAddr(11)),
    ]
