"""Registering PHRs over the admin API: what is accepted, what is refused (400/409, never 500),
and that the push token never comes back."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from examples.phr_receiver import keys as keyfile
from tests import phr_kit
from tests.conftest import LiveServer, run_server
from tests.phr_kit import make_receiver, serve


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with run_server(tmp_path_factory.mktemp("phr-recipients"), **phr_kit.FAST) as live:
        yield live


def jwks() -> dict[str, object]:
    return keyfile.public_jwks(keyfile.private_set(keyfile.generate("X25519")))


def test_register_by_uri_and_inline(
    server: LiveServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    url = f"{server.url}/phr/recipients"
    receiver = make_receiver(tmp_path_factory.mktemp("store"))
    with serve(receiver.gate) as base:
        by_uri = httpx.post(
            url,
            json={
                "name": "By URI",
                "jwks_uri": f"{base}/.well-known/jwks.json",
                "endpoint": f"{base}/deliveries",
                "client_id": "phr-client-1",
                "push_token": "secret-push-token",
            },
        )
    assert by_uri.status_code == 201, by_uri.text
    inline = httpx.post(url, json={"name": "Inline", "jwks": jwks()})
    assert inline.status_code == 201 and inline.json()["push"] is False
    listed = httpx.get(url)
    assert listed.status_code == 200
    assert {r["name"] for r in listed.json()} >= {"By URI", "Inline"}
    one = httpx.get(f"{url}/{by_uri.json()['id']}")
    assert one.json()["client_id"] == "phr-client-1" and one.json()["push"] is True
    for body in (by_uri.text, listed.text, one.text):
        assert "secret-push-token" not in body
    duplicate = httpx.post(url, json={"name": "Again", "jwks": jwks(), "client_id": "phr-client-1"})
    assert duplicate.status_code == 409
    assert httpx.get(f"{url}/no-such-id").status_code == 404


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": "x"}, "exactly one of jwks and jwks_uri"),
        ({"name": "x", "jwks": {"keys": []}, "jwks_uri": "https://a.example/j"}, "exactly one"),
        ({"name": "x", "jwks": {"keys": [{"kty": "EC", "use": "sig"}]}}, "no key with use"),
        ({"name": "x", "jwks": {"keys": "nope"}}, "'keys' array"),
        ({"name": "x", "jwks_uri": "http://phr.example/jwks"}, "https"),
        ({"name": "x", "jwks_uri": "http://127.0.0.1:9/jwks"}, "unreachable"),
        ({"name": "x", "jwks": "not an object"}, "jwks"),
        ({"name": "", "jwks": {"keys": []}}, "name"),
        ({"name": "x", "jwks": {"keys": []}, "endpoint": "ftp://phr.example/in"}, "endpoint"),
    ],
)
def test_refused_registrations(server: LiveServer, body: dict[str, object], message: str) -> None:
    r = httpx.post(f"{server.url}/phr/recipients", json=body)
    assert r.status_code == 400, r.text
    assert message in r.json()["message"] or message == r.json().get("parameter"), r.text
