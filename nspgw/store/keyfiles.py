"""Key files on disk: written atomically with mode 0600, refused when group or others can read them.

A box's enrolment bundle is a directory:

    box.key        this box's secrets (Ed25519 signing + X25519 key agreement)       0600, secret
    network.key    the network key(s), current epoch first                            0600, secret
    roster.json    the signed roster (nspgw-roster/1), plus the signed deltas received  0644, public
                   over the air since (so a revocation survives a restart)
    authority.pub  the network authority's Ed25519 public key (hex)                   0644, public

Writes go to a temporary file created 0600 with O_EXCL in the same directory, are fsync'ed, then renamed
over the target and the directory fsync'ed: after a power cut the old or the new file exists, never half
of one. Reads use O_NOFOLLOW and fstat the open descriptor (no check-then-open race) and refuse a file that
is not a regular file, not owned by this user, or readable/writable by group or others (like ssh does
for private keys). The public trust anchors (authority.pub, roster.json) get the same checks, except that
others may read them (`read_trusted`). Error messages name the file, never its content.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import stat
from pathlib import Path
from typing import Any

from nspgw.crypto.bundle import hex_field
from nspgw.crypto.keyring import KeyRing
from nspgw.crypto.keys import KEY_LEN, PUBLIC_KEY_LEN, Identity, NetworkKey, SigningKey
from nspgw.crypto.roster import Roster, RosterDelta
from nspgw.errors import ConfigError, DecodeError, SecurityError
from nspgw.ids import BoxAddr

BOX_KEY = "box.key"
NETWORK_KEY = "network.key"
ROSTER = "roster.json"
AUTHORITY_PUB = "authority.pub"
CHANNEL_KEY = "radio-channel.psk"
"""The network's Meshtastic channel key (base64, 0600), written at enrolment, read by the radio adapter."""

PLACEHOLDER_PSK = b"NSPGW-PLACEHOLDER-PSK-REPLACE-ME"
"""32 bytes (AES-256 length) that no real network uses: the firmware profiles carry it instead of the real
channel key, and `nspgw radio provision` replaces it with the network key."""
assert len(PLACEHOLDER_PSK) == 32


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: str | Path, data: bytes, *, mode: int = 0o600) -> None:
    """Replace `path` with `data` atomically; the file never exists with wider permissions than `mode`."""
    p = Path(path)
    tmp = p.with_name(f".{p.name}.tmp-{os.getpid()}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    except FileExistsError:
        tmp.unlink()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    except OSError as exc:
        raise ConfigError(f"{p}: kan niet schrijven ({exc.strerror})") from None
    try:
        os.fchmod(fd, mode)  # umask may have narrowed it further; never wider
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(tmp, p)
        _fsync_dir(p.parent)
    except OSError as exc:
        raise ConfigError(f"{p}: kan niet schrijven ({exc.strerror})") from None
    finally:
        if fd >= 0:
            os.close(fd)
        if tmp.exists():
            tmp.unlink()


def read_secret(path: str | Path) -> bytes:
    """Content of a secret file; SecurityError if its permissions or owner are unsafe."""
    return _read_guarded(Path(path), 0o077, "sleutelbestand ", "anderen kunnen dit sleutelbestand lezen", 600)


def check_channel_key(psk: bytes) -> None:
    """ConfigError unless `psk` can be the network's channel key: AES-128/256 length, not the placeholder."""
    if len(psk) not in (16, 32):
        raise ConfigError("kanaalsleutel moet 16 of 32 bytes zijn (AES-128/256)")
    if psk == PLACEHOLDER_PSK:
        raise ConfigError("kanaalsleutel is de voorbeeldsleutel uit het profiel; gebruik de netwerksleutel")


def read_channel_key(path: str | Path) -> bytes:
    """The network's channel key from its key file: the guards of `read_secret` (no symlink, regular file,
    our uid, 0600), then base64 of 16 or 32 bytes (an optional `base64:` prefix, as the Meshtastic CLI
    writes keys, is accepted) that is not the profiles' placeholder."""
    p = Path(path)
    text = read_secret(p).strip().removeprefix(b"base64:")
    try:
        psk = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"{p}: geen geldige base64-kanaalsleutel") from None
    check_channel_key(psk)
    return psk


