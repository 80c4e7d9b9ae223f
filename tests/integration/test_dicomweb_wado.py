"""WADO-RS retrieve, metadata, bulk data and DELETE on the live server."""

from __future__ import annotations

import io

import httpx
import pydicom
import pytest
from dicomweb_client.api import DICOMwebClient
from pydicom.uid import RLELossless, generate_uid

from app.demo import PatientSpec, SeriesSpec, StudySpec, study_files
from tests.conftest import LiveServer
from tests.integration.test_dicomweb_stow import stow

#: These tests are about archive behaviour; access control is tested in test_isolation.py
#: and test_smart_*.py, with authorization on.
SERVER_SETTINGS = {"auth": "off"}

DICOM_ANY = 'multipart/related; type="application/dicom"; transfer-syntax=*'


def parse_multipart(response: httpx.Response) -> list[tuple[dict[str, str], bytes]]:
    """Split a multipart/related body by its boundary (independent of the server's code)."""
    ctype = response.headers["content-type"]
    boundary = ctype.split("boundary=")[1].split(";")[0].strip('"')
    body = response.content
    chunks = body.split(f"--{boundary}".encode())
    assert chunks[-1].strip() in (b"--", b"--\r\n".strip())
    parts = []
    for chunk in chunks[1:-1]:
        assert chunk.startswith(b"\r\n") and chunk.endswith(b"\r\n")
        head, _, content = chunk[2:-2].partition(b"\r\n\r\n")
        headers = {}
        for line in head.decode().split("\r\n"):
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        parts.append((headers, content))
    return parts


@pytest.fixture(scope="module")
def stored(live_server: LiveServer) -> tuple[StudySpec, list[bytes]]:
    spec = StudySpec(
        PatientSpec("WADO-1", "Wado^Test"),
        [SeriesSpec("CT", 3, 32, 32), SeriesSpec("MR", 2, 16, 16)],
        study_uid=str(generate_uid()),
        with_pdf_report=True,
    )
    data = list(study_files(spec))
    assert stow(live_server, data).status_code == 200
    return spec, data


@pytest.fixture(scope="module")
def compressed(live_server: LiveServer) -> tuple[StudySpec, list[bytes]]:
    spec = StudySpec(
        PatientSpec("WADO-2", "Rle^Test"),
        [SeriesSpec("CT", 2, 16, 16, "rle", RLELossless)],
        study_uid=str(generate_uid()),
    )
    data = list(study_files(spec))
    assert stow(live_server, data).status_code == 200
    return spec, data


def test_study_retrieve_is_byte_identical(live_server: LiveServer, stored) -> None:  # type: ignore[no-untyped-def]
    spec, data = stored
    r = httpx.get(f"{live_server.dicomweb}/studies/{spec.study_uid}", headers={"Accept": DICOM_ANY})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith('multipart/related; type="application/dicom"')
    parts = parse_multipart(r)
    assert sorted(p[1] for p in parts) == sorted(data)
    assert all(
        p[0]["content-type"].startswith("application/dicom; transfer-syntax=") for p in parts
    )


def test_retrieve_with_dicomweb_client(live_server: LiveServer, stored) -> None:  # type: ignore[no-untyped-def]
    spec, data = stored
    client = DICOMwebClient(live_server.dicomweb)
    got = client.retrieve_study(spec.study_uid)
    assert {d.SOPInstanceUID for d in got} == {
        pydicom.dcmread(io.BytesIO(b)).SOPInstanceUID for b in data
    }
    first = pydicom.dcmread(io.BytesIO(data[0]))
    one = client.retrieve_instance(spec.study_uid, first.SeriesInstanceUID, first.SOPInstanceUID)
    assert one.PatientName == "Wado^Test"
    series = client.retrieve_series(spec.study_uid, first.SeriesInstanceUID)
    assert len(series) == 3


