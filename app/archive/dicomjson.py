"""DICOM JSON (PS3.18 Annex F) for the index: built once at ingest, served as stored bytes.

Bulk data (binary values over the threshold, and always Pixel Data) becomes a ``BulkDataURI``
that starts with ``BASE_PLACEHOLDER``; the HTTP layer swaps in the public base URL when it sends
the bytes, so the stored JSON survives a change of ``IMAGESHARE_BASE_URL``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import orjson
from pydicom.datadict import keyword_for_tag, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.jsonrep import convert_to_python_number
from pydicom.multival import MultiValue
from pydicom.tag import BaseTag, Tag
from pydicom.valuerep import VR as VR_

logger = logging.getLogger(__name__)

BASE_PLACEHOLDER = "@@IMAGESHARE_BASE_URL@@"
BASE_PLACEHOLDER_BYTES = BASE_PLACEHOLDER.encode()

_BINARY_VRS = {"OB", "OD", "OF", "OL", "OV", "OW", "UN"}
_NUMBER_STRING_VRS = {"IS", "DS"}
PIXEL_DATA_TAGS = {0x7FE00010, 0x7FE00008, 0x7FE00009}
#: Sent by reference whatever their size: viewers (OHIF) fetch these through the BulkDataURI.
ALWAYS_BULK_TAGS = PIXEL_DATA_TAGS | {0x00420011}  # + Encapsulated Document

#: Attributes of the Patient and Study levels (PS3.4 C.6.1.1.2-3 keys and the Patient,
#: Patient Study, General Study and Clinical Trial Subject/Study modules of PS3.3).
STUDY_LEVEL_KEYWORDS: tuple[str, ...] = (
    "SpecificCharacterSet",
    "TimezoneOffsetFromUTC",
    "PatientName",
    "PatientID",
    "IssuerOfPatientID",
    "IssuerOfPatientIDQualifiersSequence",
    "TypeOfPatientID",
    "PatientBirthDate",
    "PatientBirthTime",
    "PatientSex",
    "OtherPatientIDsSequence",
    "OtherPatientNames",
    "PatientBirthName",
    "PatientMotherBirthName",
    "EthnicGroup",
    "PatientComments",
    "PatientSpeciesDescription",
    "PatientBreedDescription",
    "ResponsiblePerson",
    "ResponsibleOrganization",
    "PatientIdentityRemoved",
    "DeidentificationMethod",
    "DeidentificationMethodCodeSequence",
    "QualityControlSubject",
    "StudyInstanceUID",
    "StudyDate",
    "StudyTime",
    "AccessionNumber",
    "IssuerOfAccessionNumberSequence",
    "StudyID",
    "StudyDescription",
    "ReferringPhysicianName",
    "ReferringPhysicianIdentificationSequence",
    "ConsultingPhysicianName",
    "PhysiciansOfRecord",
    "NameOfPhysiciansReadingStudy",
    "ProcedureCodeSequence",
    "ReasonForPerformedProcedureCodeSequence",
    "RequestingService",
    "AdmittingDiagnosesDescription",
    "PatientAge",
    "PatientSize",
    "PatientWeight",
    "MedicalAlerts",
    "Allergies",
    "SmokingStatus",
    "PregnancyStatus",
    "AdditionalPatientHistory",
    "Occupation",
    "ClinicalTrialSponsorName",
    "ClinicalTrialProtocolID",
    "ClinicalTrialProtocolName",
    "ClinicalTrialSiteID",
    "ClinicalTrialSiteName",
    "ClinicalTrialSubjectID",
    "ClinicalTrialSubjectReadingID",
    "ClinicalTrialTimePointID",
    "ClinicalTrialTimePointDescription",
)

#: Attributes of the Series level (General Series, Clinical Trial Series, Frame of Reference
#: and General Equipment modules, plus PS3.18's default series return keys).
SERIES_LEVEL_KEYWORDS: tuple[str, ...] = (
    "SpecificCharacterSet",
    "TimezoneOffsetFromUTC",
    "SeriesInstanceUID",
    "Modality",
    "SeriesNumber",
    "SeriesDescription",
    "SeriesDate",
    "SeriesTime",
    "Laterality",
    "BodyPartExamined",
    "ProtocolName",
    "OperatorsName",
    "PerformingPhysicianName",
    "PatientPosition",
    "PerformedProcedureStepID",
    "PerformedProcedureStepStartDate",
    "PerformedProcedureStepStartTime",
    "PerformedProcedureStepDescription",
    "RequestAttributesSequence",
    "FrameOfReferenceUID",
    "PositionReferenceIndicator",
    "Manufacturer",
    "ManufacturerModelName",
    "InstitutionName",
    "InstitutionalDepartmentName",
    "StationName",
    "DeviceSerialNumber",
    "SoftwareVersions",
    "ClinicalTrialCoordinatingCenterName",
    "ClinicalTrialSeriesID",
    "ClinicalTrialSeriesDescription",
)


def _tags(keywords: Iterable[str]) -> frozenset[int]:
    found = (tag_for_keyword(k) for k in keywords)
    return frozenset(t for t in found if t is not None)


STUDY_LEVEL_TAGS = _tags(STUDY_LEVEL_KEYWORDS)
SERIES_LEVEL_TAGS = _tags(SERIES_LEVEL_KEYWORDS)


def tag_key(tag: int) -> str:
    """The eight-hex-digit key of a tag in DICOM JSON."""
    return f"{tag:08X}"


def instance_json(ds: Dataset, uri_prefix: str, threshold: int) -> dict[str, Any]:
    """The DICOM JSON object of a data set, bulk data as BulkDataURIs under ``uri_prefix``.

    ``uri_prefix`` is the instance's WADO-RS URL (starting with ``BASE_PLACEHOLDER``); each
    bulk value gets ``{uri_prefix}/bulkdata/{tag path}``.
    """
    return _dataset_json(ds, f"{uri_prefix}/bulkdata", threshold)


def _dataset_json(ds: Dataset, path: str, threshold: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for elem in ds:
        if elem.tag.group == 0x0002 or elem.tag.element == 0:
            continue  # file meta and group lengths are not part of the data set's JSON
        key = tag_key(elem.tag)
        try:
            out[key] = _element_json(elem, f"{path}/{key}", threshold)
        except Exception as exc:  # one bad value must not lose the whole object
            logger.debug("cannot encode %s as JSON: %s", key, exc)
            out[key] = {"vr": str(elem.VR)}
    return out


def _element_json(elem: DataElement, path: str, threshold: int) -> dict[str, Any]:
    """One element as DICOM JSON (PS3.18 F.2), the same output as pydicom's ``to_json_dict``
    for the VRs handled here, at a fraction of its cost (it dominates ingest CPU otherwise)."""
    vr = str(elem.VR)
    if vr == VR_.SQ:
        items = [_dataset_json(item, f"{path}/{i}", threshold) for i, item in enumerate(elem.value)]
        return {"vr": "SQ", "Value": items} if items else {"vr": "SQ"}
    value = elem.value
    if vr in _BINARY_VRS:
        if value is None or len(value) == 0:
            return {"vr": vr}
        if int(elem.tag) in ALWAYS_BULK_TAGS or len(value) > threshold:
            return {"vr": vr, "BulkDataURI": path}
        return elem.to_json_dict(None, threshold)
    if value is None or value == "":
        return {"vr": vr}
    values = list(value) if isinstance(value, MultiValue | list | tuple) else [value]
    if not values:
        return {"vr": vr}
    if vr == "PN":
        return {"vr": vr, "Value": [_pn_json(v) for v in values]}
    if vr == "AT":
        return {"vr": vr, "Value": [format(v, "08X") for v in values]}
    if vr in _NUMBER_STRING_VRS:
        return {"vr": vr, "Value": convert_to_python_number(values, vr)}
    return {"vr": vr, "Value": values}


def _pn_json(value: Any) -> dict[str, str]:
    comps = value.components
    out = {"Alphabetic": comps[0]}
    if len(comps) > 1:
        out["Ideographic"] = comps[1]
    if len(comps) > 2:
        out["Phonetic"] = comps[2]
    return out


def pixel_data_json(vr: str, uri_prefix: str, tag: int = 0x7FE00010) -> dict[str, Any]:
    """The JSON entry for a Pixel Data value that was not parsed (header-only read)."""
    key = tag_key(tag)
    return {key: {"vr": vr, "BulkDataURI": f"{uri_prefix}/bulkdata/{key}"}}


def subset(obj: dict[str, Any], tags: frozenset[int]) -> dict[str, Any]:
    """The entries of a DICOM JSON object whose tags are in ``tags``."""
    return {k: v for k, v in obj.items() if int(k, 16) in tags}


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON bytes (orjson: several times faster than the standard library)."""
    return orjson.dumps(obj)


def loads(data: bytes) -> Any:
    return orjson.loads(data)


def parse_tag(text: str) -> BaseTag | None:
    """A tag from ``GGGGEEEE`` hex or a keyword; ``None`` if it is neither."""
    text = text.strip()
    if len(text) == 8:
        try:
            return Tag(int(text, 16))
        except ValueError:
            pass
    found = tag_for_keyword(text)
    return Tag(found) if found is not None else None


def keyword(tag: int) -> str:
    return keyword_for_tag(tag) or tag_key(tag)
