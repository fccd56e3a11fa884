"""Enrolment files: a box asks to join, the network authority adds and signs, the box imports its bundle.

    box        `nspgw init`           identity.key (0600) + enrol-request-NAME.json (public, self-signed)
    authority  `nspgw roster add`     draft roster gets the box (address assigned, parent resolved)
               `nspgw roster sign`    roster version + 1, signed with the authority key (kept offline)
               `nspgw roster bundle`  bundle-NAME.json: signed roster + authority public key + the network
                                      key(s) and radio channel key SEALED for this box's X25519 key
    box        `nspgw roster import`  verifies and writes keys/{box.key,network.key,roster.json,
                                      authority.pub,radio-channel.psk}; later roster files the same way

The box's secret key never leaves the box; the bundle is useless to anyone who finds the USB stick
(sealed to the box, docs/security.md §5). Everything is checked before anything is written, so a refused
import leaves the box as it was. Errors are NspgwErrors naming the file, never key material. The request
and bundle documents themselves (signing, sealing, opening) are `nspgw.crypto.bundle`, without files.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nspgw.crypto.bundle import (
    BUNDLE_FORMAT,
    REQUEST_FORMAT,
    EnrolRequest,
    authority_fingerprint,
    bundle_signed_by,
    make_bundle,
    open_bundle_secrets,
)
from nspgw.crypto.keys import PUBLIC_KEY_LEN, Identity, NetworkKey
from nspgw.crypto.roster import Role, Roster
from nspgw.errors import ConfigError, SecurityError, UsageError
from nspgw.store import keyfiles
from nspgw.store.keyfiles import (
    AUTHORITY_PUB,
    BOX_KEY,
    NETWORK_KEY,
    ROSTER,
    hex_field,
    read_channel_key,
    read_secret,
    write_atomic,
    write_channel_key,
)

IDENTITY_FILE = "identity.key"  # the box's secrets before it has an address (box.key needs one)
PSK_FILE = keyfiles.CHANNEL_KEY
KEY_FILES = (IDENTITY_FILE, BOX_KEY, NETWORK_KEY, ROSTER, AUTHORITY_PUB, PSK_FILE)


def _read_doc(path: Path, fmt: str | None = None) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: bestand bestaat niet / file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: geen leesbaar JSON-bestand ({type(exc).__name__})") from None
    if not isinstance(doc, dict) or (fmt is not None and doc.get("format") != fmt):
        raise ConfigError(f"{path}: geen bestand van het formaat {fmt}")
    return doc


# ------------------------------------------------------------------------------------------ the request
def load_request(path: Path) -> EnrolRequest:
    """The enrolment request in `path`, its self-signature checked (ConfigError/SecurityError naming the file)."""
    return EnrolRequest.from_doc(_read_doc(path, REQUEST_FORMAT), path)


# ------------------------------------------------------------------------------------- box key files
def save_pending_identity(path: Path, identity: Identity) -> None:
    sign, dh = identity.secret_bytes()
    doc = {"format": "nspgw-box-identity/1", "sign_secret": sign.hex(), "dh_secret": dh.hex()}
    write_atomic(path, json.dumps(doc, indent=2).encode("utf-8") + b"\n")


def load_own_identity(keys_dir: Path) -> Identity:
    """The box's identity: from box.key once enrolled, else from identity.key (written by `nspgw init`)."""
    if (keys_dir / BOX_KEY).exists():
        return keyfiles.load_identity(keys_dir / BOX_KEY)[1]
    path = keys_dir / IDENTITY_FILE
    if not path.exists():
        raise ConfigError(f"{keys_dir}: geen sleutels van deze box; maak ze met `nspgw init`")
    raw = read_secret(path)
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ConfigError(f"{path}: geen geldig sleutelbestand") from None
    if not isinstance(doc, dict) or doc.get("format") != "nspgw-box-identity/1":
        raise ConfigError(f"{path}: geen sleutelbestand van het formaat nspgw-box-identity/1")
    return Identity(hex_field(path, doc, "sign_secret", 32), hex_field(path, doc, "dh_secret", 32))


def existing_key_files(keys_dir: Path) -> list[Path]:
    return [keys_dir / n for n in KEY_FILES if (keys_dir / n).exists()]


