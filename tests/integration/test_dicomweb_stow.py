"""STOW-RS against the live server, with dicomweb-client and raw HTTP for the error cases."""

from __future__ import annotations

import io
import uuid

import httpx
import pydicom
import pytest
from dicomweb_client.api import DICOMwebClient
from pydicom.uid import generate_uid

from tests import factory
from tests.conftest import LiveServer, run_server

#: These tests are about archive behaviour; access control is tested in test_isolation.py
#: and test_smart_*.py, with authorization on.
SERVER_SETTINGS = {"auth": "off"}


def multipart(
    parts: list[bytes], boundary: str | None = None, ctype: str = "application/dicom"
) -> tuple[bytes, str]:
    boundary = boundary or uuid.uuid4().hex
    body = b""
    for p in parts:
        body += f"--{boundary}\r\nContent-Type: {ctype}\r\n\r\n".encode() + p + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return body, boundary


def stow(
    server: LiveServer, parts: list[bytes], path: str = "/studies", content_type: str | None = None
) -> httpx.Response:
    body, boundary = multipart(parts)
    ctype = content_type or f'multipart/related; type="application/dicom"; boundary="{boundary}"'
    return httpx.post(
        server.dicomweb + path,
        content=body,
        headers={"Content-Type": ctype, "Accept": "application/dicom+json"},
    )


def test_store_with_dicomweb_client(live_server: LiveServer) -> None:
    spec = factory.study("STOW-1", series=2, per_series=2)
    client = DICOMwebClient(live_server.dicomweb)
    response = client.store_instances(factory.datasets(spec))
    referenced = response.ReferencedSOPSequence
    assert len(referenced) == 4
    assert "FailedSOPSequence" not in response
    for item in referenced:
        assert item.RetrieveURL.startswith(f"{live_server.url}/dicomweb/studies/{spec.study_uid}/")
    assert response.RetrieveURL == f"{live_server.url}/dicomweb/studies/{spec.study_uid}"


def test_identical_restore_is_not_duplicated(live_server: LiveServer) -> None:
    spec = factory.study("STOW-2")
    data = factory.files(spec)
    assert stow(live_server, data).status_code == 200
    again = stow(live_server, data)
    assert again.status_code == 200
    meta = httpx.get(f"{live_server.dicomweb}/studies/{spec.study_uid}/metadata")
    assert len(meta.json()) == len(data)


def test_different_object_same_uid_refused(live_server: LiveServer) -> None:
    spec = factory.study("STOW-3", per_series=1)
    data = factory.files(spec)[0]
    assert stow(live_server, [data]).status_code == 200
    ds = pydicom.dcmread(io.BytesIO(data))
    ds.PatientName = "Changed^Name"
    buf = io.BytesIO()
    ds.save_as(buf)
    r = stow(live_server, [buf.getvalue()])
    assert r.status_code == 409
    failed = r.json()["00081198"]["Value"][0]
    assert failed["00081197"]["Value"] == [0x0111]
    assert failed["00081155"]["Value"] == [ds.SOPInstanceUID]
    assert "different object" in r.headers["warning"]