def test_default_syntax_transcodes_and_406_when_impossible(
    live_server: LiveServer, compressed
) -> None:  # type: ignore[no-untyped-def]
    spec, data = compressed
    url = f"{live_server.dicomweb}/studies/{spec.study_uid}"
    # No transfer-syntax: Explicit VR Little Endian (PS3.18 §8.7.3.5.2), decoded from RLE.
    plain = httpx.get(url, headers={"Accept": 'multipart/related; type="application/dicom"'})
    assert plain.status_code == 200
    originals = {d.SOPInstanceUID: d for d in (pydicom.dcmread(io.BytesIO(b)) for b in data)}
    for headers, body in parse_multipart(plain):
        assert headers["content-type"] == "application/dicom; transfer-syntax=1.2.840.10008.1.2.1"
        got = pydicom.dcmread(io.BytesIO(body))
        assert got.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
        assert (got.pixel_array == originals[got.SOPInstanceUID].pixel_array).all()
    # JPEG Baseline holds 8 bits; these CT slices have 12 bits stored: cannot be produced.
    jpeg = httpx.get(
        url,
        headers={
            "Accept": 'multipart/related; type="application/dicom"; '
            "transfer-syntax=1.2.840.10008.1.2.4.50"
        },
    )
    assert jpeg.status_code == 406
    as_stored = httpx.get(url, headers={"Accept": DICOM_ANY})
    assert sorted(p[1] for p in parse_multipart(as_stored)) == sorted(data)
    named = httpx.get(
        url,
        headers={
            "Accept": f'multipart/related; type="application/dicom"; transfer-syntax={RLELossless}'
        },
    )
    assert named.status_code == 200


def test_unacceptable_media_type_is_406(live_server: LiveServer, stored) -> None:  # type: ignore[no-untyped-def]
    spec, _ = stored
    r = httpx.get(
        f"{live_server.dicomweb}/studies/{spec.study_uid}", headers={"Accept": "image/png"}
    )
    assert r.status_code == 406


def test_unknown_uids_are_404(live_server: LiveServer, stored) -> None:  # type: ignore[no-untyped-def]
    spec, _ = stored
    other = str(generate_uid())
    for path in (
        f"/studies/{other}",
        f"/studies/{other}/metadata",
        f"/studies/{spec.study_uid}/series/{other}",
        f"/studies/{spec.study_uid}/series/{other}/metadata",
    ):
        assert (
            httpx.get(
                live_server.dicomweb + path,
                headers={
                    "Accept": DICOM_ANY if "metadata" not in path else "application/dicom+json"
                },
            ).status_code
            == 404
        ), path


def test_metadata_matches_dataset(live_server: LiveServer, stored) -> None:  # type: ignore[no-untyped-def]
    spec, data = stored
    r = httpx.get(f"{live_server.dicomweb}/studies/{spec.study_uid}/metadata")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/dicom+json")
    objects = {o["00080018"]["Value"][0]: o for o in r.json()}
    assert len(objects) == len(data)
    for raw in data:
        ds = pydicom.dcmread(io.BytesIO(raw))
        obj = objects[ds.SOPInstanceUID]
        expected = ds.to_json_dict(
            bulk_data_threshold=1024, bulk_data_element_handler=lambda e: "uri"
        )
        for key, value in expected.items():
            if "BulkDataURI" in value or key in ("7FE00010", "00420011"):  # always by reference
                assert obj[key]["BulkDataURI"].startswith(f"{live_server.url}/dicomweb/studies/")
            else:
                assert obj[key] == value, key
        if "PixelData" in ds:
            assert "InlineBinary" not in obj["7FE00010"]


def test_metadata_etag_and_304(live_server: LiveServer, stored) -> None:  # type: ignore[no-untyped-def]
    spec, _ = stored
    url = f"{live_server.dicomweb}/studies/{spec.study_uid}/metadata"
    first = httpx.get(url)
    etag = first.headers["etag"]
    again = httpx.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""


