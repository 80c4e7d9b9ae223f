"""Cleaning free text (action C on text VRs): remove the identifiers the instance itself holds.

PS3.15 E.3.5 and E.3.3 ask that descriptions and structured text be kept after identifying
information is removed. We cannot understand prose, so cleaning is literal: every value of the
instance's identifying attributes (names and their parts, IDs, accession and study numbers,
addresses, phone numbers, institutions, dates in common spellings) is cut out of the text, and
so is any run of six or more digits (an ID or date we were not told about). What remains is a
description without the identifiers the header knew of; docs/deidentification.md says so.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import lru_cache

from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.tag import BaseTag
from pydicom.valuerep import PersonName

MASK = "***"
_LONG_DIGITS = re.compile(r"\d(?:[-/.]?\d){5,}")
_TEXT_VRS = {"LO", "SH", "LT", "ST", "UT", "UC", "PN", "CS", "AE"}
_DATE_VRS = {"DA", "DT"}
_MIN_TOKEN = 3


def _values(value: object) -> Iterator[str]:
    if isinstance(value, (list, MultiValue)):
        for v in value:
            yield from _values(v)
    elif isinstance(value, PersonName):
        yield str(value)
        for part in (value.family_name, value.given_name, value.middle_name):
            if part:
                yield part
    elif value is not None:
        yield str(value)


def _date_spellings(da: str) -> Iterator[str]:
    y, m, d = da[:4], da[4:6], da[6:8]
    yield da
    for sep in ("-", "/", "."):
        yield f"{y}{sep}{m}{sep}{d}"
        yield f"{d}{sep}{m}{sep}{y}"
        yield f"{m}{sep}{d}{sep}{y}"


# Identity-bearing attributes whose values are cut out of free text besides every PN value; a
# policy list (which values a reader would recognise), not the Annex E table.
IDENTITY_KEYWORDS = (
    "PatientID",
    "OtherPatientIDs",
    "IssuerOfPatientID",
    "AccessionNumber",
    "StudyID",
    "PatientAddress",
    "PatientTelephoneNumbers",
    "PatientTelecomInformation",
    "InstitutionName",
    "InstitutionAddress",
    "InstitutionalDepartmentName",
    "StationName",
    "DeviceSerialNumber",
    "MedicalRecordLocator",
    "AdmissionID",
    "ServiceEpisodeID",
    "RegionOfResidence",
    "CountryOfResidence",
    "MilitaryRank",
    "BranchOfService",
    "ResponsibleOrganization",
    "PatientInsurancePlanCodeSequence",
    "PerformedStationName",
    "ScheduledStationName",
    "RequestingService",
    "FillerOrderNumberImagingServiceRequest",
    "PlacerOrderNumberImagingServiceRequest",
    "RequestedProcedureID",
    "ScheduledProcedureStepID",
    "PerformedProcedureStepID",
    "ClinicalTrialSubjectID",
    "ClinicalTrialSponsorName",
    "CurrentPatientLocation",
    "PatientInstitutionResidence",
    "DetectorID",
    "DeviceID",
)
_IDENTITY_TAGS = frozenset(tag_for_keyword(k) for k in IDENTITY_KEYWORDS) - {None}


class Scrubber:
    """Identifiers collected from one instance, cut out of any text handed to ``clean``."""

    def __init__(self, tokens: Iterable[str]) -> None:
        unique = {t.strip() for t in tokens if len(t.strip()) >= _MIN_TOKEN}
        self._pattern = _pattern(tuple(sorted(unique, key=lambda t: (-len(t), t))))

    def clean(self, text: str) -> str:
        if self._pattern is not None:
            text = self._pattern.sub(MASK, text)
        return _LONG_DIGITS.sub(MASK, text)

    @classmethod
    def from_dataset(cls, ds: Dataset) -> Scrubber:
        """Collect every person name, identity value and date of the instance, at any depth."""
        return cls(_collect(ds))


@lru_cache(maxsize=64)
def _pattern(ordered: tuple[str, ...]) -> re.Pattern[str] | None:
    """Compiled once per set of identifiers: the instances of a series share theirs."""
    if not ordered:
        return None
    return re.compile("|".join(re.escape(t) for t in ordered), re.IGNORECASE)


def _vr(ds: Dataset, tag: BaseTag) -> str:
    raw_vr = ds.get_item(tag).VR
    if raw_vr and raw_vr != "UN":  # UN: the dictionary knows better, as pydicom decodes it
        return str(raw_vr)
    try:
        return str(dictionary_VR(tag))
    except KeyError:
        return ""


def _collect(ds: Dataset) -> Iterator[str]:
    """Walk by tag, decoding only names, dates, identity attributes and sequences."""
    tags = ds.keys()  # a Dataset iterates over (decoded) elements, not tags
    for tag in tags:
        vr = _vr(ds, tag)
        if vr == "SQ":
            for item in ds[tag].value or []:
                yield from _collect(item)
        elif vr == "PN":
            for text in _values(ds[tag].value):
                yield text
                yield from (w for w in re.split(r"[\s^,]+", text) if len(w) >= _MIN_TOKEN)
        elif vr in _DATE_VRS:
            for text in _values(ds[tag].value):
                if len(text) >= 8 and text[:8].isdigit():
                    yield from _date_spellings(text[:8])
        elif tag in _IDENTITY_TAGS and vr in _TEXT_VRS:
            for text in _values(ds[tag].value):
                yield text
                yield from (p for p in re.split(r"[\^,;]+", text) if len(p) >= _MIN_TOKEN)
