"""Encrypt one file for one key: a compact JWE (RFC 7516) with jwcrypto.

This module does not choose keys (``keys`` does); it takes a public JWK (or, for SMART Health
Links, a 256-bit symmetric key used with ``alg: dir``) and the plaintext of one file. The policy
is fixed, not negotiable by the key: ``enc`` is always A256GCM; ``alg`` follows the key type —
ECDH-ES+A256KW for EC P-256 and OKP X25519, RSA-OAEP-256 for RSA, ``dir`` for a 256-bit ``oct``
key. jwcrypto's defaults keep RSA1_5 off, and nothing here turns it on. Each call draws a fresh
content key and IV (jwcrypto does), sets ``cty`` to the plaintext's media type, and never
compresses: ``zip`` is not used (DICOM pixel data barely compresses, and jwcrypto refuses
inflating large ``zip: DEF`` payloads anyway).
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pybase64
from jwcrypto import jwk
from jwcrypto.jwa import JWA

from app.errors import InvalidInput

ENC = "A256GCM"
#: Key management algorithms this server encrypts with, per key type (and curve).
ALG_BY_KEY = {
    ("EC", "P-256"): "ECDH-ES+A256KW",
    ("OKP", "X25519"): "ECDH-ES+A256KW",
    ("RSA", None): "RSA-OAEP-256",
    ("oct", None): "dir",
}
#: The compact serialization's media type (RFC 7515/7516 §9: ``application/jose``).
JOSE_MEDIA_TYPE = "application/jose"
RSA_MIN_BITS = 2048


def algorithm_for(key: jwk.JWK) -> str:
    """The ``alg`` used with this key; InvalidInput for a key type or size we refuse."""
    kty = key.get("kty")
    curve = key.get("crv") if kty in ("EC", "OKP") else None
    alg = ALG_BY_KEY.get((kty, curve))
    if alg is None:
        raise InvalidInput(f"unsupported encryption key type {kty}{f' {curve}' if curve else ''}")
    if kty == "RSA" and _rsa_bits(key) < RSA_MIN_BITS:
        raise InvalidInput(f"RSA keys need at least {RSA_MIN_BITS} bits")
    if kty == "oct" and len(_oct_bytes(key)) != 32:
        raise InvalidInput("a direct encryption key must be 256 bits for A256GCM")
    declared = key.get("alg")
    if declared is not None and declared != alg:
        raise InvalidInput(f"key declares alg {declared}; only {alg} is used with this key type")
    return alg


def encrypt_file(plaintext: bytes, key: jwk.JWK, content_type: str) -> bytes:
    """One compact JWE of ``plaintext`` for ``key``, ASCII bytes ready to store or send.

    The protected header carries ``alg``, ``enc``, ``cty``, the key's ``kid`` (when it has one)
    and, for ECDH-ES, the ephemeral public key, so the recipient knows which of its private keys
    opens the file. Every cryptographic step is jwcrypto's (its JWA key management and
    A256GCM); only the five-part compact serialization (RFC 7516 §7.1) is assembled here, with
    pybase64 — jwcrypto's own serializer spends five times longer on base64 than on the
    cryptography (docs/benchmarks.md), and tests open every output with jwcrypto's ``JWE``.
    """
    header: dict[str, Any] = {"alg": algorithm_for(key), "enc": ENC, "cty": content_type}
    kid = key.get("kid")
    if kid:
        header["kid"] = kid
    enc = JWA.encryption_alg(ENC)
    wrapped = JWA.keymgmt_alg(header["alg"]).wrap(key, enc.wrap_key_size, None, header)
    header.update(wrapped.get("header", {}))
    protected = _b64url(json.dumps(header, separators=(",", ":")).encode())
    iv, ciphertext, tag = enc.encrypt(wrapped["cek"], protected, plaintext)
    parts = (protected, _b64url(wrapped.get("ek") or b""), _b64url(iv))
    return b".".join((*parts, _b64url(ciphertext), _b64url(tag)))


def _b64url(data: bytes) -> bytes:
    """Base64url without padding (RFC 7515 §2)."""
    encoded: bytes = pybase64.urlsafe_b64encode(data)
    return encoded.rstrip(b"=")


def _rsa_bits(key: jwk.JWK) -> int:
    return len(_b64(key.get("n", ""))) * 8


def _oct_bytes(key: jwk.JWK) -> bytes:
    return _b64(key.get("k", ""))


def _b64(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
