"""The receiver's key pair: a private JWK Set kept by the PHR, and its public half to register.

Keys are generated with ``use: "enc"`` and a ``kid`` (Image Share encrypts for one key chosen
by ``kid``): EC P-256 by default, X25519 or RSA-3072 on request. Keep the private file secret;
publish the public set (this app serves it at ``/.well-known/jwks.json``) or register it inline.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

from jwcrypto import jwk

KINDS: dict[str, dict[str, Any]] = {
    "EC": {"kty": "EC", "crv": "P-256"},
    "X25519": {"kty": "OKP", "crv": "X25519"},
    "RSA": {"kty": "RSA", "size": 3072},
}


def generate(kind: str = "EC", kid: str | None = None) -> jwk.JWK:
    return jwk.JWK.generate(**KINDS[kind], use="enc", kid=kid or uuid.uuid4().hex[:16])


def private_set(*keys: jwk.JWK) -> jwk.JWKSet:
    out = jwk.JWKSet()
    for key in keys:
        out.add(key)
    return out


def public_jwks(keys: jwk.JWKSet) -> dict[str, Any]:
    """The public half of a key set, ready to register or publish."""
    published: dict[str, Any] = json.loads(keys.export(private_keys=False))
    return published


def save(keys: jwk.JWKSet, path: Path) -> None:
    """Write the private set readable by the owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(keys.export(private_keys=True))


def load(path: Path) -> jwk.JWKSet:
    return jwk.JWKSet.from_json(path.read_text())
