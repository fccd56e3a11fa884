"""A real Mosquitto for adapter tests: generated config in tmp_path, free loopback port, optional users, ACL
and TLS (a throwaway CA made with `cryptography`).

Without mosquitto: tests fail when CI=true (the broker is part of the test contract there) and skip with a
reason locally.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd")


def _require_mosquitto() -> str:
    if MOSQUITTO and MOSQUITTO_PASSWD:
        return MOSQUITTO
    why = "mosquitto or mosquitto_passwd not found (apt-get install mosquitto mosquitto-clients)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but {why}")
    pytest.skip(why)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class TlsFiles:
    ca: Path
    cert: Path
    key: Path


@dataclass
class Broker:
    """One mosquitto process. `kill()` is SIGKILL; `start()` again reuses port and config."""

    binary: str
    dir: Path
    port: int
    conf: Path
    tls: TlsFiles | None = None
    proc: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.dir / "mosquitto.log"

    host = "127.0.0.1"

    def start(self, timeout_s: float = 10.0) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen([self.binary, "-c", str(self.conf)], stdout=out, stderr=out)
        deadline = time.monotonic() + timeout_s
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            try:
                socket.create_connection((self.host, self.port), timeout=0.5).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"mosquitto not listening: {self.log.read_text()[-2000:]}") from None
                time.sleep(0.02)  # polling interval while waiting for the listener, not a fixed wait

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def freeze(self) -> None:
        """SIGSTOP: the TCP connections stay open but nothing answers, like a broker behind a dead link."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # a frozen broker cannot handle SIGTERM
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


def make_tls(dirpath: Path) -> TlsFiles:
    """A throwaway CA and a server certificate for 127.0.0.1, valid for one day."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "nspgw test CA")])
    ca_cert = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
               .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                            content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False,
                                            encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
               .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    files = TlsFiles(dirpath / "ca.crt", dirpath / "server.crt", dirpath / "server.key")
    files.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()))
    files.key.chmod(0o600)
    return files


@pytest.fixture(name="make_tls")
def make_tls_fixture() -> object:
    """`make_tls(dir)`: a throwaway CA plus server certificate for 127.0.0.1 in `dir`."""
    return make_tls


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator:
    """Factory: `mosquitto(users={"0a1": "pw"}, acl="...", tls=True)` starts a broker and returns a Broker.
    Every broker started is stopped at teardown."""
    binary = _require_mosquitto()
    brokers: list[Broker] = []

    def start(users: dict[str, str] | None = None, acl: str | None = None, tls: bool = False,
              render: Callable[[Path, int, TlsFiles | None], str] | None = None) -> Broker:
        d = tmp_path / f"broker{len(brokers)}"
        d.mkdir()
        port = free_port()
        lines = [f"listener {port} 127.0.0.1", "persistence false", "max_queued_messages 1000",
                 "log_type error", "log_type warning", "log_type notice", "log_dest stderr",
                 f"allow_anonymous {'false' if users else 'true'}"]
        if os.geteuid() == 0:
            lines.append("user root")  # otherwise mosquitto drops to user `mosquitto` and cannot read tmp_path
        if users:
            pw = d / "passwd"
            for i, (user, password) in enumerate(users.items()):
                args = [MOSQUITTO_PASSWD, "-b"] + (["-c"] if i == 0 else []) + [str(pw), user, password]
                subprocess.run(args, check=True, capture_output=True)
            pw.chmod(0o600)
            lines.append(f"password_file {pw}")
        if acl is not None:
            (d / "acl").write_text(acl)
            lines.append(f"acl_file {d / 'acl'}")
        tls_files = None
        if tls:
            tls_files = make_tls(d)
            lines += [f"cafile {tls_files.ca}", f"certfile {tls_files.cert}", f"keyfile {tls_files.key}"]
        conf = d / "mosquitto.conf"
        # `render(dir, port, tls)` replaces the generated config (password file and ACL still written).
        conf.write_text(render(d, port, tls_files) if render else "\n".join(lines) + "\n")
        broker = Broker(binary, d, port, conf, tls_files)
        brokers.append(broker)
        broker.start()
        return broker

    yield start
    for b in brokers:
        b.stop()