def retire_keys(keys_dir: Path) -> Path:
    """Move every key file into keys/retired-N/ (never delete a key silently); returns that directory."""
    n = 1
    while (keys_dir / f"retired-{n}").exists():
        n += 1
    target = keys_dir / f"retired-{n}"
    target.mkdir(mode=0o700)
    for f in existing_key_files(keys_dir):
        os.replace(f, target / f.name)
    return target


# --------------------------------------------------------------------------------------------- bundle
@dataclass(frozen=True)
class ImportResult:
    kind: str  # "bundle" | "roster" | "unchanged"
    addr: int
    roster_version: int
    network_epoch: int | None
    authority_fingerprint: str


def import_file(cfg: Any, path: Path, *, expect_authority: str | None = None) -> ImportResult:
    """Import a bundle (first enrolment, re-issue) or a newer signed roster into the box of `cfg`."""
    doc = _read_doc(path)
    fmt = doc.get("format")
    if fmt == BUNDLE_FORMAT:
        return _import_bundle(cfg, path, doc, expect_authority)
    if fmt == "nspgw-roster/1":
        return _import_roster(cfg, path)
    raise ConfigError(f"{path}: geen nspgw-bundel of roster (formaat {fmt!r})")


def _trusted_authority(keys_dir: Path) -> bytes | None:
    p = keys_dir / AUTHORITY_PUB
    if not p.exists():
        return None
    try:
        return bytes.fromhex(p.read_text(encoding="ascii").strip())
    except (ValueError, UnicodeDecodeError):
        raise ConfigError(f"{p}: geen hexadecimale sleutel") from None


def _check_own_entry(roster: Roster, addr: int, identity: Identity, cfg: Any, path: Path) -> None:
    entry = roster.get(addr)
    if entry is None:
        raise SecurityError(f"{path}: deze box (adres {addr}) staat niet in roster versie {roster.version}")
    if entry.revoked:
        raise SecurityError(f"{path}: deze box ({entry.name}, adres {addr}) is INGETROKKEN in roster versie "
                            f"{roster.version}; meld hem opnieuw aan met `nspgw init --force`")
    if entry.sign_public != identity.sign_public or entry.dh_public != identity.dh_public:
        raise SecurityError(f"{path}: de sleutels van deze box passen niet bij de roster (andere box?)")
    if entry.role.value != cfg.role:
        raise SecurityError(f"{path}: rol in roster is {entry.role.value}, de configuratie zegt {cfg.role}")


def _check_version(keys_dir: Path, roster: Roster, authority_public: bytes, path: Path) -> bool:
    """True when the roster differs from the installed one; SecurityError for an older (or forked) one."""
    current_path = keys_dir / ROSTER
    if not current_path.exists():
        return True
    current = Roster.from_json(current_path.read_text(encoding="utf-8"), authority_public)
    if roster.version < current.version:
        raise SecurityError(f"{path}: roster versie {roster.version} is OUDER dan de geïnstalleerde versie "
                            f"{current.version}; geweigerd (terugdraaien zou ingetrokken boxen weer toelaten)")
    if roster.version == current.version and roster.canonical_bytes() != current.canonical_bytes():
        raise SecurityError(f"{path}: roster versie {roster.version} verschilt van de geïnstalleerde met "
                            "hetzelfde nummer; geweigerd")
    return roster.version > current.version


