"""Push to a PHR on the live server, with the example receiver on another loopback port: the
package arrives whole and byte-identical, the outbox retries what it should and stops on what it
should, and whatever a relay sees (or tampers with) is ciphertext."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pydicom
import pytest
from fhir.resources.R4B.bundle import Bundle
from jwcrypto import jwe
from python_multipart.multipart import parse_options_header

from app.demo import study_files
from examples.phr_receiver import keys as keyfile
from tests import phr_kit
from tests.conftest import LiveServer, free_port, run_server
from tests.imaging import stow
from tests.phr_kit import Receiver, deliver, final, make_receiver, register, serve, wait_until


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with run_server(tmp_path_factory.mktemp("phr-push"), **phr_kit.FAST) as live:
        yield live


def _store(server: LiveServer, patient: str = "PHR-P1") -> tuple[str, list[bytes]]:
    spec = phr_kit.multi_series(patient)
    files = list(study_files(spec))
    stow(server, files)
    return spec.study_uid, files


def _recipient(server: LiveServer, receiver: Receiver, **extra: object) -> str:
    body = {
        "name": "Example PHR",
        "jwks_uri": f"{receiver.url}/.well-known/jwks.json",
        "endpoint": f"{receiver.url}/deliveries",
        **extra,
    }
    return register(server, body)


def test_push_arrives_whole_and_byte_identical(server: LiveServer, tmp_path: Path) -> None:
    uid, files = _store(server)
    captured: list[bytes] = []

    def capture(chunk: bytes) -> bytes:
        captured.append(chunk)
        return chunk

    receiver = make_receiver(tmp_path / "store", mutate=capture)
    with serve(receiver.gate) as receiver.url:
        job = deliver(server, uid, _recipient(server, receiver))
        view = wait_until(server, job, final)
    assert view["state"] == "delivered", view
    assert view["attempts"] == 1 and view["files"] == 14 and view["delivered"]
    assert [a["outcome"] for a in view["attempt_log"]] == ["delivered"]
    assert receiver.packages() == [job]
    assert receiver.dicom(job) == sorted(files)
    listed = httpx.get(f"{server.url}/phr/deliveries").json()
    assert job in [d["id"] for d in listed]

    # Independently of the example receiver: split the captured body and open every part
    # with jwcrypto and the receiver's private key.
    body = b"".join(captured)
    parts = _parts(body, receiver.gate.requests[0]["content-type"])
    assert receiver.gate.requests[0]["idempotency-key"] == job
    manifest = json.loads(parts[0][1])
    assert manifest["id"] == job and len(manifest["files"]) == len(parts) - 1 == 14
    opened = []
    for (headers, token), entry in zip(parts[1:], manifest["files"], strict=True):
        assert headers["content-type"] == "application/jose"
        assert entry["location"] == f"cid:{headers['content-id'].strip('<>')}"
        obj = jwe.JWE()
        obj.deserialize(token.decode(), key=receiver.config.keys)
        assert obj.jose_header["enc"] == "A256GCM" and "zip" not in obj.jose_header
        assert obj.jose_header["cty"] == entry["contentType"]
        opened.append((entry, obj.payload))
    bundle = json.loads(opened[0][1])
    Bundle.model_validate(bundle)
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds == ["Patient", "ImagingStudy", "DocumentReference", "Endpoint"]
    report = next(p for e, p in opened if e["contentType"] == "application/pdf")
    pdf_instance = pydicom.dcmread(io.BytesIO(next(f for f in files if b"%PDF" in f)))
    doc = bytes(pdf_instance.EncapsulatedDocument)
    assert report == doc[: pdf_instance.EncapsulatedDocumentLength]
    whole = {p for e, p in opened if e["contentType"] == "application/dicom" and "part" not in e}
    groups: dict[int, list[bytes]] = {}
    for e, p in opened:
        if "part" in e:
            groups.setdefault(e["part"]["group"], []).append(p)
    assert len(groups) == 2
    assert sorted(whole | {b"".join(g) for g in groups.values()}) == sorted(files)


def _parts(body: bytes, content_type: str) -> list[tuple[dict[str, str], bytes]]:
    _, params = parse_options_header(content_type)
    boundary = b"--" + params[b"boundary"]
    out = []
    for chunk in body.split(boundary)[1:-1]:
        head, _, payload = chunk.strip(b"\r\n").partition(b"\r\n\r\n")
        headers = {}
        for line in head.decode().split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        out.append((headers, payload))
    return out


def _inline(receiver: Receiver) -> dict[str, object]:
    return keyfile.public_jwks(receiver.config.keys)


def test_receiver_down_then_up_is_delivered_once(server: LiveServer, tmp_path: Path) -> None:
    uid, files = _store(server, "PHR-DOWN")
    port = free_port()
    receiver = make_receiver(tmp_path / "store")
    url = f"http://127.0.0.1:{port}"
    recipient = register(
        server, {"name": "Down PHR", "jwks": _inline(receiver), "endpoint": f"{url}/deliveries"}
    )
    job = deliver(server, uid, recipient)
    view = wait_until(server, job, lambda v: v["attempts"] >= 2)
    assert view["state"] == "sending" and "network error" in view["detail"]
    with serve(receiver.gate, port) as receiver.url:
        view = wait_until(server, job, final)
    assert view["state"] == "delivered", view
    outcomes = [a["outcome"] for a in view["attempt_log"]]
    assert outcomes[-1] == "delivered" and set(outcomes[:-1]) == {"retry"}
    assert receiver.gate.seen == 1 and receiver.packages() == [job]
    assert receiver.dicom(job) == sorted(files)


def test_5xx_is_retried_and_stored_once(server: LiveServer, tmp_path: Path) -> None:
    uid, files = _store(server, "PHR-BUSY")
    receiver = make_receiver(tmp_path / "store", fail_first=2)
    with serve(receiver.gate) as receiver.url:
        job = deliver(server, uid, _recipient(server, receiver))
        view = wait_until(server, job, final)
    assert view["state"] == "delivered", view
    log = [(a["outcome"], a["http_status"]) for a in view["attempt_log"]]
    assert log == [("retry", 503), ("retry", 503), ("delivered", 200)]
    # every try carried the same delivery id, so a receiver can tell repeats apart
    assert {r["idempotency-key"] for r in receiver.gate.requests} == {job}
    assert [e["body"]["status"] for e in receiver.config.log] == ["stored"]
    assert receiver.packages() == [job] and receiver.dicom(job) == sorted(files)


def test_4xx_stops_with_the_reason(server: LiveServer, tmp_path: Path) -> None:
    uid, _ = _store(server, "PHR-401")
    receiver = make_receiver(tmp_path / "store", push_token="the-right-token")
    with serve(receiver.gate) as receiver.url:
        job = deliver(server, uid, _recipient(server, receiver, push_token="a-wrong-token"))
        view = wait_until(server, job, final)
    assert view["state"] == "failed" and view["attempts"] == 1
    assert "HTTP 401" in view["detail"] and "push token" in view["detail"]
    assert receiver.gate.requests[0]["authorization"] == "Bearer a-wrong-token"
    assert receiver.packages() == []


def test_push_token_is_presented(server: LiveServer, tmp_path: Path) -> None:
    uid, files = _store(server, "PHR-TOKEN")
    receiver = make_receiver(tmp_path / "store", push_token="the-right-token")
    with serve(receiver.gate) as receiver.url:
        job = deliver(server, uid, _recipient(server, receiver, push_token="the-right-token"))
        assert wait_until(server, job, final)["state"] == "delivered"
    assert receiver.dicom(job) == sorted(files)


def _flip_ciphertext(chunk: bytes) -> bytes:
    """Change one character inside the first JWE's ciphertext (a hostile relay)."""
    start = chunk.find(b"Content-Type: application/jose")
    if start < 0:
        return chunk
    body = chunk.index(b"\r\n\r\n", start) + 4
    ciphertext = body
    for _ in range(3):
        ciphertext = chunk.index(b".", ciphertext) + 1
    i = ciphertext + 10
    swapped = b"B" if chunk[i : i + 1] != b"B" else b"C"
    return chunk[:i] + swapped + chunk[i + 1 :]


