"""Render a DICOM Structured Report's content tree as a small, self-contained HTML page.

Follows the content item value types of PS3.3 C.17.3 (Table C.17.3-7): containers become
headings, TEXT/CODE/NUM/PNAME/DATE/TIME/DATETIME/UIDREF items become labelled paragraphs and
references to images are listed by UID. Every value is HTML-escaped: SR text is data from the
modality or reporting system, and the page is served from our own origin.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

from pydicom.dataset import Dataset

MAX_DEPTH = 32
_CSS = (
    "body{font-family:sans-serif;max-width:48em;margin:2em auto;line-height:1.4}"
    "section{margin-left:1em}dt{font-weight:bold}"
)


def concept_meaning(item: Dataset) -> str:
    seq = item.get("ConceptNameCodeSequence")
    if not seq:
        return ""
    return str(seq[0].get("CodeMeaning", "") or "")


def concept_code(item: Dataset) -> tuple[str, str, str] | None:
    """(coding scheme designator, code value, meaning) of the item's concept name."""
    seq = item.get("ConceptNameCodeSequence")
    if not seq:
        return None
    c = seq[0]
    value = str(c.get("CodeValue", "") or c.get("LongCodeValue", "") or "")
    if not value:
        return None
    return str(c.get("CodingSchemeDesignator", "") or ""), value, str(c.get("CodeMeaning", ""))


def is_final(ds: Dataset) -> bool:
    """Complete and verified (PS3.3 C.17.2: Completion Flag and Verification Flag)."""
    return (
        str(ds.get("CompletionFlag", "")).upper() == "COMPLETE"
        and str(ds.get("VerificationFlag", "")).upper() == "VERIFIED"
    )


def render_html(ds: Dataset) -> str:
    title = concept_meaning(ds) or "Structured report"
    body = [f"<h1>{escape(title)}</h1>", _status_line(ds)]
    body.extend(_items(ds.get("ContentSequence") or [], 2))
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>\n"
        + "\n".join(b for b in body if b)
        + "\n</body></html>\n"
    )


def _status_line(ds: Dataset) -> str:
    completion = str(ds.get("CompletionFlag", "") or "")
    verification = str(ds.get("VerificationFlag", "") or "")
    if not (completion or verification):
        return ""
    text = ", ".join(v.lower() for v in (completion, verification) if v)
    return f"<p><em>Status: {escape(text)}</em></p>"


def _items(items: Iterable[Dataset], depth: int) -> list[str]:
    out: list[str] = []
    if depth > MAX_DEPTH:
        return out
    for item in items:
        out.extend(_item(item, depth))
    return out


def _item(item: Dataset, depth: int) -> list[str]:
    kind = str(item.get("ValueType", "") or "")
    name = concept_meaning(item)
    children = item.get("ContentSequence") or []
    if kind == "CONTAINER":
        level = min(depth, 6)
        head = f"<h{level}>{escape(name)}</h{level}>" if name else ""
        return ["<section>", head, *_items(children, depth + 1), "</section>"]
    value = _value(kind, item)
    out: list[str] = []
    if value is not None:
        label = f"<strong>{escape(name)}:</strong> " if name else ""
        out.append(f"<p>{label}{escape(value)}</p>")
    if children:
        out.extend(["<section>", *_items(children, depth + 1), "</section>"])
    return out


def _value(kind: str, item: Dataset) -> str | None:
    """The display text of one content item, or None for types shown only through children."""
    if kind == "TEXT":
        return str(item.get("TextValue", "") or "")
    if kind == "CODE":
        seq = item.get("ConceptCodeSequence")
        return str(seq[0].get("CodeMeaning", "") or seq[0].get("CodeValue", "")) if seq else ""
    if kind == "NUM":
        return _numeric(item)
    simple = {
        "PNAME": "PersonName",
        "DATE": "Date",
        "TIME": "Time",
        "DATETIME": "DateTime",
        "UIDREF": "UID",
    }
    if kind in simple:
        return str(item.get(simple[kind], "") or "")
    if kind in ("IMAGE", "COMPOSITE", "WAVEFORM"):
        seq = item.get("ReferencedSOPSequence")
        uid = str(seq[0].get("ReferencedSOPInstanceUID", "")) if seq else ""
        return f"referenced {kind.lower()} {uid}".strip()
    return None


def _numeric(item: Dataset) -> str:
    seq = item.get("MeasuredValueSequence")
    if not seq:
        return ""
    mv = seq[0]
    value = str(mv.get("NumericValue", "") or "")
    units = mv.get("MeasurementUnitsCodeSequence")
    unit = str(units[0].get("CodeValue", "") or "") if units else ""
    return f"{value} {unit}".strip() if unit not in ("", "1") else value
