"""Enrolment documents without files: the enrolment request a box sends, the bundle the authority returns.

A request carries the box's public keys and is signed with its own key (proof of possession, and a file
damaged on the way is caught). A bundle carries the signed roster and the authority's public key, and the
network key(s) plus the radio channel key sealed for the box's X25519 key with a fresh ephemeral key, so
the bundle is useless to anyone who finds the USB stick (docs/security.md §5). Reading and writing these
documents is `nspgw.store.enrolment_files`.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from nspgw.crypto.keys import PUBLIC_KEY_LEN, Identity, NetworkKey, SymmetricKeys, hkdf, verify_signature
from nspgw.crypto.roster import Role, Roster
from nspgw.crypto.seal import open_sealed, seal
from nspgw.errors import AuthError, ConfigError, SecurityError

REQUEST_FORMAT = "nspgw-enrol-request/1"
BUNDLE_FORMAT = "nspgw-bundle/1"


def fingerprint(sign_public: bytes, dh_public: bytes) -> str:
    """16 bytes of SHA-256 over both public keys, in groups of four hex digits: read out over the phone."""
    digest = hashlib.sha256(b"nspgw/v1/fingerprint" + sign_public + dh_public).hexdigest()[:32]
    return "-".join(digest[i : i + 4] for i in range(0, 32, 4))


def authority_fingerprint(public: bytes) -> str:
    return fingerprint(public, b"")


def canonical(label: str, doc: dict[str, Any]) -> bytes:
    """The signed form of a document: a domain label, then JSON with sorted keys and no spaces."""
    return f"nspgw/v1/{label}\n".encode() + json.dumps(doc, sort_keys=True, separators=(",", ":")).encode("ascii")


def hex_field(where: object, doc: dict[str, Any], field: str, length: int) -> bytes:
    """`length` bytes from a hex field, in the one form nspgw writes (lowercase, no spaces): a key file or an
    enrolment document that someone edited, even to an equal key in another spelling, is refused, not read."""
    raw = doc.get(field) if isinstance(doc, dict) else None
    try:
        value = bytes.fromhex(raw) if isinstance(raw, str) else b""
    except ValueError:
        value = b""
    if len(value) != length or value.hex() != raw:
        raise ConfigError(f"{where}: veld {field!r} ontbreekt, heeft niet {length} bytes of is anders gespeld "
                          "dan nspgw het schrijft")
    return value


@dataclass(frozen=True)
class EnrolRequest:
    """What a box asks the authority for: public keys plus who it says it is, signed with its own key
    (proves possession of the signing key and catches a file damaged on the way)."""

    network: str
    name: str
    role: str
    parent: str
    node_num: int | None
    sign_public: bytes
    dh_public: bytes
    signature: bytes = b""

    def _body(self) -> dict[str, Any]:
        return {"format": REQUEST_FORMAT, "network": self.network, "name": self.name, "role": self.role,
                "parent": self.parent, "node_num": self.node_num, "sign_public": self.sign_public.hex(),
                "dh_public": self.dh_public.hex()}

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.sign_public, self.dh_public)

    def to_json(self) -> str:
        return json.dumps(dict(self._body(), signature=self.signature.hex()), indent=2) + "\n"

    @classmethod
    def create(cls, identity: Identity, *, network: str, name: str, role: str, parent: str,
               node_num: int | None) -> EnrolRequest:
        req = cls(network, name, role, parent, node_num, identity.sign_public, identity.dh_public)
        return cls(**{**req.__dict__, "signature": identity.sign(canonical("enrol-request", req._body()))})

    @classmethod
    def from_doc(cls, doc: dict[str, Any], where: object) -> EnrolRequest:
        """The request in a parsed `nspgw-enrol-request/1` document, its self-signature checked; errors name
        `where` (the file it came from)."""
        try:
            node = doc.get("node_num")
            req = cls(str(doc["network"]), str(doc["name"]), str(doc["role"]), str(doc.get("parent") or ""),
                      None if node is None else int(node), hex_field(where, doc, "sign_public", PUBLIC_KEY_LEN),
                      hex_field(where, doc, "dh_public", PUBLIC_KEY_LEN), hex_field(where, doc, "signature", 64))
        except (KeyError, TypeError, ValueError):
            raise ConfigError(f"{where}: aanmeldverzoek onvolledig of ongeldig") from None
        if not verify_signature(req.sign_public, req.signature, canonical("enrol-request", req._body())):
            raise SecurityError(f"{where}: handtekening van het aanmeldverzoek klopt niet (bestand gewijzigd?)")
        if req.role not in {r.value for r in Role}:
            raise ConfigError(f"{where}: onbekende rol {req.role!r}")
        return req


def bundle_keys(shared: bytes, eph_public: bytes, box_public: bytes) -> SymmetricKeys:
    okm = hkdf(shared, salt=b"nspgw/v1/bundle", info=eph_public + box_public, length=96)
    return SymmetricKeys(okm[:32], okm[32:64], okm[64:])


def secrets_ad(doc: dict[str, Any]) -> bytes:
    return canonical("bundle-ad", {k: doc[k] for k in ("network", "addr", "name", "box_dh_public",
                                                         "authority_public", "ephemeral_public")})


def make_bundle(*, network: str, addr: int, name: str, box_dh_public: bytes, roster: Roster,
                authority: Any, network_keys: tuple[NetworkKey, ...], psk: bytes, rng32: bytes) -> str:
    """JSON text of one box's bundle. `rng32`: 64 fresh random bytes for the ephemeral key (caller's RNG)."""
    eph = Identity(rng32[:32], rng32[32:64])
    doc: dict[str, Any] = {
        "format": BUNDLE_FORMAT, "network": network, "addr": addr, "name": name,
        "box_dh_public": box_dh_public.hex(), "authority_public": authority.public.hex(),
        "ephemeral_public": eph.dh_public.hex(), "roster": json.loads(roster.to_json()),
    }
    secrets = {"network_keys": [{"epoch": k.epoch, "secret": k.secret.hex()} for k in network_keys],
               "radio_psk": base64.b64encode(psk).decode("ascii")}
    keys = bundle_keys(eph.shared_secret(box_dh_public), eph.dh_public, box_dh_public)
    doc["sealed"] = seal(keys, secrets_ad(doc), json.dumps(secrets).encode("ascii")).hex()
    doc["signature"] = authority.sign(canonical("bundle", doc)).hex()
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def bundle_signed_by(doc: dict[str, Any], authority_public: bytes, where: object) -> bool:
    """True when the authority's signature over the bundle document holds."""
    unsigned = {k: v for k, v in doc.items() if k != "signature"}
    return verify_signature(authority_public, hex_field(where, doc, "signature", 64), canonical("bundle", unsigned))


def open_bundle_secrets(doc: dict[str, Any], identity: Identity, where: object) -> tuple[tuple[NetworkKey, ...], bytes]:
    """The network keys and radio channel key sealed in the bundle for `identity`; SecurityError when they
    cannot be opened by this box or are unusable."""
    eph = hex_field(where, doc, "ephemeral_public", PUBLIC_KEY_LEN)
    try:
        sealed = bytes.fromhex(str(doc.get("sealed", "")))
        plain = open_sealed(bundle_keys(identity.shared_secret(eph), eph, identity.dh_public), secrets_ad(doc),
                            sealed)
        secrets = json.loads(plain)
        net_keys = tuple(NetworkKey(int(k["epoch"]), bytes.fromhex(k["secret"])) for k in secrets["network_keys"])
        psk = base64.b64decode(secrets["radio_psk"], validate=True)
    except (AuthError, ValueError, KeyError, TypeError):
        raise SecurityError(f"{where}: versleutelde sleutels in de bundel zijn niet te openen door deze box") from None
    if not net_keys or len(psk) not in (16, 32):
        raise SecurityError(f"{where}: bundel bevat geen bruikbare netwerk- of kanaalsleutel")
    return net_keys, psk
