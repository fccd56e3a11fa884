"""The roster: which boxes belong to the network, their keys and roles, signed by the network authority.

Two serialisations of the same content:
- a JSON file for people and tools (`to_json`/`from_json`); the signature covers `canonical_bytes()`, a
  canonical JSON form (sorted keys, no whitespace, ASCII only, hex keys), so re-indenting the file or
  reordering its keys does not break the signature;
- a compact binary signed delta (`RosterDelta`) that fits one radio frame, for over-the-air revocations.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field, replace
from typing import Any

from nspgw.crypto.keys import PUBLIC_KEY_LEN, SIGNATURE_LEN, SigningKey, verify_signature
from nspgw.errors import DecodeError, SecurityError
from nspgw.ids import BoxAddr

MAX_ADDR = 0xFFE
_DELTA_MAGIC = 0xD1  # roster delta, layout version 1
_OP_REVOKE = 1
_OP_ADD = 2


class Role(enum.StrEnum):
    NSP = "nsp"  # noodsteunpunt
    CP = "cp"  # coördinatiepunt (relay, custody holder for its NSPs)
    GCT = "gct"  # gemeentelijk crisisteam (issues bulletins)


_ROLE_CODES = {Role.NSP: 0, Role.CP: 1, Role.GCT: 2}
_ROLE_BY_CODE = {v: k for k, v in _ROLE_CODES.items()}


def check_addr(addr: int) -> BoxAddr:
    if not isinstance(addr, int) or not 1 <= addr <= MAX_ADDR:
        raise SecurityError(f"box address {addr!r} outside 1..{MAX_ADDR}")
    return BoxAddr(addr)


@dataclass(frozen=True, slots=True)
class RosterEntry:
    """One enrolled box. Public keys only; nothing here is secret."""

    addr: BoxAddr
    name: str
    role: Role
    node_num: int  # Meshtastic node number of the box's radio
    sign_public: bytes = field(repr=False)
    dh_public: bytes = field(repr=False)
    parent: BoxAddr | None = None  # an NSP's coordinatiepunt
    revoked: bool = False

    def __post_init__(self) -> None:
        check_addr(self.addr)
        if self.parent is not None:
            check_addr(self.parent)
        if len(self.sign_public) != PUBLIC_KEY_LEN or len(self.dh_public) != PUBLIC_KEY_LEN:
            raise SecurityError(f"box {self.addr}: public keys must be {PUBLIC_KEY_LEN} bytes")
        if not 0 <= self.node_num <= 0xFFFFFFFF:
            raise SecurityError(f"box {self.addr}: node number out of range")
        if not self.name or len(self.name.encode("utf-8")) > 64:
            raise SecurityError(f"box {self.addr}: name must be 1..64 bytes")

    def to_dict(self) -> dict[str, Any]:
        return {
            "addr": self.addr,
            "name": self.name,
            "role": self.role.value,
            "node_num": self.node_num,
            "sign_public": self.sign_public.hex(),
            "dh_public": self.dh_public.hex(),
            "parent": self.parent,
            "revoked": self.revoked,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RosterEntry:
        try:
            return cls(
                addr=BoxAddr(int(d["addr"])),
                name=str(d["name"]),
                role=Role(d["role"]),
                node_num=int(d["node_num"]),
                sign_public=bytes.fromhex(d["sign_public"]),
                dh_public=bytes.fromhex(d["dh_public"]),
                parent=None if d.get("parent") is None else BoxAddr(int(d["parent"])),
                revoked=bool(d.get("revoked", False)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise SecurityError(f"invalid roster entry: {type(exc).__name__} {exc}") from None


@dataclass(frozen=True, slots=True)
class Roster:
    """All enrolled boxes at one `version`, with the authority's Ed25519 signature over `canonical_bytes()`.

    A roster reached over the air by signed deltas (a revocation) has no full-roster signature: the
    authority's key stays with the authority. It carries its proof instead: `base`, the last fully signed
    roster, and `deltas`, the signed deltas applied to it since. `verify` and `from_json` check that chain,
    so such a roster can be persisted and reloaded (a revocation survives a restart).
    """

    version: int
    entries: tuple[RosterEntry, ...]
    signature: bytes = field(default=b"", repr=False)
    base: Roster | None = field(default=None, repr=False, compare=False)
    deltas: tuple[RosterDelta, ...] = field(default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        addrs = [e.addr for e in self.entries]
        if len(set(addrs)) != len(addrs):
            raise SecurityError("roster lists a box address twice")
        if not 0 <= self.version <= 0xFFFFFFFF:
            raise SecurityError("roster version out of range")

    def get(self, addr: int) -> RosterEntry | None:
        for e in self.entries:
            if e.addr == addr:
                return e
        return None

    def by_node(self, node_num: int) -> RosterEntry | None:
        for e in self.entries:
            if e.node_num == node_num and not e.revoked:
                return e
        return None

    def canonical_bytes(self) -> bytes:
        body = {"v": 1, "version": self.version, "entries": [e.to_dict() for e in sorted(self.entries, key=_key)]}
        return b"nspgw/v1/roster\n" + json.dumps(body, sort_keys=True, separators=(",", ":")).encode("ascii")

    def signed(self, authority: SigningKey) -> Roster:
        return replace(self, signature=authority.sign(self.canonical_bytes()))

    def verify(self, authority_public: bytes) -> None:
        if self.base is None:
            if not verify_signature(authority_public, self.signature, self.canonical_bytes()):
                raise SecurityError(
                    f"roster version {self.version}: signature of the network authority is invalid")
            return
        replayed = self.base.replay(self.deltas, authority_public)
        if replayed.canonical_bytes() != self.canonical_bytes():
            raise SecurityError(f"roster version {self.version} does not follow from its signed deltas")

    def replay(self, deltas: tuple[RosterDelta, ...], authority_public: bytes) -> Roster:
        """This signed roster with `deltas` applied in order (each verified); SecurityError on any break."""
        self.verify(authority_public)
        roster = self
        for delta in deltas:
            roster = roster.apply(delta, authority_public)
        return roster

    def _doc(self) -> dict[str, Any]:
        return {
            "format": "nspgw-roster/1",
            "version": self.version,
            "entries": [e.to_dict() for e in sorted(self.entries, key=_key)],
            "signature": self.signature.hex(),
        }

    def to_json(self) -> str:
        """The file form. A delta-derived roster also writes its proof: `base` (the signed roster it started
        from) and `deltas` (hex of each signed delta, oldest first); `version`/`entries` are the result."""
        doc = self._doc()
        if self.base is not None:
            doc["base"] = self.base._doc()
            doc["deltas"] = [d.to_bytes().hex() for d in self.deltas]
        return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    @classmethod
    def _parse(cls, doc: Any) -> Roster:
        if not isinstance(doc, dict) or doc.get("format") != "nspgw-roster/1":
            raise SecurityError("not an nspgw roster (format nspgw-roster/1)")
        return cls(
            version=int(doc["version"]),
            entries=tuple(RosterEntry.from_dict(e) for e in doc["entries"]),
            signature=bytes.fromhex(doc["signature"]),
        )

    @classmethod
    def from_json(cls, text: str, authority_public: bytes) -> Roster:
        """Parse and verify; SecurityError for anything malformed or not signed by the authority (for a
        delta-derived roster: a base not signed by it, a delta not signed by it, or a result that differs)."""
        try:
            doc = json.loads(text)
            roster = cls._parse(doc)
            if "deltas" in doc:
                base = cls._parse(doc["base"])
                deltas = tuple(RosterDelta.from_bytes(bytes.fromhex(h)) for h in doc["deltas"])
        except SecurityError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError, DecodeError) as exc:
            raise SecurityError(f"invalid roster file: {type(exc).__name__} {exc}") from None
        if "deltas" not in doc:
            roster.verify(authority_public)
            return roster
        replayed = base.replay(deltas, authority_public)
        if replayed.canonical_bytes() != roster.canonical_bytes():
            raise SecurityError(f"roster version {roster.version} does not follow from its signed deltas")
        return replayed

    def apply(self, delta: RosterDelta, authority_public: bytes) -> Roster:
        """The roster after a verified delta; SecurityError if it does not apply to this version.

        The result carries the signed base and every delta since (see the class docstring)."""
        delta.verify(authority_public)
        if delta.base_version != self.version:
            raise SecurityError(f"roster delta applies to version {delta.base_version}, this box has {self.version}")
        entries = {e.addr: e for e in self.entries}
        for addr in delta.revoked:
            if addr in entries:
                entries[addr] = replace(entries[addr], revoked=True)
        for e in delta.added:
            if e.addr in entries:
                raise SecurityError(f"roster delta adds box {e.addr} which is already enrolled")
            entries[e.addr] = e
        # The full-roster signature cannot be recomputed here; the delta's signature vouches for the change.
        base = self.base if self.base is not None else self
        return Roster(delta.new_version, tuple(sorted(entries.values(), key=_key)), base=base,
                      deltas=(*self.deltas, delta))


def _key(e: RosterEntry) -> int:
    return int(e.addr)


@dataclass(frozen=True, slots=True)
class RosterDelta:
    """Signed change from `base_version` to `new_version`: revocations (2 bytes each) and additions.

    Layout: D1 ‖ base u32 ‖ new u32 ‖ ops ‖ Ed25519 signature (64) over "nspgw/v1/roster-delta" ‖ the rest.
    op = kind (4 bits) ‖ addr (12 bits); revoke carries nothing more; add carries role (1), parent (2,
    0 = none), node number (4), name length (1) + UTF-8, sign key (32), dh key (32).
    """

    base_version: int
    new_version: int
    revoked: tuple[BoxAddr, ...] = ()
    added: tuple[RosterEntry, ...] = ()
    signature: bytes = field(default=b"", repr=False)

    def _body(self) -> bytes:
        if not 0 <= self.base_version < self.new_version <= 0xFFFFFFFF:
            raise SecurityError("roster delta must raise the version")
        out = bytearray([_DELTA_MAGIC])
        out += self.base_version.to_bytes(4, "big") + self.new_version.to_bytes(4, "big")
        for addr in self.revoked:
            out += ((_OP_REVOKE << 12) | check_addr(addr)).to_bytes(2, "big")
        for e in self.added:
            name = e.name.encode("utf-8")
            out += ((_OP_ADD << 12) | e.addr).to_bytes(2, "big") + bytes([_ROLE_CODES[e.role]])
            out += (e.parent or 0).to_bytes(2, "big") + e.node_num.to_bytes(4, "big")
            out += bytes([len(name)]) + name + e.sign_public + e.dh_public
        return bytes(out)

    def signed(self, authority: SigningKey) -> RosterDelta:
        return replace(self, signature=authority.sign(b"nspgw/v1/roster-delta" + self._body()))

    def verify(self, authority_public: bytes) -> None:
        if not verify_signature(authority_public, self.signature, b"nspgw/v1/roster-delta" + self._body()):
            raise SecurityError("roster delta: signature of the network authority is invalid")

    def to_bytes(self) -> bytes:
        if len(self.signature) != SIGNATURE_LEN:
            raise SecurityError("roster delta is not signed")
        return self._body() + self.signature

    @classmethod
    def from_bytes(cls, data: bytes) -> RosterDelta:
        """Parse (not verify); DecodeError for malformed bytes."""
        if len(data) < 9 + SIGNATURE_LEN or data[0] != _DELTA_MAGIC:
            raise DecodeError("not a roster delta")
        body, sig = data[:-SIGNATURE_LEN], data[-SIGNATURE_LEN:]
        base, new = int.from_bytes(body[1:5], "big"), int.from_bytes(body[5:9], "big")
        pos, revoked, added = 9, [], []
        try:
            while pos < len(body):
                if pos + 2 > len(body):
                    raise DecodeError("roster delta truncated")
                op = int.from_bytes(body[pos : pos + 2], "big")
                pos += 2
                kind, addr = op >> 12, BoxAddr(op & 0xFFF)
                if kind == _OP_REVOKE:
                    revoked.append(check_addr(addr))
                elif kind == _OP_ADD:
                    if pos + 8 > len(body):
                        raise DecodeError("roster delta truncated")
                    role = _ROLE_BY_CODE.get(body[pos])
                    if role is None:
                        raise DecodeError("roster delta: unknown role")
                    parent = int.from_bytes(body[pos + 1 : pos + 3], "big")
                    node = int.from_bytes(body[pos + 3 : pos + 7], "big")
                    nlen = body[pos + 7]
                    pos += 8
                    end = pos + nlen + 2 * PUBLIC_KEY_LEN
                    if end > len(body):
                        raise DecodeError("roster delta truncated")
                    name = body[pos : pos + nlen].decode("utf-8")
                    spk = body[pos + nlen : pos + nlen + 32]
                    dpk = body[pos + nlen + 32 : end]
                    pos = end
                    added.append(RosterEntry(addr, name, role, node, spk, dpk, BoxAddr(parent) if parent else None))
                else:
                    raise DecodeError(f"roster delta: unknown operation {kind}")
            delta = cls(base, new, tuple(revoked), tuple(added), sig)
            delta._body()  # validates version order
        except (SecurityError, UnicodeDecodeError) as exc:
            raise DecodeError(f"invalid roster delta: {exc}") from None
        return delta