def test_tampering_in_transit_is_detected(server: LiveServer, tmp_path: Path) -> None:
    uid, _ = _store(server, "PHR-TAMPER")
    receiver = make_receiver(tmp_path / "store", mutate=_flip_ciphertext)
    with serve(receiver.gate) as receiver.url:
        job = deliver(server, uid, _recipient(server, receiver))
        view = wait_until(server, job, final)
    assert view["state"] == "failed", view
    assert "HTTP 400" in view["detail"] and "failed decryption" in view["detail"]
    assert receiver.config.log[0]["status"] == 400
    assert receiver.packages() == []
    assert not any((receiver.store / ".staging").iterdir())


def test_wrong_key_cannot_open(server: LiveServer, tmp_path: Path) -> None:
    """Registered with one key pair, while the receiver holds another with the same kid."""
    uid, _ = _store(server, "PHR-WRONGKEY")
    registered = keyfile.private_set(keyfile.generate("X25519", kid="phr-key"))
    receiver = make_receiver(
        tmp_path / "store", keyfile.private_set(keyfile.generate("X25519", kid="phr-key"))
    )
    with serve(receiver.gate) as receiver.url:
        body = {
            "name": "Wrong key PHR",
            "jwks": keyfile.public_jwks(registered),
            "endpoint": f"{receiver.url}/deliveries",
        }
        job = deliver(server, uid, register(server, body))
        view = wait_until(server, job, final)
    assert view["state"] == "failed" and "failed decryption" in view["detail"]
    assert receiver.packages() == []


