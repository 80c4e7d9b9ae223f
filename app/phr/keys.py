"""Choose the recipient's key: validate a PHR's JWK Set (inline or fetched) and pick the key.

Only public keys marked ``use: "enc"`` count (RFC 7517 §4.2); a set may also hold signing keys
(the same JWKS can serve the PHR's SMART client for ``private_key_jwt``), which are ignored.
Every ``enc`` key must be usable — EC P-256, OKP X25519 or RSA ≥ 2048 bits, with a unique
``kid`` and no private members — or the whole set is refused, so a vendor learns of a mistake at
registration rather than at the first delivery. The first usable key in the set's order is
chosen (vendors rotate by putting the new key first), unless the caller names a ``kid``.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from jwcrypto import jwk
from jwcrypto.common import JWException

from app.errors import InvalidInput
from app.phr.jwe import algorithm_for, encrypt_file

logger = logging.getLogger(__name__)

#: Members that only a private (or symmetric) key has (RFC 7518 §6).
PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
ENC_KEY_OPS = frozenset({"encrypt", "wrapKey", "deriveKey", "deriveBits"})
MAX_KEYS = 20
MAX_JWKS_BYTES = 64 * 1024


class KeyFetchError(Exception):
    """The recipient's JWK Set could not be fetched or is unusable right now (retry later)."""


@dataclass(frozen=True)
class RecipientKey:
    kid: str
    alg: str
    key: jwk.JWK


def parse_jwks(data: object) -> list[RecipientKey]:
    """The usable encryption keys of a JWK Set, in order; InvalidInput if there are none."""
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise InvalidInput("a JWK Set is a JSON object with a 'keys' array", "jwks")
    entries = data["keys"]
    if len(entries) > MAX_KEYS:
        raise InvalidInput(f"a JWK Set may hold at most {MAX_KEYS} keys here", "jwks")
    out: list[RecipientKey] = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise InvalidInput(f"keys[{i}] is not a JSON object", "jwks")
        if entry.get("use") != "enc":
            continue
        out.append(_enc_key(i, entry))
    if not out:
        raise InvalidInput("the JWK Set has no key with use 'enc'", "jwks")
    kids = [k.kid for k in out]
    if len(set(kids)) != len(kids):
        raise InvalidInput("encryption keys need unique 'kid' values", "jwks")
    return out


def _enc_key(i: int, entry: dict[str, Any]) -> RecipientKey:
    where = f"keys[{i}]"
    if any(m in entry for m in PRIVATE_MEMBERS):
        raise InvalidInput(f"{where} holds private or symmetric key material", "jwks")
    kid = entry.get("kid")
    if not isinstance(kid, str) or not kid or len(kid) > 200:
        raise InvalidInput(f"{where} needs a 'kid'", "jwks")
    ops = entry.get("key_ops")
    if ops is not None and not (isinstance(ops, list) and ENC_KEY_OPS.intersection(ops)):
        raise InvalidInput(f"{where} key_ops do not allow encryption", "jwks")
    try:
        key = jwk.JWK(**entry)
    except (JWException, ValueError, TypeError) as exc:
        raise InvalidInput(f"{where} is not a valid JWK: {exc}", "jwks") from exc
    if key.get("kty") == "oct":
        raise InvalidInput(f"{where}: a PHR publishes public keys, not symmetric ones", "jwks")
    try:
        alg = algorithm_for(key)
    except InvalidInput as exc:
        raise InvalidInput(f"{where}: {exc.message}", "jwks") from exc
    try:
        encrypt_file(b"", key, "application/octet-stream")  # usable as published?
    except (JWException, ValueError, TypeError) as exc:
        raise InvalidInput(f"{where}: cannot encrypt for this key ({exc})", "jwks") from exc
    return RecipientKey(kid, alg, key)


def choose(keys: list[RecipientKey], kid: str | None = None) -> RecipientKey:
    """The key to encrypt for: the named ``kid``, else the first usable one."""
    for key in keys:
        if kid is None or key.kid == kid:
            return key
    raise KeyFetchError(f"the recipient no longer publishes key {kid!r}")


def check_url(url: str, what: str) -> str:
    """HTTPS URLs only; plain HTTP is allowed for loopback hosts (development, tests)."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidInput(f"{what} must be an absolute https URL", what)
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise InvalidInput(f"{what} must use https (http only on loopback)", what)
    if parts.username or parts.password or parts.fragment:
        raise InvalidInput(f"{what} must not carry credentials or a fragment", what)
    return url


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class KeySource:
    """Keys of a recipient: parsed from the inline set, or fetched from ``jwks_uri`` and cached."""

    def __init__(self, ttl: float = 3600.0, timeout: float = 10.0) -> None:
        self.ttl = ttl
        self.timeout = timeout
        self._cache: dict[str, tuple[float, list[RecipientKey]]] = {}
        self._lock = threading.Lock()

    def keys(self, jwks: str | None, jwks_uri: str | None) -> list[RecipientKey]:
        """Raises KeyFetchError when the keys cannot be had now."""
        if jwks is not None:
            try:
                return parse_jwks(json.loads(jwks))
            except (ValueError, InvalidInput) as exc:
                raise KeyFetchError(f"the registered JWK Set is unusable: {exc}") from exc
        if jwks_uri is None:
            raise KeyFetchError("the recipient has no keys")
        with self._lock:
            cached = self._cache.get(jwks_uri)
        if cached and time.monotonic() - cached[0] < self.ttl:
            return cached[1]
        keys = self.fetch(jwks_uri)
        with self._lock:
            self._cache[jwks_uri] = (time.monotonic(), keys)
        return keys

    def forget(self, jwks_uri: str) -> None:
        with self._lock:
            self._cache.pop(jwks_uri, None)

    def fetch(self, url: str) -> list[RecipientKey]:
        """GET the set (no redirects, bounded size) and validate it."""
        try:
            with (
                httpx.Client(timeout=self.timeout, follow_redirects=False) as client,
                client.stream("GET", url, headers={"Accept": "application/json"}) as response,
            ):
                if response.status_code != 200:
                    raise KeyFetchError(f"JWKS URL answered HTTP {response.status_code}")
                body = b""
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > MAX_JWKS_BYTES:
                        raise KeyFetchError("JWK Set larger than 64 KiB")
        except httpx.HTTPError as exc:
            raise KeyFetchError(f"JWKS URL unreachable ({type(exc).__name__})") from exc
        try:
            return parse_jwks(json.loads(body))
        except (ValueError, InvalidInput) as exc:
            raise KeyFetchError(f"JWKS URL returned an unusable set: {exc}") from exc
