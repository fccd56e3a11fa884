"""Operator accounts of one box, their log-in failures and the log of what each operator did.

Kept in `state_dir/console.db`, a SQLite file of its own beside the message store: accounts belong to this
box alone (an operator of another box has no row here, whatever its name), and the console never needs
a write lock the daemon's loop waits on. WAL and full sync, as the store.

Passwords: scrypt (RFC 7914, memory-hard) from the standard library, n=2^14, r=8, p=1 — 16 MiB and
≈0.1 s per try on a Raspberry Pi 4, slow enough against guessing a stolen file, fast enough for a log-in.
After MAX_FAILURES wrong passwords in a row an account is locked for LOCK_S; a right password during the
lock does not open it (the guesser cannot learn that it was right).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from nspgw.errors import StoreError, UsageError

SCRYPT_N, SCRYPT_R, SCRYPT_P = 1 << 14, 8, 1
MAX_FAILURES = 5
LOCK_S = 300.0
MIN_PASSWORD = 8
NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-_.")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS operators (
    name TEXT PRIMARY KEY, pw_hash TEXT NOT NULL, created_wall REAL NOT NULL,
    failures INTEGER NOT NULL DEFAULT 0, locked_until_wall REAL NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS operator_log (
    id INTEGER PRIMARY KEY, operator TEXT NOT NULL, action TEXT NOT NULL, detail TEXT NOT NULL,
    wall REAL NOT NULL);
"""


def db_path(state_dir: Path) -> Path:
    return state_dir / "console.db"


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else os.urandom(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def check_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, want = stored.split("$")
        if kind != "scrypt":
            return False
        got = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             dklen=32)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, base64.b64decode(want))


def valid_name(name: str) -> str:
    name = name.strip().lower()
    if not 1 <= len(name) <= 32 or not set(name) <= NAME_CHARS:
        raise UsageError("operatornaam: 1-32 tekens, kleine letters, cijfers, -_. / operator name: 1-32 of a-z0-9-_.")
    return name


@dataclass(frozen=True)
class Operator:
    name: str
    created_wall: float
    failures: int
    locked_until_wall: float


class Accounts:
    """One connection; one per thread (SQLite connections are not shared between threads here)."""

    def __init__(self, state_dir: Path) -> None:
        path = db_path(state_dir)
        try:
            self._db = sqlite3.connect(path, isolation_level=None, timeout=10.0)
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = FULL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"operatorbestand {path} niet te openen: {exc}") from None
        os.chmod(path, 0o600)  # password hashes: readable by the nspgw user only

    def close(self) -> None:
        self._db.close()

    def add(self, name: str, password: str) -> str:
        name = valid_name(name)
        if len(password) < MIN_PASSWORD:
            raise UsageError(f"wachtwoord: minstens {MIN_PASSWORD} tekens / password: at least {MIN_PASSWORD} chars")
        try:
            self._db.execute("INSERT INTO operators (name, pw_hash, created_wall) VALUES (?, ?, ?)",
                             (name, hash_password(password), time.time()))
        except sqlite3.IntegrityError:
            raise UsageError(f"operator {name} bestaat al / already exists") from None
        return name

    def remove(self, name: str) -> bool:
        return self._db.execute("DELETE FROM operators WHERE name = ?", (valid_name(name),)).rowcount == 1

    def list(self) -> list[Operator]:
        return [Operator(*row) for row in self._db.execute(
            "SELECT name, created_wall, failures, locked_until_wall FROM operators ORDER BY name")]

    def exists(self, name: str) -> bool:
        return self._db.execute("SELECT 1 FROM operators WHERE name = ?", (name,)).fetchone() is not None

    def login(self, name: str, password: str, now_wall: float | None = None) -> str | None:
        """The operator's name when the password is right and the account not locked; else None.

        Unknown names cost the same scrypt work as known ones (no timing hint of which names exist)."""
        now = time.time() if now_wall is None else now_wall
        try:
            name = valid_name(name)
        except UsageError:
            name = ""
        row = self._db.execute("SELECT pw_hash, failures, locked_until_wall FROM operators WHERE name = ?",
                               (name,)).fetchone()
        if row is None:
            check_password(password, hash_password("-", b"0" * 16))
            return None
        pw_hash, failures, locked_until = row
        ok = check_password(password, pw_hash)
        if locked_until > now:
            return None
        if ok:
            self._db.execute("UPDATE operators SET failures = 0, locked_until_wall = 0 WHERE name = ?", (name,))
            return str(name)
        failures += 1
        lock = now + LOCK_S if failures >= MAX_FAILURES else 0.0
        self._db.execute("UPDATE operators SET failures = ?, locked_until_wall = ? WHERE name = ?",
                         (0 if lock else failures, lock, name))
        return None

    def locked(self, name: str, now_wall: float | None = None) -> bool:
        now = time.time() if now_wall is None else now_wall
        row = self._db.execute("SELECT locked_until_wall FROM operators WHERE name = ?", (name,)).fetchone()
        return row is not None and row[0] > now

    def record(self, operator: str, action: str, detail: str) -> None:
        """Every operator action, attributed (shown in `nspgw operator list --log`)."""
        self._db.execute("INSERT INTO operator_log (operator, action, detail, wall) VALUES (?, ?, ?, ?)",
                         (operator, action, detail, time.time()))

    def log(self, limit: int = 100) -> list[tuple[str, str, str, float]]:
        return [(o, a, d, w) for o, a, d, w in self._db.execute(
            "SELECT operator, action, detail, wall FROM operator_log ORDER BY id DESC LIMIT ?", (limit,))]