def _import_bundle(cfg: Any, path: Path, doc: dict[str, Any], expect: str | None) -> ImportResult:
    keys_dir: Path = cfg.keys_dir
    authority_public = hex_field(path, doc, "authority_public", PUBLIC_KEY_LEN)
    trusted = _trusted_authority(keys_dir)
    if trusted is not None and trusted != authority_public:
        raise SecurityError(f"{path}: bundel van een ANDERE netwerkautoriteit dan deze box vertrouwt; geweigerd")
    afp = authority_fingerprint(authority_public)
    if expect is not None and expect.replace(" ", "").lower() != afp:
        raise SecurityError(f"{path}: vingerafdruk van de netwerkautoriteit is {afp}, verwacht {expect}")
    if not bundle_signed_by(doc, authority_public, path):
        raise SecurityError(f"{path}: handtekening van de netwerkautoriteit klopt niet (bestand gewijzigd?)")
    if doc.get("network") != cfg.network:
        raise SecurityError(f"{path}: bundel is voor netwerk {doc.get('network')!r}, deze box is {cfg.network!r}")
    identity = load_own_identity(keys_dir)
    if hex_field(path, doc, "box_dh_public", PUBLIC_KEY_LEN) != identity.dh_public:
        raise SecurityError(f"{path}: deze bundel is voor een andere box ({doc.get('name')!r})")
    addr = doc.get("addr")
    if not isinstance(addr, int):
        raise ConfigError(f"{path}: veld 'addr' ontbreekt")
    roster = Roster.from_json(json.dumps(doc.get("roster")), authority_public)
    _check_own_entry(roster, addr, identity, cfg, path)
    _check_version(keys_dir, roster, authority_public, path)
    net_keys, psk = open_bundle_secrets(doc, identity, path)
    from nspgw.crypto.keyring import KeyRing

    KeyRing(addr, identity, roster, authority_public, net_keys)  # the daemon's own acceptance check
    keyfiles.write_bundle(keys_dir, addr, identity, roster, authority_public, net_keys)
    write_channel_key(keys_dir / PSK_FILE, psk)
    (keys_dir / IDENTITY_FILE).unlink(missing_ok=True)  # box.key now holds the same secrets
    return ImportResult("bundle", addr, roster.version, net_keys[0].epoch, afp)


def _import_roster(cfg: Any, path: Path) -> ImportResult:
    keys_dir: Path = cfg.keys_dir
    authority_public = _trusted_authority(keys_dir)
    if authority_public is None or not (keys_dir / BOX_KEY).exists():
        raise ConfigError(f"{keys_dir}: deze box is nog niet aangemeld; importeer eerst zijn bundel "
                          "(`nspgw roster bundle NAAM` bij de netwerkautoriteit)")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: niet leesbaar ({type(exc).__name__})") from None
    try:
        roster = Roster.from_json(text, authority_public)
    except SecurityError as exc:
        raise SecurityError(f"{path}: {exc}") from None
    addr, identity = keyfiles.load_identity(keys_dir / BOX_KEY)
    _check_own_entry(roster, addr, identity, cfg, path)
    changed = _check_version(keys_dir, roster, authority_public, path)
    if changed:
        write_atomic(keys_dir / ROSTER, roster.to_json().encode("utf-8"), mode=0o644)
    return ImportResult("roster" if changed else "unchanged", addr, roster.version, None,
                        authority_fingerprint(authority_public))


def parse_node_num(text: str | None) -> int | None:
    if text is None or text == "":
        return None
    from nspgw.ids import parse_node_id

    try:
        return int(parse_node_id(text.strip()))
    except ValueError:
        raise UsageError(f"ongeldig radio-node-id {text!r}; verwacht bijvoorbeeld !9b8eb8d4") from None


# ------------------------------------------------------------------------------------------ authority
AUTHORITY_META = "authority.json"
AUTHORITY_KEY = "authority.key"
DRAFT = "draft.json"
# Address plan (12-bit roster addresses, nspgw.ids.BoxAddr): small numbers read well on a status screen.
ADDR_BASE = {"gct": 1, "cp": 10, "nsp": 100}


@dataclass(frozen=True)
class Draft:
    """Changes since the last signed roster: the full entry list as it will be signed next."""

    base_version: int
    entries: tuple[Any, ...]
    rotate_network_key: bool


