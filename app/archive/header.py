"""Read and validate an instance's header without decoding its pixel data.

A header-only parse (``stop_before_pixels``) gives the index fields and the DICOM JSON; the Pixel
Data element's position is read straight from the file, so frames can later be served by offset.
"""

from __future__ import annotations

import contextlib
import re
import struct
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydicom import dcmread
from pydicom.datadict import tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.filewriter import correct_ambiguous_vr
from pydicom.uid import UID_dictionary

from app.archive import dicomjson
from app.archive.status import StoreStatusValues
from app.urls import instance_path

_UID_RE = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")
_DATE_RE = re.compile(r"^\d{8}$")
DEFLATED = "1.2.840.10008.1.2.1.99"
IMPLICIT_OR_BIG_ENDIAN = {"1.2.840.10008.1.2", "1.2.840.10008.1.2.2"}


class InstanceRejected(Exception):
    """The part cannot be stored; carries the DICOM status and a reason safe to show."""

    def __init__(
        self, status: StoreStatusValues, reason: str, sop_class: str = "", sop_instance: str = ""
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.sop_class = sop_class
        self.sop_instance = sop_instance


@dataclass
class ParsedInstance:
    """Everything the index needs from one instance."""

    sop_class_uid: str
    sop_instance_uid: str
    study_uid: str
    series_uid: str
    transfer_syntax_uid: str
    patient: dict[str, str]
    study: dict[str, Any]
    series: dict[str, Any]
    instance: dict[str, Any]
    metadata_json: bytes
    study_json: bytes
    series_json: bytes
    pixel: dict[str, Any] = field(default_factory=dict)
    dataset: Dataset | None = None


def is_valid_uid(value: str) -> bool:
    return 0 < len(value) <= 64 and bool(_UID_RE.match(value))


def normalize_pn(value: str) -> str:
    """Case-folded person name for exact and wildcard matching (accents kept)."""
    return value.upper()


def fuzzy_pn(value: str) -> str:
    """Space-delimited, accent- and case-free name components for fuzzy matching."""
    stripped = "".join(
        c for c in unicodedata.normalize("NFKD", value) if not unicodedata.combining(c)
    )
    parts = re.split(r"[\^= ,]+", stripped.upper())
    return " " + " ".join(p for p in parts if p) + " "


def read_header(path: Path, threshold: int) -> ParsedInstance:
    """Parse and validate one PS3.10 file; raise ``InstanceRejected`` with the reason."""
    try:
        with open(path, "rb") as fp:
            ds = dcmread(fp, stop_before_pixels=True)
            pixel_pos = fp.tell()
            ts = str(ds.file_meta.get("TransferSyntaxUID", ""))
            pixel = _pixel_data_position(fp, pixel_pos, ts, ds)
    except InvalidDicomError as exc:
        raise InstanceRejected(
            StoreStatusValues.CANNOT_UNDERSTAND, f"not a DICOM PS3.10 file: {exc}"
        ) from exc
    except Exception as exc:  # pydicom raises many types on broken input
        raise InstanceRejected(
            StoreStatusValues.CANNOT_UNDERSTAND, f"cannot parse the DICOM data set: {exc}"
        ) from exc
    uids = _validate(ds, ts)
    sop_class, sop_instance, study_uid, series_uid = uids
    if ts == DEFLATED:
        pixel = _deflated_pixel_entry(path)
    if ts in IMPLICIT_OR_BIG_ENDIAN:  # explicit little endian files carry no ambiguous VRs
        with contextlib.suppress(Exception):  # ambiguous VRs then stay as read
            correct_ambiguous_vr(ds, ts != "1.2.840.10008.1.2.2")
    prefix = dicomjson.BASE_PLACEHOLDER + instance_path(study_uid, series_uid, sop_instance)
    obj = dicomjson.instance_json(ds, prefix, threshold)
    if pixel.get("vr"):
        obj.update(dicomjson.pixel_data_json(pixel["vr"], prefix, pixel.get("tag", 0x7FE00010)))
        obj = dict(sorted(obj.items()))
    return ParsedInstance(
        sop_class_uid=sop_class,
        sop_instance_uid=sop_instance,
        study_uid=study_uid,
        series_uid=series_uid,
        transfer_syntax_uid=ts,
        patient=_patient_fields(obj),
        study=_study_fields(obj),
        series=_series_fields(obj),
        instance=_instance_fields(obj),
        metadata_json=dicomjson.dumps(obj),
        study_json=dicomjson.dumps(dicomjson.subset(obj, dicomjson.STUDY_LEVEL_TAGS)),
        series_json=dicomjson.dumps(dicomjson.subset(obj, dicomjson.SERIES_LEVEL_TAGS)),
        pixel={k: v for k, v in pixel.items() if k.startswith("pixel_data")},
        dataset=ds,
    )


def _validate(ds: Dataset, ts: str) -> tuple[str, str, str, str]:
    sop_class = str(ds.get("SOPClassUID", "") or "")
    sop_instance = str(ds.get("SOPInstanceUID", "") or "")
    meta = ds.file_meta

    def reject(
        reason: str, status: StoreStatusValues = StoreStatusValues.DATA_SET_DOES_NOT_MATCH_SOP_CLASS
    ) -> InstanceRejected:
        return InstanceRejected(status, reason, sop_class, sop_instance)

    if not ts:
        raise reject(
            "file meta information has no Transfer Syntax UID (0002,0010)",
            StoreStatusValues.CANNOT_UNDERSTAND,
        )
    for keyword in ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID"):
        value = str(ds.get(keyword, "") or "")
        if not value:
            raise reject(f"required attribute {keyword} is missing or empty")
        if not is_valid_uid(value):
            raise reject(f"{keyword} {value!r} is not a valid UID")
    media_sop = str(meta.get("MediaStorageSOPInstanceUID", "") or "")
    if media_sop and media_sop != sop_instance:
        raise reject("MediaStorageSOPInstanceUID (0002,0003) differs from SOPInstanceUID")
    media_class = str(meta.get("MediaStorageSOPClassUID", "") or "")
    if media_class and media_class != sop_class:
        raise reject("MediaStorageSOPClassUID (0002,0002) differs from SOPClassUID")
    known = UID_dictionary.get(sop_class)
    if known is not None and "Storage" not in known[0] and known[1] != "SOP Class":
        raise reject(
            f"{sop_class} is not a storage SOP class", StoreStatusValues.SOP_CLASS_NOT_SUPPORTED
        )
    return sop_class, sop_instance, str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID)