def test_overwrite_when_configured(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with run_server(tmp_path, auth="off", stow_overwrite=True) as server:
        spec = factory.study("STOW-4", per_series=1)
        data = factory.files(spec)[0]
        assert stow(server, [data]).status_code == 200
        ds = pydicom.dcmread(io.BytesIO(data))
        ds.PatientName = "Changed^Name"
        buf = io.BytesIO()
        ds.save_as(buf)
        assert stow(server, [buf.getvalue()]).status_code == 200
        url = (
            f"{server.dicomweb}/studies/{spec.study_uid}/series/{ds.SeriesInstanceUID}"
            f"/instances/{ds.SOPInstanceUID}"
        )
        got = httpx.get(url, headers={"Accept": 'multipart/related; type="application/dicom"'})
        assert buf.getvalue() in got.content
        blobs = list((tmp_path / "data" / "blobs").rglob("*.dcm"))
        assert len(blobs) == 1


def test_partial_failure_keeps_good_parts(live_server: LiveServer) -> None:
    spec = factory.study("STOW-5", per_series=2)
    good = factory.files(spec)
    r = stow(live_server, [good[0], b"not dicom at all", good[1]])
    assert r.status_code == 202
    body = r.json()
    assert len(body["00081199"]["Value"]) == 2
    assert body["00081198"]["Value"][0]["00081197"]["Value"] == [0xC000]
    meta = httpx.get(f"{live_server.dicomweb}/studies/{spec.study_uid}/metadata")
    assert len(meta.json()) == 2


def test_study_mismatch_is_409(live_server: LiveServer) -> None:
    spec = factory.study("STOW-6", per_series=1)
    other = str(generate_uid())
    r = stow(live_server, factory.files(spec), path=f"/studies/{other}")
    assert r.status_code == 409
    assert r.json()["00081198"]["Value"][0]["00081197"]["Value"] == [0xA900]
    assert httpx.get(f"{live_server.dicomweb}/studies/{spec.study_uid}/metadata").status_code == 404


def test_missing_uid_refused(live_server: LiveServer) -> None:
    spec = factory.study("STOW-7", per_series=1)
    ds = factory.datasets(spec)[0]
    del ds.SeriesInstanceUID
    buf = io.BytesIO()
    ds.save_as(buf)
    r = stow(live_server, [buf.getvalue()])
    assert r.status_code == 409
    assert "SeriesInstanceUID" in r.headers["warning"]


def test_invalid_uid_refused(live_server: LiveServer) -> None:
    spec = factory.study("STOW-8", per_series=1)
    data = factory.files(spec)[0]
    bad = data.replace(spec.study_uid.encode(), b"1.2.03.4" + b"\0" * (len(spec.study_uid) - 8))
    r = stow(live_server, [bad])
    assert r.status_code == 409


@pytest.mark.parametrize(
    "ctype",
    [
        "application/dicom",
        'multipart/related; type="application/dicom+xml"; boundary=x',
        "text/plain",
    ],
)
def test_wrong_media_type_is_415(live_server: LiveServer, ctype: str) -> None:
    r = httpx.post(live_server.dicomweb + "/studies", content=b"x", headers={"Content-Type": ctype})
    assert r.status_code == 415


def test_broken_multipart_is_400_and_stores_nothing(live_server: LiveServer) -> None:
    spec = factory.study("STOW-9", per_series=1)
    body, boundary = multipart(factory.files(spec))
    truncated = body[: len(body) // 2]
    r = httpx.post(
        live_server.dicomweb + "/studies",
        content=truncated,
        headers={"Content-Type": f"multipart/related; type=application/dicom; boundary={boundary}"},
    )
    assert r.status_code == 400
    assert httpx.get(f"{live_server.dicomweb}/studies/{spec.study_uid}/metadata").status_code == 404
    assert not list((live_server.settings.tmp_dir).glob("*.part"))


def test_missing_boundary_is_400(live_server: LiveServer) -> None:
    r = httpx.post(
        live_server.dicomweb + "/studies",
        content=b"x",
        headers={"Content-Type": 'multipart/related; type="application/dicom"'},
    )
    assert r.status_code == 400


@pytest.mark.parametrize(
    "template",
    [
        "multipart/related; type=application/dicom; boundary={b}",
        'Multipart/Related; Boundary="{b}"; Type="application/dicom"',
        'multipart/related;boundary={b};type="application/dicom";start="<x>";transfer-syntax=1.2.840.10008.1.2.1',
    ],
)
def test_content_type_parameter_variants(live_server: LiveServer, template: str) -> None:
    spec = factory.study("STOW-10", per_series=1)
    body, boundary = multipart(factory.files(spec))
    r = httpx.post(
        live_server.dicomweb + "/studies",
        content=body,
        headers={"Content-Type": template.format(b=boundary)},
    )
    assert r.status_code == 200, r.text
