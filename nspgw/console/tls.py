"""The console's HTTPS certificate: made on the box at first start, self-signed, kept in state_dir/console/.

A box has no domain name and no internet, so no public CA can vouch for it. The technician writes down the
certificate's SHA-256 fingerprint (`nspgw operator list` prints it) and operators compare it with what the
browser shows the first time. Key: ECDSA P-256 (small, fast on a Pi); valid for 10 years, since a box's
clock may be anywhere after an outage and an expired certificate would lock the operators out.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from pathlib import Path


def cert_paths(state_dir: Path) -> tuple[Path, Path]:
    d = state_dir / "console"
    return d / "cert.pem", d / "key.pem"


def ensure_certificate(state_dir: Path, box_name: str) -> tuple[Path, Path]:
    """The certificate and key files, made once (atomically) if missing."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from nspgw.store.keyfiles import write_atomic

    cert_path, key_path = cert_paths(state_dir)
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path
    cert_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"nspgw {box_name}")])
    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)  # not the box clock: it may be years off
    alt = x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.DNSName(box_name),
                                       x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(int.from_bytes(os.urandom(16), "big") >> 1)
            .not_valid_before(start).not_valid_after(start + datetime.timedelta(days=3650 * 3))
            .add_extension(alt, critical=False).sign(key, hashes.SHA256()))
    write_atomic(key_path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()))
    write_atomic(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def fingerprint(cert_path: Path) -> str:
    """SHA-256 of the certificate (DER), as browsers show it: AB:CD:…"""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    return ":".join(f"{b:02X}" for b in cert.fingerprint(hashes.SHA256()))
