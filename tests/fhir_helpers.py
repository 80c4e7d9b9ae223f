"""Helpers for the FHIR tests: validate every body with fhir.resources R4B, check resources
against our StructureDefinitions, and build a DICOM Structured Report."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import httpx
from fhir.resources.R4B import get_fhir_model_class
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from app.demo import IMPLEMENTATION_UID, StudySpec
from app.fhir.models import validate

PROFILES = Path(__file__).resolve().parent.parent / "profiles"
BASIC_TEXT_SR = "1.2.840.10008.5.1.4.1.1.88.11"


def check_resource(body: dict[str, Any]) -> dict[str, Any]:
    """Validate with the R4B model of its type, then with our stricter code/required checks."""
    cls = get_fhir_model_class(body["resourceType"])
    cls.model_validate(body)
    validate(body)
    return body


def fhir_get(url: str, params: Any = None, **kw: Any) -> httpx.Response:
    """GET, asserting a FHIR JSON answer that validates (errors as OperationOutcome)."""
    r = httpx.get(url, params=params, timeout=30, **kw)
    assert r.status_code != 500, r.text
    if r.status_code not in (304,):
        assert r.headers["content-type"].startswith("application/fhir+json"), r.headers
        check_resource(r.json())
    return r


def ok(url: str, params: Any = None, **kw: Any) -> dict[str, Any]:
    r = fhir_get(url, params, **kw)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def entries(bundle: dict[str, Any], mode: str | None = "match") -> list[dict[str, Any]]:
    return [
        e["resource"]
        for e in bundle.get("entry", [])
        if mode is None or e["search"]["mode"] == mode
    ]


def link(bundle: dict[str, Any], relation: str) -> str | None:
    for item in bundle["link"]:
        if item["relation"] == relation:
            return str(item["url"])
    return None


# --- profiles -------------------------------------------------------------------------------


def load_profile(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PROFILES / f"StructureDefinition-{name}.json").read_text())
    return data


def _children(nodes: list[Any], key: str) -> list[Any]:
    out: list[Any] = []
    for n in nodes:
        v = n.get(key) if isinstance(n, dict) else None
        if v is None:
            continue
        out.extend(v if isinstance(v, list) else [v])
    return out


def _matches(value: Any, pattern: Any) -> bool:
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(
            _matches(value.get(k), p) for k, p in pattern.items()
        )
    if isinstance(pattern, list):
        items = value if isinstance(value, list) else [value]
        return all(any(_matches(v, p) for v in items) for p in pattern)
    return bool(value == pattern)


def _fixed(element: dict[str, Any]) -> tuple[str, Any] | None:
    for key, value in element.items():
        if key.startswith("fixed") or key.startswith("pattern"):
            return key, value
    return None


def check_profile(resource: dict[str, Any], profile: dict[str, Any]) -> list[str]:
    """Problems with ``resource`` against the differential's cardinalities, fixed and pattern
    values, and value slices (one slicing level, discriminated by a fixed child)."""
    problems: list[str] = []
    elements = profile["differential"]["element"]
    slices: dict[str, dict[str, Any]] = {}  # element id of the slice -> discriminator
    for el in elements:
        eid = el["id"]
        if ":" in eid and "." in eid.split(":", 1)[1]:
            slice_id, child = eid.split(":", 1)[1].split(".", 1)
            base = eid.split(":", 1)[0]
            fixed = _fixed(el)
            if fixed:
                slices.setdefault(f"{base}:{slice_id}", {})[child] = fixed[1]
    for el in elements:
        problems += _check_element(resource, el, slices)
    return problems


def _nodes_at(resource: dict[str, Any], eid: str, slices: dict[str, dict[str, Any]]) -> list[Any]:
    """Parents and values along an element id like ``ImagingStudy.identifier:dicomUid.value``."""
    parts = eid.split(".")[1:]
    nodes: list[Any] = [resource]
    path = eid.split(".")[0]
    for part in parts:
        name, _, slice_name = part.partition(":")
        path = f"{path}.{name}"
        nodes = _children(nodes, name)
        if slice_name:
            disc = slices.get(f"{path}:{slice_name}", {})
            nodes = [n for n in nodes if all(_matches(n.get(k), v) for k, v in disc.items())]
    return nodes


def _check_element(
    resource: dict[str, Any], el: dict[str, Any], slices: dict[str, dict[str, Any]]
) -> list[str]:
    eid = el["id"]
    if "." not in eid:
        return []
    parent_id, _, last = eid.rpartition(".")
    parents = [resource] if "." not in parent_id else _nodes_at(resource, parent_id, slices)
    name, _, slice_name = last.partition(":")
    problems = []
    for parent in parents:
        values = _children([parent], name)
        if slice_name:
            disc = slices.get(f"{parent_id}.{name}:{slice_name}", {})
            values = [v for v in values if all(_matches(v.get(k), d) for k, d in disc.items())]
        lo = el.get("min", 0)
        hi = el.get("max", "*")
        if len(values) < lo:
            problems.append(f"{eid}: {len(values)} < min {lo}")
        if hi != "*" and len(values) > int(hi):
            problems.append(f"{eid}: {len(values)} > max {hi}")
        fixed = _fixed(el)
        if fixed and not slice_name:
            key, expected = fixed
            for v in values:
                ok = v == expected if key.startswith("fixed") else _matches(v, expected)
                if not ok:
                    problems.append(f"{eid}: {v!r} does not meet {key} {expected!r}")
    return problems


# --- a DICOM Structured Report ---------------------------------------------------------------


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    c = Dataset()
    c.CodeValue, c.CodingSchemeDesignator, c.CodeMeaning = value, scheme, meaning
    return c


def _text_item(concept: Dataset, text: str) -> Dataset:
    item = Dataset()
    item.RelationshipType = "CONTAINS"
    item.ValueType = "TEXT"
    item.ConceptNameCodeSequence = [concept]
    item.TextValue = text
    return item


def sr_report(spec: StudySpec, findings: str, impression: str, *, final: bool = True) -> bytes:
    """A Basic Text SR (TID 2000 shape) in ``spec``'s study, as PS3.10 bytes."""
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = BASIC_TEXT_SR
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID = spec.study_uid
    ds.SeriesInstanceUID = generate_uid()
    ds.PatientName = spec.patient.name
    ds.PatientID = spec.patient.patient_id
    ds.PatientBirthDate = spec.patient.birth_date
    ds.PatientSex = spec.patient.sex
    ds.StudyDate, ds.StudyTime = spec.study_date, spec.study_time
    ds.AccessionNumber = spec.accession
    ds.StudyID = "1"
    ds.ReferringPhysicianName = spec.referring
    ds.Modality = "SR"
    ds.SeriesNumber = 98
    ds.InstanceNumber = 1
    ds.Manufacturer = "Image Share tests"
    ds.ContentDate, ds.ContentTime = spec.study_date, spec.study_time
    ds.CompletionFlag = "COMPLETE" if final else "PARTIAL"
    ds.VerificationFlag = "VERIFIED" if final else "UNVERIFIED"
    ds.ValueType = "CONTAINER"
    ds.ContinuityOfContent = "SEPARATE"
    ds.ConceptNameCodeSequence = [_code("18748-4", "LN", "Diagnostic Imaging Report")]
    section = Dataset()
    section.RelationshipType = "CONTAINS"
    section.ValueType = "CONTAINER"
    section.ContinuityOfContent = "SEPARATE"
    section.ConceptNameCodeSequence = [_code("121070", "DCM", "Findings")]
    section.ContentSequence = [_text_item(_code("121071", "DCM", "Finding"), findings)]
    ds.ContentSequence = [
        section,
        _text_item(_code("121073", "DCM", "Impression"), impression),
    ]
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = IMPLEMENTATION_UID
    ds.file_meta = meta
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()
