"""Replacement values consistent with each VR (PS3.15 E.1.1 action D, PS3.5 6.2)."""

from __future__ import annotations

from pydicom.dataelem import DataElement
from pydicom.multival import MultiValue

DUMMY_TEXT = "ANONYMIZED"
_DUMMY_BY_VR: dict[str, object] = {
    "AE": DUMMY_TEXT,
    "AS": "000D",
    "CS": DUMMY_TEXT,
    "DA": "19000101",
    "DS": "0",
    "DT": "19000101000000",
    "IS": "0",
    "LO": DUMMY_TEXT,
    "LT": DUMMY_TEXT,
    "PN": DUMMY_TEXT,
    "SH": DUMMY_TEXT,
    "ST": DUMMY_TEXT,
    "TM": "000000",
    "UC": DUMMY_TEXT,
    "UR": "urn:anonymized",
    "UT": DUMMY_TEXT,
    "FL": 0.0,
    "FD": 0.0,
    "SL": 0,
    "SS": 0,
    "SV": 0,
    "UL": 0,
    "US": 0,
    "UV": 0,
    "AT": 0,
}
_BINARY_VRS = {"OB", "OD", "OF", "OL", "OV", "OW", "UN"}
TEXT_VRS = frozenset({"LO", "LT", "SH", "ST", "UC", "UT", "PN", "CS", "AE"})
DATE_VRS = frozenset({"DA", "DT", "TM"})


def dummy(vr: str) -> object:
    """A non-identifying value of the VR (binary VRs get two zero bytes)."""
    if vr in _BINARY_VRS:
        return b"\x00\x00"
    return _DUMMY_BY_VR.get(vr, DUMMY_TEXT)


def set_dummy(elem: DataElement) -> None:
    elem.value = dummy(elem.VR)


def set_empty(elem: DataElement) -> None:
    elem.value = [] if elem.VR == "SQ" else None


def text_values(elem: DataElement) -> list[str]:
    """The element's values as strings (VM ≥ 1), for cleaning or shifting one by one."""
    value = elem.value
    if value is None or value == "":
        return []
    if isinstance(value, (list, tuple, MultiValue)):
        return [str(v) for v in value]
    return [str(value)]


def set_text_values(elem: DataElement, values: list[str]) -> None:
    elem.value = values[0] if len(values) == 1 else (values or None)
