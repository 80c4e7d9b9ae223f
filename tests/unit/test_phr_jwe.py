"""Encrypting one file for one key (app.phr.jwe): every supported key type round-trips through
jwcrypto, the header is what docs/phr-package.md says, and nothing else opens or alters it."""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import pytest
from jwcrypto import jwe, jwk
from jwcrypto.common import JWException

from app.errors import InvalidInput
from app.phr.jwe import algorithm_for, encrypt_file
from examples.phr_receiver.unpack import PackageError, decrypt

KEYS = {
    "EC P-256": ({"kty": "EC", "crv": "P-256"}, "ECDH-ES+A256KW"),
    "X25519": ({"kty": "OKP", "crv": "X25519"}, "ECDH-ES+A256KW"),
    "RSA-2048": ({"kty": "RSA", "size": 2048}, "RSA-OAEP-256"),
    "oct-256 (SMART Health Links)": ({"kty": "oct", "size": 256}, "dir"),
}


def header(token: bytes) -> dict[str, Any]:
    first = token.split(b".")[0]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(first + b"=" * (-len(first) % 4)))
    return decoded


def open_with(token: bytes, key: jwk.JWK) -> bytes:
    obj = jwe.JWE()
    obj.deserialize(token.decode(), key=key)
    payload: bytes = obj.payload
    return payload


@pytest.mark.parametrize("kind", list(KEYS))
def test_round_trip_and_header(kind: str) -> None:
    params, alg = KEYS[kind]
    key = jwk.JWK.generate(**params, kid="k-1", use="enc")
    data = os.urandom(100_000) + b"DICM"
    token = encrypt_file(data, key, "application/dicom")
    assert token.count(b".") == 4  # compact serialization: five parts
    h = header(token)
    assert h["alg"] == alg and h["enc"] == "A256GCM"
    assert h["cty"] == "application/dicom" and h["kid"] == "k-1"
    assert "zip" not in h
    assert open_with(token, key) == data


def test_fresh_key_and_iv_every_time() -> None:
    key = jwk.JWK.generate(kty="EC", crv="P-256", kid="k", use="enc")
    a, b = (encrypt_file(b"same plaintext", key, "text/plain") for _ in range(2))
    parts_a, parts_b = a.split(b"."), b.split(b".")
    assert parts_a[0] != parts_b[0]  # a new ephemeral key (epk) in the header
    assert parts_a[1] != parts_b[1]  # a new wrapped content key
    assert parts_a[2] != parts_b[2]  # a new IV
    assert parts_a[3] != parts_b[3]


def test_wrong_key_cannot_decrypt() -> None:
    right = jwk.JWK.generate(kty="EC", crv="P-256", kid="k", use="enc")
    wrong = jwk.JWK.generate(kty="EC", crv="P-256", kid="k", use="enc")
    token = encrypt_file(b"secret report", right, "application/pdf")
    with pytest.raises(JWException):
        open_with(token, wrong)
    keyset = jwk.JWKSet()
    keyset.add(wrong)
    with pytest.raises(PackageError, match="failed decryption"):
        decrypt(token, keyset)


@pytest.mark.parametrize("where", [0, 2, 3, 4])
def test_tampering_is_detected(where: int) -> None:
    """Changing the protected header, IV, ciphertext or tag breaks GCM authentication."""
    key = jwk.JWK.generate(kty="OKP", crv="X25519", kid="k", use="enc")
    token = encrypt_file(os.urandom(5000), key, "application/dicom")
    parts = token.split(b".")
    raw = bytearray(base64.urlsafe_b64decode(parts[where] + b"=" * (-len(parts[where]) % 4)))
    raw[len(raw) // 2] ^= 0x01
    parts[where] = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=")
    with pytest.raises(JWException):
        open_with(b".".join(parts), key)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"kty": "EC", "crv": "P-384"}, "unsupported"),
        ({"kty": "OKP", "crv": "Ed25519"}, "unsupported"),
        ({"kty": "RSA", "size": 1024}, "2048"),
        ({"kty": "oct", "size": 128}, "256 bits"),
        ({"kty": "RSA", "size": 2048, "alg": "RSA1_5"}, "RSA1_5"),
        ({"kty": "EC", "crv": "P-256", "alg": "ECDH-ES"}, "ECDH-ES"),
    ],
)
def test_refused_keys(params: dict[str, Any], message: str) -> None:
    key = jwk.JWK.generate(**params)
    with pytest.raises(InvalidInput, match=message):
        algorithm_for(key)
    with pytest.raises(InvalidInput):
        encrypt_file(b"x", key, "text/plain")


def test_rsa1_5_is_refused_when_decrypting() -> None:
    """jwcrypto keeps RSA1_5 off by default; the example receiver's allow-list agrees."""
    key = jwk.JWK.generate(kty="RSA", size=2048, kid="k", use="enc")
    legacy = jwe.JWE(
        b"data",
        protected=json.dumps({"alg": "RSA1_5", "enc": "A256GCM", "kid": "k"}),
        algs=["RSA1_5", "A256GCM"],
    )
    legacy.add_recipient(key)
    token = legacy.serialize(compact=True)
    with pytest.raises(JWException):
        open_with(token.encode(), key)
    keyset = jwk.JWKSet()
    keyset.add(key)
    with pytest.raises(PackageError):
        decrypt(token, keyset)
