"""Binary: the content of a document, raw or as a FHIR resource (FHIR R4 binary.html).

A read returns the raw bytes with their own media type unless the client asks for FHIR
(``_format`` or an Accept of ``application/fhir+json``), in which case it gets the Binary
resource with the content base64-encoded in ``data``. ``securityContext`` names the
DocumentReference whose access rules govern the content.
"""

from __future__ import annotations

import base64
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from app.archive import tombstones
from app.archive.documents import Attachment, Document
from app.archive.tombstones import TombstoneKindValues
from app.fhir.resource import Context, Loaded, SqlResource, meta

#: Media types a browser would run as active content: served sandboxed (CSP) when raw.
ACTIVE_TYPES = frozenset(
    {"text/html", "application/xhtml+xml", "image/svg+xml", "text/xml", "application/xml"}
)


def binary_resource(
    resource_id: str,
    content_type: str,
    data: bytes,
    version: int,
    updated: Any,
    document_id: str | None,
) -> dict[str, Any]:
    """Binary resource with inline data (pure)."""
    out: dict[str, Any] = {
        "resourceType": "Binary",
        "id": resource_id,
        "meta": meta(version, updated, None),
        "contentType": content_type,
    }
    if document_id:
        out["securityContext"] = {"reference": f"DocumentReference/{document_id}"}
    out["data"] = base64.b64encode(data).decode("ascii")
    return out


def load_binaries(s: Session, pks: list[int], _ctx: Context) -> list[Loaded]:
    out = []
    for pk in pks:
        att = s.get(Attachment, pk)
        if att is None:
            continue
        doc = s.execute(
            select(Document.resource_id).where(Document.attachment_pk == pk).limit(1)
        ).scalar()
        resource = binary_resource(
            att.resource_id, att.content_type, att.data, att.version, att.updated_at, doc
        )
        out.append(
            Loaded(
                resource,
                att.version,
                att.updated_at,
                att.resource_id,
                pk,
                att.patient_pk,
                att.data,
                att.content_type,
            )
        )
    return out


RESOURCE = SqlResource(
    name="Binary",
    profile=None,
    params={},
    base=lambda: select(Attachment.pk),
    pk_column=Attachment.pk,
    id_column=Attachment.resource_id,
    patient_column=Attachment.patient_pk,
    order=lambda: (Attachment.pk,),
    load=load_binaries,
    gone=tombstones.deleted_version(TombstoneKindValues.ATTACHMENT),
    mandatory=frozenset({"contentType"}),
)