def write_channel_key(path: str | Path, psk: bytes) -> None:
    write_atomic(path, base64.b64encode(psk) + b"\n")


def read_trusted(path: str | Path) -> bytes:
    """Content of a public file the box trusts (authority.pub, roster.json): not secret, but whoever can
    replace it chooses who belongs to the network (a roster still needs the authority's signature; the
    authority key is the anchor of that). Refused like a secret file when it is a symbolic link, not a
    regular file, owned by another user, or writable by group or others."""
    return _read_guarded(Path(path), 0o022, "", "anderen kunnen dit bestand wijzigen", 644)


def _read_guarded(p: Path, forbidden: int, noun: str, too_open: str, fix_mode: int) -> bytes:
    """Read `p` through one descriptor (no symlink, regular file, our uid, none of the `forbidden` mode bits),
    so the checks and the read see the same file."""
    try:
        fd = os.open(p, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        raise ConfigError(f"{p}: {noun}ontbreekt") from None
    except OSError as exc:
        raise SecurityError(f"{p}: {noun}niet te openen ({exc.strerror}; symbolische link?)") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise SecurityError(f"{p}: geen gewoon bestand")
        if st.st_uid != os.getuid():
            raise SecurityError(f"{p}: eigenaar is niet deze gebruiker (uid {st.st_uid})")
        if st.st_mode & forbidden:
            raise SecurityError(f"{p}: {too_open} (rechten {stat.S_IMODE(st.st_mode):04o}); "
                                f"herstel met: chmod {fix_mode} {p}")
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _load_json(path: Path, data: bytes, fmt: str) -> dict[str, Any]:
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ConfigError(f"{path}: geen geldig sleutelbestand (JSON)") from None
    if not isinstance(doc, dict) or doc.get("format") != fmt:
        raise ConfigError(f"{path}: geen sleutelbestand van het formaat {fmt}")
    return doc


def generate_identity() -> Identity:
    """A fresh box identity from the operating system's CSPRNG."""
    return Identity(os.urandom(KEY_LEN), os.urandom(KEY_LEN))


def save_identity(path: str | Path, addr: int, identity: Identity) -> None:
    sign, dh = identity.secret_bytes()
    doc = {"format": "nspgw-box-key/1", "addr": addr, "sign_secret": sign.hex(), "dh_secret": dh.hex()}
    write_atomic(path, json.dumps(doc, indent=2).encode("utf-8") + b"\n")


def load_identity(path: str | Path) -> tuple[BoxAddr, Identity]:
    p = Path(path)
    doc = _load_json(p, read_secret(p), "nspgw-box-key/1")
    addr = doc.get("addr")
    if not isinstance(addr, int) or not 1 <= addr <= 0xFFE:
        raise ConfigError(f"{p}: veld 'addr' ontbreekt of ligt buiten 1..4094")
    return BoxAddr(addr), Identity(hex_field(p, doc, "sign_secret", KEY_LEN), hex_field(p, doc, "dh_secret", KEY_LEN))


def save_network_keys(path: str | Path, keys: tuple[NetworkKey, ...]) -> None:
    doc = {"format": "nspgw-network-key/1", "keys": [{"epoch": k.epoch, "secret": k.secret.hex()} for k in keys]}
    write_atomic(path, json.dumps(doc, indent=2).encode("utf-8") + b"\n")


def load_network_keys(path: str | Path) -> tuple[NetworkKey, ...]:
    p = Path(path)
    doc = _load_json(p, read_secret(p), "nspgw-network-key/1")
    entries = doc.get("keys")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{p}: geen netwerksleutels")
    keys = []
    for e in entries:
        if not isinstance(e, dict) or not isinstance(e.get("epoch"), int):
            raise ConfigError(f"{p}: ongeldige netwerksleutel")
        keys.append(NetworkKey(e["epoch"], hex_field(p, e, "secret", KEY_LEN)))
    return tuple(keys)


def save_authority(path: str | Path, key: SigningKey) -> None:
    doc = {"format": "nspgw-authority-key/1", "secret": key.secret_bytes().hex()}
    write_atomic(path, json.dumps(doc, indent=2).encode("utf-8") + b"\n")


def load_authority(path: str | Path) -> SigningKey:
    p = Path(path)
    return SigningKey(hex_field(p, _load_json(p, read_secret(p), "nspgw-authority-key/1"), "secret", KEY_LEN))


def write_bundle(directory: str | Path, addr: int, identity: Identity, roster: Roster, authority_public: bytes,
                 network_keys: tuple[NetworkKey, ...]) -> None:
    """Write a box's enrolment bundle (see module docstring)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    save_identity(d / BOX_KEY, addr, identity)
    save_network_keys(d / NETWORK_KEY, network_keys)
    write_atomic(d / ROSTER, roster.to_json().encode("utf-8"), mode=0o644)
    write_atomic(d / AUTHORITY_PUB, authority_public.hex().encode("ascii") + b"\n", mode=0o644)


def load_keyring(directory: str | Path) -> KeyRing:
    """The key ring of the box whose bundle is in `directory`; ConfigError/SecurityError naming the file."""
    d = Path(directory)
    addr, identity = load_identity(d / BOX_KEY)
    network_keys = load_network_keys(d / NETWORK_KEY)
    try:
        authority_public = bytes.fromhex(read_trusted(d / AUTHORITY_PUB).decode("ascii").strip())
    except (ValueError, UnicodeDecodeError):
        raise ConfigError(f"{d / AUTHORITY_PUB}: geen hexadecimale sleutel") from None
    if len(authority_public) != PUBLIC_KEY_LEN:
        raise ConfigError(f"{d / AUTHORITY_PUB}: sleutel moet {PUBLIC_KEY_LEN} bytes zijn")
    try:
        roster_text = read_trusted(d / ROSTER).decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{d / ROSTER}: geen tekst (UTF-8)") from None
    roster = Roster.from_json(roster_text, authority_public)
    return KeyRing(addr, identity, roster, authority_public, network_keys)


def save_roster(directory: str | Path, roster: Roster) -> None:
    """Replace the bundle's roster.json atomically (a delta-derived roster is written with its proof)."""
    write_atomic(Path(directory) / ROSTER, roster.to_json().encode("utf-8"), mode=0o644)


def apply_roster_update(directory: str | Path, keyring: KeyRing, blob: bytes) -> bool:
    """Apply a signed roster delta received over the air (a `RosterUpdateFrame` blob): verify it, persist the
    resulting roster to roster.json, then adopt it in `keyring` (persist first: a crash between the two
    re-reads the new roster at start, never forgets a revocation it already acted on).

    False when the delta is not newer than the roster we hold (a repeat or replay: nothing to do);
    SecurityError when it is malformed, not signed by the network authority, or does not follow our version
    (a missed delta: the box needs the full roster from the authority, `nspgw roster import`)."""
    try:
        delta = RosterDelta.from_bytes(blob)
    except DecodeError as exc:
        raise SecurityError(f"rosterwijziging onleesbaar: {exc}") from None
    roster = keyring.roster_after(delta)
    if roster is None:
        return False
    save_roster(directory, roster)
    keyring.set_roster(roster)
    return True


def apply_network_key(directory: str | Path, keyring: KeyRing, key: NetworkKey) -> bool:
    """Adopt a rotated network key (a `NetworkKeyFrame`, which the codec accepts only from an unrevoked
    crisis-team box): write network.key with the new key first and the previous one kept for opening, then
    switch `keyring`. False when the key's epoch is not newer than ours (replay, duplicate)."""
    keys = keyring.network_keys_after(key)
    if keys is None:
        return False
    save_network_keys(Path(directory) / NETWORK_KEY, keys)
    keyring.set_network_keys(keys)
    return True
