"""The frame AEAD (crypto/seal.py) recomputed by an independent implementation: the `openssl` command-line
tool (its own HMAC and AES-CTR code paths, driven by hex keys), on the published golden vectors of
docs/wire-format.md §7 and on random frames. Issue 15, finding 6: the construction is kept (docs/security.md
§4 gives the figures), so it must be checkable by anyone without nspgw's code."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nspgw.crypto.enrol import demo_boxes, make_network
from nspgw.crypto.keys import SymmetricKeys
from nspgw.crypto.seal import TAG_LEN, seal
from nspgw.ids import BoxAddr
from nspgw.wire.codec import HEADER_LEN, _plaintext
from nspgw.wire.frames import MessageFrame, MsgId, Precedence

OPENSSL = shutil.which("openssl")
pytestmark = pytest.mark.skipif(OPENSSL is None and os.environ.get("CI") != "true", reason="openssl CLI missing")

GOLDEN_SEED = b"nspgw golden vectors v1 seed...."
GOLDEN_MESSAGE = bytes.fromhex("40065001000003e836c8eed97cf3bce4d25d33331b25489b6aaabd796db1cbae804f0782149e")


def openssl_seal(keys: SymmetricKeys, ad: bytes, plaintext: bytes) -> bytes:
    assert OPENSSL is not None, "openssl CLI required (CI)"
    mac = subprocess.run([OPENSSL, "dgst", "-sha256", "-mac", "HMAC", "-macopt", f"hexkey:{keys.k_mac.hex()}",
                          "-binary"], input=ad + plaintext, capture_output=True, check=True).stdout
    tag = mac[:TAG_LEN]
    ct = subprocess.run([OPENSSL, "enc", "-aes-256-ctr", "-K", keys.k_enc.hex(), "-iv", (tag + bytes(8)).hex(),
                         "-nosalt"], input=plaintext, capture_output=True, check=True).stdout
    return ct + tag


def test_the_golden_message_is_what_openssl_computes() -> None:
    net = make_network(demo_boxes(), GOLDEN_SEED)
    src, dst = BoxAddr(101), BoxAddr(1)
    frame = MessageFrame(src, dst, MsgId(src, 300), Precedence.FLASH, 3600, b"\x42Brand Dorpsstraat 4")
    header = GOLDEN_MESSAGE[:HEADER_LEN]
    keys = net.keyring(src).pair_keys(src, dst)
    assert header + openssl_seal(keys, header, _plaintext(frame)) == GOLDEN_MESSAGE


@settings(max_examples=15, deadline=None)
@given(st.binary(min_size=32, max_size=32), st.binary(min_size=32, max_size=32), st.binary(min_size=8, max_size=8),
       st.binary(max_size=240))
def test_seal_matches_openssl_on_random_frames(k_enc: bytes, k_mac: bytes, ad: bytes, pt: bytes) -> None:
    keys = SymmetricKeys(k_enc, k_mac, bytes(32))
    assert seal(keys, ad, pt) == openssl_seal(keys, ad, pt)