def test_series_and_instance_metadata(live_server: LiveServer, stored) -> None:  # type: ignore[no-untyped-def]
    spec, data = stored
    ds = pydicom.dcmread(io.BytesIO(data[0]))
    client = DICOMwebClient(live_server.dicomweb)
    series = client.retrieve_series_metadata(spec.study_uid, ds.SeriesInstanceUID)
    assert len(series) == 3
    inst = client.retrieve_instance_metadata(
        spec.study_uid, ds.SeriesInstanceUID, ds.SOPInstanceUID
    )
    assert inst["00080018"]["Value"] == [ds.SOPInstanceUID]


def test_bulkdata_uris_resolve(live_server: LiveServer, stored) -> None:  # type: ignore[no-untyped-def]
    spec, data = stored
    objects = httpx.get(f"{live_server.dicomweb}/studies/{spec.study_uid}/metadata").json()
    by_uid = {
        pydicom.dcmread(io.BytesIO(b)).SOPInstanceUID: pydicom.dcmread(io.BytesIO(b)) for b in data
    }
    pixel_obj = next(o for o in objects if "7FE00010" in o)
    ds = by_uid[pixel_obj["00080018"]["Value"][0]]
    r = httpx.get(pixel_obj["7FE00010"]["BulkDataURI"])
    assert r.status_code == 200
    ((headers, content),) = parse_multipart(r)
    assert headers["content-type"] == "application/octet-stream"
    assert content == ds.PixelData
    pdf_obj = next(o for o in objects if "00420011" in o)
    pdf = by_uid[pdf_obj["00080018"]["Value"][0]]
    raw = httpx.get(
        pdf_obj["00420011"]["BulkDataURI"], headers={"Accept": "application/octet-stream"}
    )
    assert raw.content == pdf.EncapsulatedDocument
    assert raw.content.startswith(b"%PDF")
    missing = httpx.get(pixel_obj["7FE00010"]["BulkDataURI"].replace("7FE00010", "00100010"))
    assert missing.status_code == 404


def test_cors_on_responses_and_preflight(live_server: LiveServer, stored) -> None:  # type: ignore[no-untyped-def]
    spec, _ = stored
    origin = {"Origin": "http://viewer.example"}
    r = httpx.get(f"{live_server.dicomweb}/studies/{spec.study_uid}/metadata", headers=origin)
    assert r.headers["access-control-allow-origin"] in ("*", "http://viewer.example")
    err = httpx.get(f"{live_server.dicomweb}/studies/{generate_uid()}/metadata", headers=origin)
    assert err.status_code == 404
    assert "access-control-allow-origin" in err.headers
    pre = httpx.options(
        f"{live_server.dicomweb}/studies",
        headers={
            **origin,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert pre.status_code == 200
    assert "GET" in pre.headers["access-control-allow-methods"]


def test_delete_levels(live_server: LiveServer) -> None:
    spec = StudySpec(
        PatientSpec("DEL-1", "Del^Me"),
        [SeriesSpec("CT", 2, 16, 16), SeriesSpec("CT", 2, 16, 16)],
        study_uid=str(generate_uid()),
    )
    data = [pydicom.dcmread(io.BytesIO(b)) for b in study_files(spec)]
    assert stow(live_server, list(study_files(spec))).status_code == 200
    base = f"{live_server.dicomweb}/studies/{spec.study_uid}"
    one = data[0]
    assert (
        httpx.delete(
            f"{base}/series/{one.SeriesInstanceUID}/instances/{one.SOPInstanceUID}"
        ).status_code
        == 204
    )
    (study,) = httpx.get(
        f"{live_server.dicomweb}/studies", params={"StudyInstanceUID": spec.study_uid}
    ).json()
    assert study["00201208"]["Value"] == [3]
    assert httpx.delete(f"{base}/series/{data[2].SeriesInstanceUID}").status_code == 204
    (study,) = httpx.get(
        f"{live_server.dicomweb}/studies", params={"StudyInstanceUID": spec.study_uid}
    ).json()
    assert study["00201206"]["Value"] == [1]
    assert httpx.delete(base).status_code == 204
    assert httpx.delete(base).status_code == 404
    assert httpx.get(f"{base}/metadata").status_code == 404
    blobs = list((live_server.settings.blob_dir / spec.study_uid).rglob("*.dcm"))
    assert blobs == []
