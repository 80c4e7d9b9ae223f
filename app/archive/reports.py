"""Turn report instances into documents at ingest (an ``Ingestor`` hook).

Encapsulated PDF and CDA (PS3.3 A.45, A.45.2) carry their document in Encapsulated Document
(0042,0011), which precedes Pixel Data and so is present in the header-only parse; Structured
Reports (PS3.3 A.35) are rendered to HTML by ``sr``. Radiology reports are classified with LOINC
18748-4 "Diagnostic imaging study" and category LP29684-5 "Radiology", unless the SR's own
document title is a LOINC code.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pydicom.dataset import Dataset
from sqlmodel import Session

from app.archive import documents, sr
from app.archive.documents import IndexEntry, NewDocument
from app.archive.header import ParsedInstance
from app.archive.models import Instance, Study

logger = logging.getLogger(__name__)

ENCAPSULATED_PDF = "1.2.840.10008.5.1.4.1.1.104.1"
ENCAPSULATED_CDA = "1.2.840.10008.5.1.4.1.1.104.2"
SR_PREFIX = "1.2.840.10008.5.1.4.1.1.88."
LOINC = "http://loinc.org"
REPORT_TYPE = IndexEntry("type", LOINC, "18748-4", "Diagnostic imaging study")
REPORT_CATEGORY = IndexEntry("category", LOINC, "LP29684-5", "Radiology")
#: DICOM coding scheme designators whose codes we can name with a FHIR system URI.
SCHEME_SYSTEMS = {"LN": LOINC, "SCT": "http://snomed.info/sct"}


@dataclass
class ReportContent:
    content_type: str
    data: bytes
    kind: str
    title: str
    final: bool
    type_code: IndexEntry


def report_content(sop_class_uid: str, ds: Dataset) -> ReportContent | None:
    """The document carried by an instance, or None if it is not a report."""
    if sop_class_uid in (ENCAPSULATED_PDF, ENCAPSULATED_CDA):
        return _encapsulated(sop_class_uid, ds)
    if sop_class_uid.startswith(SR_PREFIX):
        html = sr.render_html(ds)
        return ReportContent(
            "text/html",
            html.encode("utf-8"),
            "sr",
            sr.concept_meaning(ds) or "Structured report",
            sr.is_final(ds),
            _sr_type(ds),
        )
    return None


def _encapsulated(sop_class_uid: str, ds: Dataset) -> ReportContent | None:
    value = ds.get("EncapsulatedDocument")
    if not value:
        return None
    data = bytes(value)
    length = ds.get("EncapsulatedDocumentLength")
    if isinstance(length, int) and 0 < length <= len(data):
        data = data[:length]  # drop the padding byte of an odd-length document
    pdf = sop_class_uid == ENCAPSULATED_PDF
    default_type = "application/pdf" if pdf else "text/xml"
    ctype = str(ds.get("MIMETypeOfEncapsulatedDocument", "") or default_type).strip()
    title = str(ds.get("DocumentTitle", "") or "") or "Report"
    return ReportContent(ctype, data, "pdf" if pdf else "cda", title, True, REPORT_TYPE)


def _sr_type(ds: Dataset) -> IndexEntry:
    code = sr.concept_code(ds)
    if code and SCHEME_SYSTEMS.get(code[0]) == LOINC:
        return IndexEntry("type", LOINC, code[1], code[2])
    return REPORT_TYPE


def index_report(s: Session, instance: Instance, parsed: ParsedInstance) -> None:
    """Ingest hook: create or refresh the document an instance carries (inside its transaction)."""
    ds = parsed.dataset
    if ds is None:
        return
    try:
        content = report_content(parsed.sop_class_uid, ds)
    except Exception:  # a malformed report must not fail the store of the instance itself
        logger.exception("could not extract the report from an instance")
        return
    if content is None:
        return
    study = s.get(Study, instance.study_pk)
    assert study is not None
    content_date = str(ds.get("ContentDate", "") or "")
    doc = NewDocument(
        patient_pk=study.patient_pk,
        source_kind=content.kind,
        content_type=content.content_type,
        master_identifier=f"urn:oid:{parsed.sop_instance_uid}",
        status="current",
        title=content.title,
        description=content.title if content.final else f"{content.title} (preliminary)",
        creation_date=content_date if len(content_date) == 8 and content_date.isdigit() else "",
        service_date=study.StudyDate,
        source_sop_instance_uid=parsed.sop_instance_uid,
        index=[
            content.type_code,
            REPORT_CATEGORY,
            IndexEntry("related", "urn:dicom:uid", parsed.study_uid),
        ],
    )
    documents.upsert_derived(s, doc, content.data)
