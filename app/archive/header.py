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
    with contextlib.suppress(Exception):  # ambiguous VRs then stay as read
        correct_ambiguous_vr(ds, True)
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
        patient=_patient_fields(ds),
        study=_study_fields(ds),
        series=_series_fields(ds),
        instance=_instance_fields(ds),
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


def _text(ds: Dataset, keyword: str) -> str:
    try:
        value = ds.get(keyword, "")
        if value is None:
            return ""
        if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
            return "\\".join(str(v) for v in value)
        return str(value).strip()
    except Exception:
        return ""


def _int(ds: Dataset, keyword: str) -> int | None:
    try:
        value = ds.get(keyword)
        return int(value) if value not in (None, "") else None
    except Exception:
        return None


def _date(ds: Dataset, keyword: str) -> str:
    value = _text(ds, keyword)
    return value if _DATE_RE.match(value) else ""


def _patient_fields(ds: Dataset) -> dict[str, str]:
    name = _text(ds, "PatientName")
    return {
        "PatientID": _text(ds, "PatientID"),
        "IssuerOfPatientID": _text(ds, "IssuerOfPatientID"),
        "PatientName": name,
        "patient_name_norm": normalize_pn(name),
        "patient_name_fuzzy": fuzzy_pn(name),
        "PatientBirthDate": _date(ds, "PatientBirthDate"),
        "PatientSex": _text(ds, "PatientSex"),
    }


def _study_fields(ds: Dataset) -> dict[str, Any]:
    referrer = _text(ds, "ReferringPhysicianName")
    return {
        "StudyDate": _date(ds, "StudyDate"),
        "StudyTime": _text(ds, "StudyTime"),
        "AccessionNumber": _text(ds, "AccessionNumber"),
        "StudyID": _text(ds, "StudyID"),
        "StudyDescription": _text(ds, "StudyDescription"),
        "ReferringPhysicianName": referrer,
        "referring_physician_norm": normalize_pn(referrer),
        "referring_physician_fuzzy": fuzzy_pn(referrer),
    }


def _series_fields(ds: Dataset) -> dict[str, Any]:
    return {
        "Modality": _text(ds, "Modality"),
        "SeriesNumber": _int(ds, "SeriesNumber"),
        "SeriesDescription": _text(ds, "SeriesDescription"),
        "BodyPartExamined": _text(ds, "BodyPartExamined"),
        "SeriesDate": _date(ds, "SeriesDate"),
        "SeriesTime": _text(ds, "SeriesTime"),
        "PerformedProcedureStepStartDate": _date(ds, "PerformedProcedureStepStartDate"),
        "PerformedProcedureStepStartTime": _text(ds, "PerformedProcedureStepStartTime"),
    }


def _instance_fields(ds: Dataset) -> dict[str, Any]:
    return {
        "InstanceNumber": _int(ds, "InstanceNumber"),
        "Rows": _int(ds, "Rows"),
        "Columns": _int(ds, "Columns"),
        "BitsAllocated": _int(ds, "BitsAllocated"),
        "NumberOfFrames": _int(ds, "NumberOfFrames"),
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
        bits = _int(ds, "BitsAllocated") or 16
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
