"""KeyRing: this box's identity, the verified roster, the network key(s), and a cache of pair keys.

The codec asks the key ring for keys and for the roster verdict on a sender; it never sees raw secrets.
"""

from __future__ import annotations

from nspgw.crypto.keys import (
    Identity,
    NetworkKey,
    SymmetricKeys,
    derive_pair_keys,
    verify_signature,
)
from nspgw.crypto.roster import Role, Roster, RosterDelta, RosterEntry
from nspgw.errors import AuthError, SecurityError
from nspgw.ids import BoxAddr


class KeyRing:
    """Everything one box needs to seal and open frames.

    `network_keys`: the current network key first, then (during a rotation) the previous one, which is
    still accepted for opening but never used for sealing.
    """

    def __init__(
        self,
        me: BoxAddr,
        identity: Identity,
        roster: Roster,
        authority_public: bytes,
        network_keys: tuple[NetworkKey, ...],
    ) -> None:
        roster.verify(authority_public)
        entry = roster.get(me)
        if entry is None:
            raise SecurityError(f"box {me} is not in roster version {roster.version}")
        if entry.dh_public != identity.dh_public or entry.sign_public != identity.sign_public:
            raise SecurityError(f"box {me}: the key file does not match the roster entry")
        if not network_keys:
            raise SecurityError("no network key")
        self.me = me
        self._identity = identity
        self._roster = roster
        self._authority_public = authority_public
        self._network = network_keys
        self._network_derived = tuple(k.derived() for k in network_keys)
        self._pairs: dict[tuple[int, int], SymmetricKeys] = {}

    def __repr__(self) -> str:
        return f"KeyRing(me={self.me}, roster_version={self._roster.version}, <secrets redacted>)"

    @property
    def roster(self) -> Roster:
        return self._roster

    @property
    def authority_public(self) -> bytes:
        return self._authority_public

    @property
    def identity(self) -> Identity:
        return self._identity

    def sender(self, addr: int) -> RosterEntry:
        """The roster entry of a box we accept frames from; AuthError if unknown or revoked."""
        entry = self._roster.get(addr)
        if entry is None:
            raise AuthError(f"box {addr} is not in the roster (version {self._roster.version})")
        if entry.revoked:
            raise AuthError(f"box {addr} ({entry.name}) is revoked")
        return entry

    def pair_keys(self, src: int, dst: int) -> SymmetricKeys:
        """Keys for frames src → dst where one side is this box; AuthError for an unknown or revoked peer."""
        cache_key = (src, dst)
        keys = self._pairs.get(cache_key)
        if keys is not None:
            return keys
        if src == self.me:
            peer, sending = dst, True
        elif dst == self.me:
            peer, sending = src, False
        else:
            raise AuthError(f"no keys for {src}→{dst}: this box ({self.me}) is neither end")
        entry = self.sender(peer)
        try:
            keys = derive_pair_keys(
                self._identity, me=self.me, peer=BoxAddr(peer), peer_dh_public=entry.dh_public, sending=sending
            )
        except SecurityError:
            raise AuthError(f"box {peer} has an unusable key-agreement key") from None
        self._pairs[cache_key] = keys
        return keys

    def network_keys(self) -> tuple[SymmetricKeys, ...]:
        """Derived network keys, current first (seal with [0], open with any)."""
        return self._network_derived

    def sign(self, data: bytes) -> bytes:
        return self._identity.sign(data)

    def verify_from(self, addr: int, signature: bytes, data: bytes, *, role: Role | None = None) -> None:
        """AuthError unless `addr` is an enrolled, unrevoked box (of `role`) whose key signed `data`."""
        entry = self.sender(addr)
        if role is not None and entry.role != role:
            raise AuthError(f"box {addr} ({entry.name}) is a {entry.role.value}, not a {role.value}")
        if not verify_signature(entry.sign_public, signature, data):
            raise AuthError(f"signature of box {addr} ({entry.name}) is invalid")

    def roster_after(self, delta: RosterDelta) -> Roster | None:
        """The roster `delta` leads to, verified, without adopting it; None when the delta is not newer than
        ours (already applied, or an old one replayed); SecurityError when it is forged or skips versions."""
        if delta.new_version <= self._roster.version:
            return None
        return self._roster.apply(delta, self._authority_public)

    def apply_roster_delta(self, delta: RosterDelta) -> None:
        """Adopt a verified, newer roster (SecurityError otherwise); drops cached keys of revoked boxes."""
        self.set_roster(self._roster.apply(delta, self._authority_public))

    def set_roster(self, roster: Roster) -> None:
        """Adopt `roster` (verified here; SecurityError unless signed, or derived by signed deltas, by the
        authority, and not older than ours). Cached pair keys are dropped (a revoked peer's with them)."""
        roster.verify(self._authority_public)
        if roster.version < self._roster.version:
            raise SecurityError(f"roster version {roster.version} is older than ours ({self._roster.version})")
        self._roster = roster
        self._pairs.clear()

    @property
    def network_key_set(self) -> tuple[NetworkKey, ...]:
        """The network keys themselves (secrets: for persisting them, never for logging)."""
        return self._network

    def network_keys_after(self, key: NetworkKey) -> tuple[NetworkKey, ...] | None:
        """The key set after a rotation to `key`: the new key alone. The old one is not kept for opening: a
        rotation exists to lock out a revoked box that still holds it, and frames under it (beacons, bulletin
        fragments) are re-sealed by their senders at every transmission. None when `key` is not a newer epoch
        (a replay or a duplicate)."""
        if key.epoch <= self._network[0].epoch:
            return None
        return (key,)

    def set_network_keys(self, keys: tuple[NetworkKey, ...]) -> None:
        if not keys:
            raise SecurityError("no network key")
        self._network = keys
        self._network_derived = tuple(k.derived() for k in keys)
