"""Deterministic authenticated encryption (SIV construction) and short MACs.

Why SIV (Rogaway & Shrimpton, "Deterministic Authenticated-Encryption", EUROCRYPT 2006): a box restored
from a backup or an SD card cloned onto a second box may reuse a frame counter. With AES-GCM/CCM a repeated
nonce leaks the XOR of two plaintexts and (GCM) the authentication key. Here the IV is a PRF of the header
and the plaintext, so two different frames get different keystreams even under the same counter; a repeat
only reveals that two frames are byte-identical (and then the receiver's replay window drops the second).

    tag = HMAC-SHA256(k_mac, ad ‖ plaintext)[:8]          (ad has a fixed length per frame layout)
    ct  = AES-256-CTR(k_enc, iv = tag ‖ 0^64) ⊕ plaintext
Opening decrypts with the IV taken from the tag, recomputes the tag and compares in constant time.

The 64-bit tag: a forger succeeds with probability 2^-64 per attempt. At LONG_FAST one frame takes ≥ 0.5 s
of airtime, so even an attacker who ignores the duty cycle gets < 2^26 attempts a year (2^-38 overall).
The counter field inside CTR is the low 64 bits; a frame is ≤ 15 AES blocks, so it never wraps.
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from nspgw.crypto.keys import SymmetricKeys
from nspgw.errors import AuthError

TAG_LEN = 8
HOP_TAG_LEN = 3


def mac(key: bytes, data: bytes, length: int) -> bytes:
    """HMAC-SHA256 truncated to `length` bytes (truncation per RFC 2104 §5 / NIST SP 800-107)."""
    return hmac.new(key, data, hashlib.sha256).digest()[:length]


def _ctr(key: bytes, tag: bytes, data: bytes) -> bytes:
    enc = Cipher(algorithms.AES(key), modes.CTR(tag + bytes(16 - len(tag)))).encryptor()
    return enc.update(data) + enc.finalize()


def seal(keys: SymmetricKeys, ad: bytes, plaintext: bytes) -> bytes:
    """ciphertext ‖ tag (len(plaintext) + 8 bytes)."""
    tag = mac(keys.k_mac, ad + plaintext, TAG_LEN)
    return _ctr(keys.k_enc, tag, plaintext) + tag


def open_sealed(keys: SymmetricKeys, ad: bytes, sealed: bytes) -> bytes:
    """Inverse of `seal`; AuthError when the frame was altered or sealed under other keys."""
    if len(sealed) < TAG_LEN:
        raise AuthError("frame too short to carry an authentication tag")
    ct, tag = sealed[:-TAG_LEN], sealed[-TAG_LEN:]
    plaintext = _ctr(keys.k_enc, tag, ct)
    if not hmac.compare_digest(mac(keys.k_mac, ad + plaintext, TAG_LEN), tag):
        raise AuthError("authentication failed: altered, forged, or sealed for another box")
    return plaintext


def check_mac(key: bytes, data: bytes, tag: bytes) -> bool:
    """Constant-time check of a truncated HMAC."""
    return hmac.compare_digest(mac(key, data, len(tag)), tag)
