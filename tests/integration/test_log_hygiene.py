"""Nothing identifying reaches the logs: no UIDs, patient names or IDs, tokens or codes.

Runs a mix of successful and refused requests against the live server (in this process, so
``caplog`` sees every record of every thread) and scans each record's final text.
"""

from __future__ import annotations

import io
import logging

import httpx
import pydicom
import pytest
from pydicom.uid import generate_uid

from tests import factory
from tests.conftest import LiveServer
from tests.integration.test_dicomweb_stow import multipart
from tests.smart_kit import SmartKit, bearer


def _stow(server: LiveServer, parts: list[bytes], token: dict, path: str = "/studies"):  # type: ignore[no-untyped-def,type-arg]
    body, boundary = multipart(parts)
    ctype = f'multipart/related; type="application/dicom"; boundary="{boundary}"'
    return httpx.post(
        f"{server.dicomweb}{path}", content=body, headers={"Content-Type": ctype, **bearer(token)}
    )


@pytest.fixture(scope="module")
def kit(live_server: LiveServer):  # type: ignore[no-untyped-def]
    k = SmartKit(live_server)
    yield k
    k.close()


def test_no_identifier_or_secret_in_any_log_record(
    kit: SmartKit, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    server = kit.server
    spec = factory.study("LOGPID-7731", "Secretname^Loggy")
    data = factory.files(spec)
    ds = pydicom.dcmread(io.BytesIO(data[0]))
    site_scope = "system/ImagingStudy.cruds"
    system = kit.backend_token(kit.backend(site_scope), site_scope)
    who = kit.patient("LOGPID-7731", "1970-01-01")
    scope = "launch/patient openid fhirUser patient/ImagingStudy.rs patient/Patient.rs"
    user = kit.authorize(kit.public_client(scope), who, scope)
    secrets = [
        spec.study_uid,
        ds.SeriesInstanceUID,
        ds.SOPInstanceUID,
        "LOGPID-7731",
        "Secretname",
        "SECRETNAME",
        system["access_token"],
        user["access_token"],
        who.password,
    ]

    assert _stow(server, data, system).status_code == 200
    other = str(generate_uid())
    secrets.append(other)
    assert _stow(server, data, system, f"/studies/{other}").status_code == 409
    base = server.dicomweb
    assert (
        httpx.get(
            f"{base}/studies", params={"PatientName": "Secretname*"}, headers=bearer(user)
        ).status_code
        == 200
    )
    assert httpx.get(f"{base}/studies/{other}/metadata", headers=bearer(user)).status_code == 404
    assert (
        httpx.get(
            f"{server.fhir}/Patient", params={"identifier": "LOGPID-7731"}, headers=bearer(user)
        ).status_code
        == 200
    )
    assert (
        httpx.get(
            f"{base}/studies", headers={"Authorization": "Bearer " + who.password}
        ).status_code
        == 401
    )

    # The server's records only: httpx/httpcore log this test's own requests (client side).
    ours = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    text = "\n".join(r.getMessage() + (r.exc_text or "") for r in ours)
    assert any(r.name == "imageshare.access" for r in ours), "no server records: vacuous scan"
    leaked = [s for s in secrets if s in text]
    assert leaked == []
