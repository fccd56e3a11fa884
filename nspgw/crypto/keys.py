"""Key material: box identities, network keys and the per-pair keys derived from them.

Every secret lives in a class whose `__repr__` is redacted and which has no `__str__` of its own, so a key
never lands in a log line, a traceback (typer pretty exceptions are off as well) or an exception message.

Pair keys (docs/security.md "Keys"): for an ordered pair sender → receiver,
    ikm  = X25519(sender_dh_secret, receiver_dh_public)          (static-static; RFC 7748)
    okm  = HKDF-SHA256(ikm, salt = "nspgw/v1/pair", info = version ‖ src ‖ dst ‖ pk_src ‖ pk_dst, L = 96)
    k_enc ‖ k_mac ‖ k_hop = okm                                   (RFC 5869)
Both boxes compute the same ikm; binding both addresses and both public keys into `info` makes A→B and
B→A independent keys and ties each key to one roster entry (no key-confusion between boxes).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from nspgw.errors import SecurityError
from nspgw.ids import BoxAddr

WIRE_VERSION = 1
KEY_LEN = 32
PUBLIC_KEY_LEN = 32
SIGNATURE_LEN = 64

_RAW = serialization.Encoding.Raw
_RAW_PUB = serialization.PublicFormat.Raw
_RAW_PRIV = serialization.PrivateFormat.Raw
_NOENC = serialization.NoEncryption()


def hkdf(ikm: bytes, *, salt: bytes, info: bytes, length: int) -> bytes:
    """HKDF-SHA256 (RFC 5869)."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


class _Secret:
    """Base for holders of secret bytes: redacted repr, no str, no equality on bytes leaking via repr."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(<redacted>)"

    __str__ = __repr__


@dataclass(frozen=True, slots=True, repr=False, eq=False)
class SymmetricKeys(_Secret):
    """Encryption, MAC and hop-tag keys for one direction of a pair, or derived from the network key."""

    k_enc: bytes
    k_mac: bytes
    k_hop: bytes

    def __repr__(self) -> str:
        return "SymmetricKeys(<redacted>)"


def _check_len(name: str, data: bytes, length: int) -> bytes:
    if not isinstance(data, bytes | bytearray) or len(data) != length:
        raise SecurityError(f"{name}: expected {length} bytes")
    return bytes(data)


class Identity(_Secret):
    """A box's long-term secrets: Ed25519 for signing, X25519 for key agreement.

    Sans-IO: the caller supplies the secret bytes (the store reads them from the key file, enrolment draws
    them from `os.urandom`).
    """

    __slots__ = ("_dh", "_sign")

    def __init__(self, sign_secret: bytes, dh_secret: bytes) -> None:
        self._sign = Ed25519PrivateKey.from_private_bytes(_check_len("signing key", sign_secret, KEY_LEN))
        self._dh = X25519PrivateKey.from_private_bytes(_check_len("key-agreement key", dh_secret, KEY_LEN))

    @property
    def sign_public(self) -> bytes:
        return self._sign.public_key().public_bytes(_RAW, _RAW_PUB)

    @property
    def dh_public(self) -> bytes:
        return self._dh.public_key().public_bytes(_RAW, _RAW_PUB)

    def secret_bytes(self) -> tuple[bytes, bytes]:
        """(signing secret, key-agreement secret): only for writing the key file."""
        return (
            self._sign.private_bytes(_RAW, _RAW_PRIV, _NOENC),
            self._dh.private_bytes(_RAW, _RAW_PRIV, _NOENC),
        )

    def sign(self, data: bytes) -> bytes:
        return self._sign.sign(data)

    def shared_secret(self, peer_dh_public: bytes) -> bytes:
        """X25519 shared secret; SecurityError for a low-order peer key (all-zero output, RFC 7748 §6.1)."""
        peer = X25519PublicKey.from_public_bytes(_check_len("peer public key", peer_dh_public, PUBLIC_KEY_LEN))
        try:
            return self._dh.exchange(peer)
        except ValueError:
            raise SecurityError("peer key-agreement key is invalid (low order)") from None


class SigningKey(_Secret):
    """An Ed25519 signing key on its own: the network authority's key that signs rosters."""

    __slots__ = ("_key",)

    def __init__(self, secret: bytes) -> None:
        self._key = Ed25519PrivateKey.from_private_bytes(_check_len("signing key", secret, KEY_LEN))

    @property
    def public(self) -> bytes:
        return self._key.public_key().public_bytes(_RAW, _RAW_PUB)

    def secret_bytes(self) -> bytes:
        return self._key.private_bytes(_RAW, _RAW_PRIV, _NOENC)

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)


def verify_signature(sign_public: bytes, signature: bytes, data: bytes) -> bool:
    """Ed25519 verification; False (never an exception) for a bad key, signature or message."""
    from cryptography.exceptions import InvalidSignature

    if len(sign_public) != PUBLIC_KEY_LEN or len(signature) != SIGNATURE_LEN:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(sign_public).verify(signature, data)
    except (InvalidSignature, ValueError):
        return False
    return True


@dataclass(frozen=True, slots=True, repr=False, eq=False)
class NetworkKey(_Secret):
    """The symmetric key every enrolled box holds (from its enrolment bundle), with its rotation epoch.

    It seals bulletins and authenticates beacons. It is rotated when a box is revoked (docs/security.md).
    """

    epoch: int
    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        _check_len("network key", self.secret, KEY_LEN)

    def __repr__(self) -> str:
        return f"NetworkKey(epoch={self.epoch}, <redacted>)"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NetworkKey):
            return NotImplemented
        return self.epoch == other.epoch and hmac.compare_digest(self.secret, other.secret)

    def __hash__(self) -> int:
        return hash(self.epoch)

    def derived(self) -> SymmetricKeys:
        okm = hkdf(self.secret, salt=b"nspgw/v1/network", info=bytes([WIRE_VERSION]), length=3 * KEY_LEN)
        return SymmetricKeys(okm[:32], okm[32:64], okm[64:])


def derive_pair_keys(
    identity: Identity, *, me: BoxAddr, peer: BoxAddr, peer_dh_public: bytes, sending: bool
) -> SymmetricKeys:
    """Keys for the direction me → peer (`sending`) or peer → me."""
    ikm = identity.shared_secret(peer_dh_public)
    if sending:
        src, dst, pk_src, pk_dst = me, peer, identity.dh_public, peer_dh_public
    else:
        src, dst, pk_src, pk_dst = peer, me, peer_dh_public, identity.dh_public
    info = bytes([WIRE_VERSION]) + src.to_bytes(2, "big") + dst.to_bytes(2, "big") + pk_src + pk_dst
    okm = hkdf(ikm, salt=b"nspgw/v1/pair", info=info, length=3 * KEY_LEN)
    return SymmetricKeys(okm[:32], okm[32:64], okm[64:])
