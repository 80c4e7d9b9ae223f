"""A PHR app's path from FHIR to pixels and the report, with real clients only (SMART Imaging
Access flow: patient -> ImagingStudy + Endpoint -> WADO-RS -> report PDF via Binary)."""

from __future__ import annotations

import io

import httpx
import pydicom
from dicomweb_client.api import DICOMwebClient

from tests import factory
from tests.conftest import LiveServer
from tests.fhir_helpers import check_profile, entries, load_profile, ok

#: Surface behaviour, not access control (that is test_isolation.py and test_smart_*.py,
#: with authorization on).
SERVER_SETTINGS = {"auth": "off"}


def test_phr_flow(live_server: LiveServer) -> None:
    spec = factory.study(
        "PHR-1", "Phr^Patient", series=2, per_series=3, with_pdf_report=True, accession="PHR-ACC"
    )
    sent = {pydicom.dcmread(io.BytesIO(b)).SOPInstanceUID: b for b in factory.files(spec)}
    DICOMwebClient(live_server.dicomweb).store_instances(
        [pydicom.dcmread(io.BytesIO(b)) for b in sent.values()]
    )
    fhir = live_server.fhir

    # 1. The app finds its patient (by the identifier it knows) ...
    patient = entries(ok(f"{fhir}/Patient", {"identifier": "PHR-1"}))[0]
    # 2. ... lists the imaging studies with the Endpoint and the reports in one Bundle.
    bundle = ok(
        f"{fhir}/ImagingStudy",
        [
            ("patient", patient["id"]),
            ("_include", "ImagingStudy:endpoint"),
            ("_include", "ImagingStudy:patient"),
            ("_revinclude", "DocumentReference:related"),
        ],
    )
    [study] = entries(bundle)
    included = {r["resourceType"]: r for r in entries(bundle, "include")}
    assert set(included) == {"Endpoint", "Patient", "DocumentReference"}
    assert check_profile(study, load_profile("imageshare-imagingstudy")) == []

    # 3. It follows the study's Endpoint reference to the WADO-RS base ...
    [ref] = study["endpoint"]
    endpoint = included["Endpoint"]
    assert ref["reference"] == f"Endpoint/{endpoint['id']}"
    assert endpoint["connectionType"]["code"] == "dicom-wado-rs"
    uid = next(i["value"] for i in study["identifier"] if i["system"] == "urn:dicom:uid")
    uid = uid.removeprefix("urn:oid:")
    assert uid == spec.study_uid

    # 4. ... and pulls the images with a DICOMweb client (metadata, then the whole study).
    client = DICOMwebClient(endpoint["address"])
    metadata = client.retrieve_study_metadata(uid)
    assert len(metadata) == study["numberOfInstances"] == 7
    instances = client.retrieve_study(uid)
    fhir_uids = {i["uid"] for s in study["series"] for i in s.get("instance", [])}
    assert {ds.SOPInstanceUID for ds in instances} == fhir_uids == set(sent)
    image = next(ds for ds in instances if ds.Modality == "CT")
    assert image.pixel_array.shape == (32, 32)

    # 5. The report: its DocumentReference points at a Binary holding the PDF.
    report = included["DocumentReference"]
    assert report["context"]["related"][0]["reference"] == f"ImagingStudy/{uid}"
    pdf = httpx.get(
        report["content"][0]["attachment"]["url"], headers={"Accept": "application/pdf"}
    )
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    source = pydicom.dcmread(io.BytesIO(next(b for b in sent.values() if b"%PDF" in b)))
    assert pdf.content == bytes(source.EncapsulatedDocument)[: source.EncapsulatedDocumentLength]
