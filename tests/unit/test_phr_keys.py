"""Choosing the recipient's key (app.phr.keys): which JWK Sets are accepted, which key is used,
and fetching a set by URL from a real loopback HTTP server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from jwcrypto import jwk

from app.errors import InvalidInput
from app.phr.keys import KeyFetchError, KeySource, check_url, choose, parse_jwks


def public(kty: str = "EC", kid: str = "k1", use: str | None = "enc", **kw: Any) -> dict[str, Any]:
    params = {"EC": {"crv": "P-256"}, "OKP": {"crv": "X25519"}, "RSA": {"size": 2048}}[kty]
    key = jwk.JWK.generate(kty=kty, **{**params, **kw})
    out: dict[str, Any] = {**key.export_public(as_dict=True), "kid": kid}
    if use:
        out["use"] = use
    return out


def test_only_enc_keys_in_set_order() -> None:
    signing = public("RSA", "sig-1", "sig")
    keys = parse_jwks(
        {"keys": [signing, public("OKP", "x"), public("EC", "e"), public("RSA", "r")]}
    )
    assert [(k.kid, k.alg) for k in keys] == [
        ("x", "ECDH-ES+A256KW"),
        ("e", "ECDH-ES+A256KW"),
        ("r", "RSA-OAEP-256"),
    ]
    assert choose(keys).kid == "x"
    assert choose(keys, "r").kid == "r"
    with pytest.raises(KeyFetchError, match="no longer publishes"):
        choose(keys, "gone")


def _private(kty: str) -> dict[str, Any]:
    key = jwk.JWK.generate(kty=kty, crv="P-256") if kty == "EC" else jwk.JWK.generate(kty=kty)
    exported: dict[str, Any] = key.export(private_key=True, as_dict=True)
    return {**exported, "kid": "k", "use": "enc"}


@pytest.mark.parametrize(
    ("jwks", "message"),
    [
        ([], "JSON object"),
        ({"keys": "no"}, "'keys' array"),
        ({"keys": [public(use="sig")]}, "no key with use 'enc'"),
        ({"keys": [public(use=None)]}, "no key with use 'enc'"),
        ({"keys": [_private("EC")]}, "private or symmetric"),
        ({"keys": [{**public(), "kid": ""}]}, "needs a 'kid'"),
        ({"keys": [public(kid="a"), public(kid="a")]}, "unique"),
        ({"keys": [{**public(), "key_ops": ["verify"]}]}, "key_ops"),
        ({"keys": [{**public(), "key_ops": ["deriveBits"]}]}, "cannot encrypt for this key"),
        ({"keys": [{**public(), "alg": "ECDH-ES"}]}, "ECDH-ES"),
        ({"keys": [{**public("RSA"), "alg": "RSA1_5"}]}, "RSA1_5"),
        ({"keys": [public("RSA", size=1024)]}, "2048"),
        ({"keys": [{**public(), "crv": "P-384"}]}, "not a valid JWK|unsupported"),
        ({"keys": [{"kty": "EC", "kid": "k", "use": "enc", "crv": "P-256"}]}, "not a valid JWK"),
        ({"keys": [public(kid=str(i)) for i in range(21)]}, "at most 20"),
    ],
)
def test_refused_sets(jwks: Any, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_jwks(jwks)


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://phr.example/jwks.json", True),
        ("http://127.0.0.1:8090/jwks.json", True),
        ("http://localhost/jwks", True),
        ("http://[::1]:80/x", True),
        ("http://phr.example/jwks.json", False),
        ("ftp://phr.example/jwks.json", False),
        ("https://user:pw@phr.example/", False),
        ("https://phr.example/#frag", False),
        ("/relative", False),
    ],
)
def test_url_policy(url: str, ok: bool) -> None:
    if ok:
        assert check_url(url, "jwks_uri") == url
    else:
        with pytest.raises(InvalidInput):
            check_url(url, "jwks_uri")


class _Handler(BaseHTTPRequestHandler):
    routes: dict[str, tuple[int, bytes, dict[str, str]]] = {}
    hits: list[str] = []

    def do_GET(self) -> None:
        self.hits.append(self.path)
        status, body, headers = self.routes.get(self.path, (404, b"", {}))
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def jwks_server() -> Iterator[tuple[str, type[_Handler]]]:
    handler = type("Handler", (_Handler,), {"routes": {}, "hits": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def test_fetch_cache_and_failures(jwks_server: tuple[str, type[_Handler]]) -> None:
    base, handler = jwks_server
    good = json.dumps({"keys": [public(kid="remote")]}).encode()
    handler.routes.update(
        {
            "/jwks": (200, good, {"Content-Type": "application/json"}),
            "/moved": (302, b"", {"Location": "/jwks"}),
            "/huge": (200, b" " * 70_000 + good, {}),
            "/empty": (200, b'{"keys": []}', {}),
            "/broken": (503, b"", {}),
        }
    )
    source = KeySource(ttl=3600)
    assert [k.kid for k in source.keys(None, f"{base}/jwks")] == ["remote"]
    assert [k.kid for k in source.keys(None, f"{base}/jwks")] == ["remote"]
    assert handler.hits.count("/jwks") == 1  # the second answer came from the cache
    source.forget(f"{base}/jwks")
    source.keys(None, f"{base}/jwks")
    assert handler.hits.count("/jwks") == 2
    for path, message in [
        ("/moved", "HTTP 302"),  # redirects are not followed
        ("/huge", "64 KiB"),
        ("/empty", "unusable"),
        ("/broken", "HTTP 503"),
        ("/missing", "HTTP 404"),
    ]:
        with pytest.raises(KeyFetchError, match=message):
            source.keys(None, f"{base}{path}")
    with pytest.raises(KeyFetchError, match="unreachable"):
        source.keys(None, "http://127.0.0.1:9/jwks")


def test_inline_set() -> None:
    source = KeySource()
    inline = json.dumps({"keys": [public(kid="inline")]})
    assert source.keys(inline, None)[0].kid == "inline"
    with pytest.raises(KeyFetchError, match="unusable"):
        source.keys('{"keys": []}', None)
    with pytest.raises(KeyFetchError, match="no keys"):
        source.keys(None, None)
