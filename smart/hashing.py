"""Random secrets and how we store them.

High-entropy random values (tokens, codes, session ids, client secrets) are stored as SHA-256:
guessing the input is hopeless, and lookups must be fast. What a person types (passwords) or
reads off paper (the secret half of an access code) is stored with argon2id (argon2-cffi), a
deliberately slow, salted hash (RFC 9106).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
#: Access-code alphabet: RFC 4648 base32 without the easily confused 0/1 (not in base32 anyway).
_CODE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def new_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def slow_hash(value: str) -> str:
    return _hasher.hash(value)


def slow_verify(stored: str, value: str) -> bool:
    try:
        return _hasher.verify(stored, value)
    except (VerificationError, InvalidHashError):
        return False


def new_access_code() -> tuple[str, str, str]:
    """A one-time access code ``SSSS-SSSS-XXXX-...``: (printed code, selector, secret).

    The first 8 characters select the enrolment row (stored in clear); the remaining 24
    (120 bits) are the secret, stored only as an argon2 hash.
    """
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(32))
    printed = "-".join(raw[i : i + 4] for i in range(0, 32, 4))
    return printed, raw[:8], raw[8:]


def split_access_code(code: str) -> tuple[str, str] | None:
    """(selector, secret) of a typed code, forgiving spaces, dashes and lower case."""
    raw = "".join(ch for ch in code.upper() if ch.isalnum())
    if len(raw) != 32 or any(ch not in _CODE_ALPHABET for ch in raw):
        return None
    return raw[:8], raw[8:]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
