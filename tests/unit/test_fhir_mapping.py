"""The pure mapping from index rows to FHIR resources, validated with fhir.resources R4B."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from app.fhir.binary import binary_resource
from app.fhir.document_reference import DocumentRow, IndexRow, document_reference, entry_uuid
from app.fhir.endpoint import REQUIRES_ACCESS_TOKEN_URL, endpoint_resource
from app.fhir.imaging_study import InstanceRow, SeriesRow, StudyRow, imaging_study
from app.fhir.patient import PatientRow, human_name, identifier_system, patient_resource
from app.fhir.resource import Context, fhir_date, instant
from tests.fhir_helpers import check_profile, check_resource, load_profile

CTX = Context("https://images.example.org")
T = datetime(2026, 3, 4, 5, 6, 7, 890000, tzinfo=UTC)
UID = "1.2.826.0.1.3680043.8.498.1"


def study_row(**kw: object) -> StudyRow:
    values: dict[str, object] = {
        "uid": UID,
        "patient_id": "abc123",
        "date": "20240110",
        "accession": "A-1001",
        "description": "CT head",
        "referrer": "Grey^Meredith^^Dr",
        "modalities": "CT\\SR",
        "n_series": 1,
        "n_instances": 2,
        "version": 3,
        "updated_at": T,
        "series": [
            SeriesRow(
                f"{UID}.1",
                1,
                "CT",
                "Axial",
                "HEAD",
                "20240110",
                2,
                [
                    InstanceRow(f"{UID}.1.2", "1.2.840.10008.5.1.4.1.1.2", 2),
                    InstanceRow(f"{UID}.1.1", "1.2.840.10008.5.1.4.1.1.2", None),
                ],
            )
        ],
    }
    values.update(kw)
    return StudyRow(**values)  # type: ignore[arg-type]


def test_imaging_study_carries_smart_imaging_access_essentials() -> None:
    r = check_resource(imaging_study(study_row(), CTX))
    assert r["id"] == UID
    assert {"system": "urn:dicom:uid", "value": f"urn:oid:{UID}"} in r["identifier"]
    acsn = [i for i in r["identifier"] if i.get("type")]
    assert acsn[0]["value"] == "A-1001"
    assert acsn[0]["type"]["coding"][0]["code"] == "ACSN"
    assert r["endpoint"] == [{"reference": "Endpoint/dicomweb"}]
    assert r["subject"] == {"reference": "Patient/abc123"}
    assert [m["code"] for m in r["modality"]] == ["CT", "SR"]
    assert r["started"] == "2024-01-10"
    assert r["referrer"] == {"display": "Meredith Grey"}
    assert r["meta"]["versionId"] == "3"
    assert r["meta"]["lastUpdated"] == "2026-03-04T05:06:07.890Z"
    series = r["series"][0]
    assert series["bodySite"] == {"display": "HEAD"}
    assert series["instance"][0]["sopClass"] == {
        "system": "urn:ietf:rfc:3986",
        "code": "urn:oid:1.2.840.10008.5.1.4.1.1.2",
    }
    assert "number" not in series["instance"][1]
    assert check_profile(r, load_profile("imageshare-imagingstudy")) == []


def test_imaging_study_without_optional_values() -> None:
    row = study_row(accession="", date="", referrer="", description="", modalities="", series=[])
    r = check_resource(imaging_study(row, CTX))
    assert r["identifier"] == [{"system": "urn:dicom:uid", "value": f"urn:oid:{UID}"}]
    assert "started" not in r and "referrer" not in r and "description" not in r
    assert r["modality"] == [
        {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "OT"}
    ]


@pytest.mark.parametrize(
    ("issuer", "system"),
    [
        ("", None),
        ("1.2.840.113619.6.1", "urn:oid:1.2.840.113619.6.1"),
        ("http://hospital.example.org/mrn", "http://hospital.example.org/mrn"),
        ("urn:oid:1.2.3", "urn:oid:1.2.3"),
        ("St. Elsewhere", None),
    ],
)
def test_identifier_system_from_issuer(issuer: str, system: str | None) -> None:
    assert identifier_system(issuer) == system


def test_patient_from_dicom_patient_module() -> None:
    row = PatientRow(
        1, "p1", "PAT-2", "St. Elsewhere", "Müller^Zoë^Anna^Dr^PhD=ミュラー", "19920730", "F", 2, T
    )
    r = check_resource(patient_resource(row))
    ident = r["identifier"][0]
    assert ident["value"] == "PAT-2" and "system" not in ident
    assert ident["assigner"] == {"display": "St. Elsewhere"}
    assert r["name"] == [
        {
            "text": "Dr Zoë Anna Müller PhD",
            "family": "Müller",
            "given": ["Zoë", "Anna"],
            "prefix": ["Dr"],
            "suffix": ["PhD"],
        }
    ]
    assert r["gender"] == "female" and r["birthDate"] == "1992-07-30"
    assert check_profile(r, load_profile("imageshare-patient")) == []


def test_patient_with_empty_type_2_values() -> None:
    r = check_resource(patient_resource(PatientRow(1, "p1", "", "", "", "", "", 1, T)))
    assert set(r) == {"resourceType", "id", "meta"}
    assert human_name("^^^") is None


def doc_row(**kw: object) -> DocumentRow:
    values: dict[str, object] = dict(
        resource_id="0123456789abcdef0123456789abcdef",
        patient_id="p1",
        status="current",
        master_system="urn:ietf:rfc:3986",
        master_value="urn:oid:1.2.3.4",
        title="Report",
        description="Report",
        content_type="application/pdf",
        language="",
        creation_date="20240110",
        service_date="20240109",
        date=T,
        version=1,
        updated_at=T,
        binary_id="b1",
        size=10,
        sha1="AAAA",
        index=[
            IndexRow("type", "http://loinc.org", "18748-4", "Diagnostic imaging study"),
            IndexRow("category", "http://loinc.org", "LP29684-5", "Radiology"),
            IndexRow("related", "urn:dicom:uid", UID),
        ],
    )
    values.update(kw)
    return DocumentRow(**values)  # type: ignore[arg-type]


def test_derived_document_reference_is_mhd_minimal_shaped() -> None:
    r = check_resource(document_reference(doc_row(), CTX))
    assert r["masterIdentifier"] == {
        "use": "usual",
        "system": "urn:ietf:rfc:3986",
        "value": "urn:oid:1.2.3.4",
    }
    assert r["identifier"] == [
        {
            "use": "official",
            "system": "urn:ietf:rfc:3986",
            "value": "urn:uuid:01234567-89ab-cdef-0123-456789abcdef",
        }
    ]
    assert "docStatus" not in r
    att = r["content"][0]["attachment"]
    assert att == {
        "contentType": "application/pdf",
        "url": "https://images.example.org/fhir/Binary/b1",
        "size": 10,
        "hash": "AAAA",
        "title": "Report",
        "creation": "2024-01-10",
    }
    assert r["type"]["coding"][0]["code"] == "18748-4"
    assert r["category"][0]["coding"][0]["code"] == "LP29684-5"
    assert r["context"]["related"][0]["reference"] == f"ImagingStudy/{UID}"
    assert r["context"]["period"] == {"start": "2024-01-09", "end": "2024-01-09"}
    assert check_profile(r, load_profile("imageshare-documentreference")) == []


def test_posted_document_keeps_client_elements_but_not_server_owned_ones() -> None:
    posted = {
        "docStatus": "final",
        "type": {"text": "Letter"},
        "identifier": [
            {
                "system": "urn:ietf:rfc:3986",
                "value": "urn:uuid:11111111-1111-1111-1111-111111111111",
            }
        ],
        "author": [{"display": "Dr. Who"}],
        "content": [{"attachment": {"title": "Letter", "language": "en"}}],
        "context": {"related": [{"reference": f"ImagingStudy/{UID}"}]},
    }
    row = doc_row(posted=json.loads(json.dumps(posted)), index=[])
    r = check_resource(document_reference(row, CTX))
    assert "docStatus" not in r
    assert r["type"] == {"text": "Letter"} and r["author"] == [{"display": "Dr. Who"}]
    assert len(r["identifier"]) == 2 and r["identifier"][-1]["value"] == entry_uuid(row.resource_id)
    assert r["content"][0]["attachment"]["language"] == "en"
    assert r["content"][0]["attachment"]["url"].endswith("/Binary/b1")
    assert r["context"] == posted["context"]
    assert check_profile(r, load_profile("imageshare-documentreference")) == []


def test_endpoint_and_requires_access_token_switch() -> None:
    r = check_resource(endpoint_resource(CTX))
    assert r["address"] == "https://images.example.org/dicomweb"
    assert r["connectionType"]["code"] == "dicom-wado-rs"
    assert "extension" not in r
    with_token = check_resource(endpoint_resource(CTX, True))
    assert with_token["extension"] == [{"url": REQUIRES_ACCESS_TOKEN_URL, "valueBoolean": True}]
    assert check_profile(with_token, load_profile("imageshare-wado-endpoint")) == []


def test_binary_resource_base64() -> None:
    r = check_resource(binary_resource("b1", "text/plain", b"hi\x00", 1, T, "d1"))
    assert r["data"] == "aGkA" and r["securityContext"] == {"reference": "DocumentReference/d1"}


def test_dates() -> None:
    assert fhir_date("20240229") == "2024-02-29"
    assert fhir_date("2024") is None and fhir_date("") is None
    assert instant(datetime(2024, 1, 1)) == "2024-01-01T00:00:00.000Z"
