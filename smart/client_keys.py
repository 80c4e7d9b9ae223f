"""Public keys of confidential-asymmetric clients: inline JWKS or fetched from their URL.

Fetched sets are cached for a few minutes; an unknown ``kid`` triggers one refetch, so a client
can rotate keys without re-registering (SMART: "Client Authentication: Asymmetric").
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import httpx
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

logger = logging.getLogger(__name__)

CACHE_SECONDS = 300
MAX_BYTES = 64 * 1024
_cache: dict[str, tuple[float, KeySet]] = {}
_lock = threading.Lock()


class KeyFetchError(Exception):
    """The client's JWKS could not be fetched or parsed."""


def _fetch(url: str) -> KeySet:
    try:
        response = httpx.get(url, timeout=5, follow_redirects=False)
    except httpx.HTTPError as exc:
        raise KeyFetchError(f"cannot fetch jwks_uri: {type(exc).__name__}") from exc
    if response.status_code != 200 or len(response.content) > MAX_BYTES:
        raise KeyFetchError(f"jwks_uri answered {response.status_code}")
    return parse(response.json())


def parse(data: Any) -> KeySet:
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise KeyFetchError("not a JWK Set")
    try:
        return KeySet.import_key_set(data)  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError) as exc:
        raise KeyFetchError(f"unusable JWK Set: {exc}") from exc


def key_set(jwks: dict[str, Any] | None, jwks_uri: str | None, *, refresh: bool = False) -> KeySet:
    """The client's keys: the inline set, else the (cached) set at its URL."""
    if jwks is not None:
        return parse(jwks)
    if not jwks_uri:
        raise KeyFetchError("client has no keys")
    now = time.monotonic()
    with _lock:
        hit = _cache.get(jwks_uri)
    if hit is not None and not refresh and now - hit[0] < CACHE_SECONDS:
        return hit[1]
    keys = _fetch(jwks_uri)
    with _lock:
        _cache[jwks_uri] = (now, keys)
    return keys