def _key(keyword: str) -> str:
    tag = tag_for_keyword(keyword)
    assert tag is not None, keyword
    return dicomjson.tag_key(tag)


_KEYS: dict[str, str] = {}


def _text(obj: dict[str, Any], keyword: str) -> str:
    """An attribute's value as text from the DICOM JSON object ("" when absent or empty)."""
    key = _KEYS.get(keyword) or _KEYS.setdefault(keyword, _key(keyword))
    values = obj.get(key, {}).get("Value")
    if not values:
        return ""
    return "\\".join(_as_text(v) for v in values).strip()


def _as_text(value: Any) -> str:
    if isinstance(value, dict):  # a person name's component groups
        groups = [value.get(g, "") for g in ("Alphabetic", "Ideographic", "Phonetic")]
        while groups and not groups[-1]:
            groups.pop()
        return "=".join(groups)
    return "" if value is None else str(value)


def _int(obj: dict[str, Any], keyword: str) -> int | None:
    try:
        value = _text(obj, keyword)
        return int(float(value)) if value else None
    except ValueError:
        return None


def _date(obj: dict[str, Any], keyword: str) -> str:
    value = _text(obj, keyword)
    return value if _DATE_RE.match(value) else ""


def _patient_fields(obj: dict[str, Any]) -> dict[str, str]:
    name = _text(obj, "PatientName")
    return {
        "PatientID": _text(obj, "PatientID"),
        "IssuerOfPatientID": _text(obj, "IssuerOfPatientID"),
        "PatientName": name,
        "patient_name_norm": normalize_pn(name),
        "patient_name_fuzzy": fuzzy_pn(name),
        "PatientBirthDate": _date(obj, "PatientBirthDate"),
        "PatientSex": _text(obj, "PatientSex"),
    }