class Authority:
    """The network authority's directory (an offline laptop or USB stick, two copies: docs/security.md §5).

    It holds the authority signing key, the network key(s), the radio channel key, the signed roster and the
    draft of the next version. `add`/`revoke` change the draft; `sign` turns it into the next version.
    """

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        if not (directory / AUTHORITY_META).exists():
            raise ConfigError(f"{directory}: geen netwerkautoriteit hier; maak er een met `nspgw roster init`")
        meta = _read_doc(directory / AUTHORITY_META, "nspgw-authority/1")
        self.network = str(meta.get("network", ""))
        self.key = keyfiles.load_authority(directory / AUTHORITY_KEY)
        try:
            text = (directory / ROSTER).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            raise ConfigError(f"{directory / ROSTER}: ontbreekt of is onleesbaar") from None
        self.roster = Roster.from_json(text, self.key.public)

    @classmethod
    def create(cls, directory: Path, network: str, *, rng: Any = os.urandom) -> Authority:
        from nspgw.crypto.keys import SigningKey

        if (directory / AUTHORITY_KEY).exists() or (directory / AUTHORITY_META).exists():
            raise UsageError(f"{directory}: hier staat al een netwerkautoriteit; een tweede sleutel zou alle "
                             "boxen buitensluiten. Kies een andere map.")
        if not network or not all(c.isalnum() or c in "-_" for c in network):
            raise UsageError("netwerknaam: letters, cijfers, - en _ / network name: letters, digits, - and _")
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = SigningKey(rng(32))
        keyfiles.save_authority(directory / AUTHORITY_KEY, key)
        keyfiles.save_network_keys(directory / NETWORK_KEY, (NetworkKey(0, rng(32)),))
        write_channel_key(directory / PSK_FILE, rng(32))
        write_atomic(directory / ROSTER, Roster(0, ()).signed(key).to_json().encode("utf-8"), mode=0o644)
        meta = {"format": "nspgw-authority/1", "network": network}
        write_atomic(directory / AUTHORITY_META, json.dumps(meta, indent=2).encode() + b"\n", mode=0o644)
        return cls(directory)

    @property
    def fingerprint(self) -> str:
        return authority_fingerprint(self.key.public)

    def network_keys(self) -> tuple[NetworkKey, ...]:
        return keyfiles.load_network_keys(self.dir / NETWORK_KEY)

    # ------------------------------------------------------------------------------------ the draft
    def draft(self) -> Draft:
        from nspgw.crypto.roster import RosterEntry

        path = self.dir / DRAFT
        if not path.exists():
            return Draft(self.roster.version, self.roster.entries, False)
        doc = _read_doc(path, "nspgw-roster-draft/1")
        try:
            entries = tuple(RosterEntry.from_dict(e) for e in doc["entries"])
            draft = Draft(int(doc["base_version"]), entries, bool(doc.get("rotate_network_key")))
        except (KeyError, TypeError, ValueError, SecurityError):
            raise ConfigError(f"{path}: concept-roster beschadigd") from None
        if draft.base_version != self.roster.version:
            raise ConfigError(f"{path}: concept hoort bij versie {draft.base_version}, getekend is "
                              f"{self.roster.version}; verwijder het concept en begin opnieuw")
        return draft

    def _save_draft(self, draft: Draft) -> None:
        doc = {"format": "nspgw-roster-draft/1", "base_version": draft.base_version,
               "entries": [e.to_dict() for e in sorted(draft.entries, key=lambda e: e.addr)],
               "rotate_network_key": draft.rotate_network_key}
        write_atomic(self.dir / DRAFT, json.dumps(doc, indent=2).encode() + b"\n", mode=0o644)

    def pending(self) -> list[str]:
        """Human-readable changes in the draft (Dutch)."""
        old = {e.addr: e for e in self.roster.entries}
        out = []
        for e in self.draft().entries:
            if e.addr not in old:
                out.append(f"+ {e.addr} {e.name} ({e.role.value})")
            elif e.revoked and not old[e.addr].revoked:
                out.append(f"- {e.addr} {e.name} ingetrokken")
        return out

    def find(self, who: str, entries: tuple[Any, ...] | None = None) -> Any:
        entries = self.draft().entries if entries is None else entries
        live = [e for e in entries if not e.revoked]
        for e in live + [e for e in entries if e.revoked]:
            if e.name == who or (who.isdigit() and e.addr == int(who)):
                return e
        raise UsageError(f"box {who!r} staat niet in de roster")

    def add(self, req: EnrolRequest, *, addr: int | None = None, node_num: int | None = None) -> Any:
        from nspgw.crypto.roster import RosterEntry

        if req.network != self.network:
            raise UsageError(f"verzoek is voor netwerk {req.network!r}, deze autoriteit beheert {self.network!r}")
        draft = self.draft()
        live = [e for e in draft.entries if not e.revoked]
        node = node_num if node_num is not None else req.node_num
        if node is None:
            raise UsageError("radio-node-id van de box onbekend: geef --node-id !xxxxxxxx "
                             "(`nspgw radio detect` op de box toont het)")
        for e in draft.entries:
            if e.sign_public == req.sign_public or e.dh_public == req.dh_public:
                raise UsageError(f"deze sleutels staan al in de roster als {e.name} (adres {e.addr})")
        for e in live:
            if e.name == req.name:
                raise UsageError(f"naam {req.name!r} is al in gebruik (adres {e.addr}); trek die eerst in")
            if e.node_num == node:
                raise UsageError(f"radio {node:#010x} hoort al bij {e.name}; trek die eerst in")
        parent = None
        if req.role == "nsp":
            cp = next((e for e in live if e.name == req.parent and e.role == Role.CP), None)
            if cp is None:
                raise UsageError(f"coördinatiepunt {req.parent!r} van deze NSP staat niet in de roster; "
                                 "meld eerst de CP aan")
            parent = cp.addr
        used = {e.addr for e in draft.entries}  # never reuse a revoked box's address
        if addr is None:
            addr = next(a for a in range(ADDR_BASE[req.role], 0xFFF) if a not in used)
        elif not 1 <= addr <= 0xFFE or addr in used:
            raise UsageError(f"adres {addr} is bezet of ligt buiten 1..4094")
        entry = RosterEntry(addr, req.name, Role(req.role), node, req.sign_public, req.dh_public, parent)
        self._save_draft(Draft(draft.base_version, (*draft.entries, entry), draft.rotate_network_key))
        return entry

    def revoke(self, who: str) -> Any:
        from dataclasses import replace

        draft = self.draft()
        entry = self.find(who, draft.entries)
        if entry.revoked:
            raise UsageError(f"{entry.name} (adres {entry.addr}) is al ingetrokken")
        entries = tuple(replace(e, revoked=True) if e.addr == entry.addr else e for e in draft.entries)
        self._save_draft(Draft(draft.base_version, entries, True))
        return entry

    def sign(self, *, rng: Any = os.urandom) -> tuple[Roster, NetworkKey | None]:
        """Sign the draft as the next version. After a revocation the network key is rotated too (the
        revoked box knows the old one): boxes get the new key in their next bundle, old kept for opening."""
        draft = self.draft()
        if not (self.dir / DRAFT).exists():
            raise UsageError("geen wijzigingen om te tekenen (eerst `nspgw roster add` of `revoke`)")
        roster = Roster(self.roster.version + 1, draft.entries).signed(self.key)
        self._write_delta(draft)
        new_key = None
        if draft.rotate_network_key:
            current = self.network_keys()[0]
            new_key = NetworkKey(current.epoch + 1, rng(32))
            keyfiles.save_network_keys(self.dir / NETWORK_KEY, (new_key, current))
        write_atomic(self.dir / ROSTER, roster.to_json().encode("utf-8"), mode=0o644)
        (self.dir / DRAFT).unlink()
        self.roster = roster
        return roster, new_key

    def _write_delta(self, draft: Draft) -> None:
        """The change from the signed roster to the draft as a signed delta (hex, one radio frame), so that a
        revocation can travel over the air (`nspgw roster broadcast` on the GCT box)."""
        from nspgw.crypto.roster import RosterDelta

        old = {e.addr: e for e in self.roster.entries}
        revoked = tuple(e.addr for e in draft.entries if e.revoked and e.addr in old and not old[e.addr].revoked)
        added = tuple(e for e in draft.entries if e.addr not in old)
        delta = RosterDelta(self.roster.version, self.roster.version + 1, revoked, added).signed(self.key)
        write_atomic(self.delta_path(self.roster.version + 1), delta.to_bytes().hex().encode() + b"\n",
                     mode=0o644)

    def delta_path(self, version: int) -> Path:
        return self.dir / f"roster-delta-v{version}.hex"

    def bundle(self, who: str, out: Path | None = None, *, rng: Any = os.urandom) -> tuple[Any, Path]:
        """Write box `who`'s bundle to `out` (default ./bundle-NAME.json); (roster entry, path)."""
        if (self.dir / DRAFT).exists():
            raise UsageError("er zijn ongetekende wijzigingen; eerst `nspgw roster sign`")
        entry = self.find(who, self.roster.entries)
        if entry.revoked:
            raise SecurityError(f"{entry.name} (adres {entry.addr}) is ingetrokken; geen bundel")
        text = make_bundle(network=self.network, addr=entry.addr, name=entry.name, box_dh_public=entry.dh_public,
                           roster=self.roster, authority=self.key, network_keys=self.network_keys(),
                           psk=read_channel_key(self.dir / PSK_FILE), rng32=rng(64))
        out = out or Path(f"bundle-{entry.name}.json")
        write_atomic(out, text.encode("utf-8"), mode=0o644)
        return entry, out