def test_gives_up_after_max_attempts(server: LiveServer) -> None:
    uid, _ = _store(server, "PHR-NEVER")
    keys = keyfile.private_set(keyfile.generate())
    endpoint = f"http://127.0.0.1:{free_port()}/deliveries"
    recipient = register(
        server, {"name": "Never up", "jwks": keyfile.public_jwks(keys), "endpoint": endpoint}
    )
    job = deliver(server, uid, recipient)
    view = wait_until(server, job, final)
    assert view["state"] == "failed" and view["attempts"] == 6
    assert view["detail"].startswith("gave up after 6 attempts")
    spool = server.settings.phr_spool_dir
    assert not (spool / f"{job}.body").exists()


def test_only_ciphertext_on_disk_and_nothing_identifying_in_logs(
    server: LiveServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    spec = phr_kit.multi_series("PHR-SECRET-ID", "Secretname^Patient")
    files = list(study_files(spec))
    stow(server, files)
    receiver = make_receiver(tmp_path / "store", hold="before_answer")
    with serve(receiver.gate) as receiver.url:
        job = deliver(server, spec.study_uid, _recipient(server, receiver))
        assert receiver.gate.arrived.wait(30)
        spooled = list(server.settings.phr_spool_dir.iterdir())
        assert [p.name for p in spooled] == [f"{job}.body"]
        raw = spooled[0].read_bytes()
        receiver.gate.release.set()
        view = wait_until(server, job, final)
    assert view["state"] == "delivered"
    series = {pydicom.dcmread(io.BytesIO(f)).SeriesInstanceUID for f in files}
    secrets = [b"DICM", b"%PDF", b"PHR-SECRET-ID", b"Secretname", spec.study_uid.encode()]
    secrets += [s.encode() for s in series]
    for secret in secrets:
        assert secret not in raw
    assert not any(server.settings.phr_spool_dir.iterdir())  # removed once delivered
    logged = caplog.text
    for text in ("PHR-SECRET-ID", "Secretname", spec.study_uid, *series):
        assert text not in logged


def test_delivery_requests_are_checked(server: LiveServer, tmp_path: Path) -> None:
    uid, _ = _store(server, "PHR-CHECKS")
    keys = keyfile.public_jwks(keyfile.private_set(keyfile.generate()))
    pull_only = register(server, {"name": "Pull only", "jwks": keys})
    push = register(server, {"name": "Push", "jwks": keys, "endpoint": "https://phr.example/in"})
    url = f"{server.url}/phr/deliveries"
    cases = [
        ({"study": "1.2.3.999", "recipient": push}, 404),
        ({"study": uid, "recipient": "nope"}, 400),
        ({"study": uid, "recipient": pull_only}, 400),
        ({"study": "not a uid", "recipient": push}, 400),
        ({"study": uid}, 400),
    ]
    for body, status in cases:
        r = httpx.post(url, json=body)
        assert r.status_code == status, (body, r.text)
    broken = httpx.post(url, content=b"{", headers={"content-type": "application/json"})
    assert broken.status_code == 400
    assert httpx.get(f"{url}/0b8e3cbb-5d35-4a33-9b3c-6c0b4a3f4f4e").status_code == 404
    disabled = httpx.post(f"{server.url}/phr/recipients/{push}/disable")
    assert disabled.status_code == 200 and disabled.json()["disabled"] is True
    assert httpx.post(url, json={"study": uid, "recipient": push}).status_code == 400