def _study_fields(obj: dict[str, Any]) -> dict[str, Any]:
    referrer = _text(obj, "ReferringPhysicianName")
    return {
        "StudyDate": _date(obj, "StudyDate"),
        "StudyTime": _text(obj, "StudyTime"),
        "AccessionNumber": _text(obj, "AccessionNumber"),
        "StudyID": _text(obj, "StudyID"),
        "StudyDescription": _text(obj, "StudyDescription"),
        "ReferringPhysicianName": referrer,
        "referring_physician_norm": normalize_pn(referrer),
        "referring_physician_fuzzy": fuzzy_pn(referrer),
    }


def _series_fields(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "Modality": _text(obj, "Modality"),
        "SeriesNumber": _int(obj, "SeriesNumber"),
        "SeriesDescription": _text(obj, "SeriesDescription"),
        "BodyPartExamined": _text(obj, "BodyPartExamined"),
        "SeriesDate": _date(obj, "SeriesDate"),
        "SeriesTime": _text(obj, "SeriesTime"),
        "PerformedProcedureStepStartDate": _date(obj, "PerformedProcedureStepStartDate"),
        "PerformedProcedureStepStartTime": _text(obj, "PerformedProcedureStepStartTime"),
    }


def _instance_fields(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "InstanceNumber": _int(obj, "InstanceNumber"),
        "Rows": _int(obj, "Rows"),
        "Columns": _int(obj, "Columns"),
        "BitsAllocated": _int(obj, "BitsAllocated"),
        "NumberOfFrames": _int(obj, "NumberOfFrames"),
    }


def _pixel_data_position(fp: Any, pos: int, ts: str, ds: Dataset) -> dict[str, Any]:
    """Offset, length and VR of the Pixel Data value that follows the header, if any."""
    if ts == DEFLATED:
        return {}
    fp.seek(pos)
    head = fp.read(12)
    if len(head) < 8:
        return {}
    little = ts != "1.2.840.10008.1.2.2"
    implicit = ts == "1.2.840.10008.1.2"
    end = "<" if little else ">"
    group, elem = struct.unpack(end + "HH", head[:4])
    tag = (group << 16) | elem
    if tag not in dicomjson.PIXEL_DATA_TAGS:
        return {}
    if implicit:
        (length,) = struct.unpack(end + "I", head[4:8])
        bits = int(ds.get("BitsAllocated", 16) or 16)
        vr = "OW" if tag == 0x7FE00010 and bits > 8 else "OB"
        vr = {0x7FE00008: "OF", 0x7FE00009: "OD"}.get(tag, vr)
        offset = pos + 8
    else:
        vr = head[4:6].decode("ascii", "replace")
        (length,) = struct.unpack(end + "I", head[8:12])
        offset = pos + 12
    return {
        "tag": tag,
        "pixel_data_offset": offset,
        "pixel_data_length": -1 if length == 0xFFFFFFFF else length,
        "pixel_data_vr": vr,
        "vr": vr,
    }


def _deflated_pixel_entry(path: Path) -> dict[str, Any]:
    """Deflated files need a full parse to learn whether they carry pixel data."""
    full = dcmread(path)
    for tag in (0x7FE00010, 0x7FE00008, 0x7FE00009):
        if tag in full:
            vr = str(full[tag].VR)
            vr = "OW" if vr not in {"OB", "OW", "OF", "OD"} else vr
            return {"tag": tag, "vr": vr, "pixel_data_vr": vr}
    return {}
