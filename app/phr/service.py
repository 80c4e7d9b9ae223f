"""The PHR service object and the patient-facing delivery operations (no HTTP here).

``PhrService`` bundles what delivery needs — database, blob store, settings, the recipient key
source and the study → FHIR resources function (injected: this package never imports the FHIR
HTTP layer) — and records audit events through ``app.audit``. It is built once by the
composition root (``app.main`` for the server, ``app.cli`` for ``imageshare worker``). Callers
are described by a ``Requester``: routes build one from the verified principal, so services
never see a request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, false, or_, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app import audit
from app.archive.blobs import BlobStore
from app.archive.models import Patient, Study
from app.config import Settings
from app.errors import InvalidInput, NotFound
from app.phr import outbox, recipients
from app.phr.keys import KeySource
from app.phr.models import ACTIVE_STATES, Delivery, DeliveryAttempt, Recipient
from app.phr.package import StudyResources

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Requester:
    """Who asks, in plain values: ``patients`` are the (Patient ID, Issuer) identities the
    caller may act for (None: any patient, for administrators and the auth-off demo)."""

    agent: str
    patients: frozenset[tuple[str, str]] | None
    client_id: str | None = None


@dataclass
class PhrService:
    engine: Engine
    store: BlobStore
    settings: Settings
    resources: StudyResources
    keys: KeySource = field(default_factory=KeySource)
    #: Called after a delivery is queued, so an in-process worker starts at once.
    wake: Callable[[], None] = lambda: None

    def audit(self, action: str, outcome: str, agent: str, entity: str, detail: str) -> None:
        """An audit event (``app.audit``): the entity is an opaque id (a delivery, package or
        recipient id), never a patient identifier."""
        audit.record(
            self.engine, action, outcome=outcome, agent=agent, entity=entity, detail=detail
        )


def find_study(s: Session, study_uid: str, who: Requester) -> Study:
    """The study if the requester may act on it; NotFound otherwise (existence never leaks)."""
    query = select(Study).where(Study.StudyInstanceUID == study_uid)
    if who.patients is not None:
        allowed = [
            and_(Study.PatientID == pid, Study.IssuerOfPatientID == issuer)
            for pid, issuer in sorted(who.patients)
        ]
        query = query.where(or_(*allowed) if allowed else false())
    study: Study | None = s.execute(query).scalar()
    if study is None:
        raise NotFound("no study with that UID")
    return study


def request_delivery(
    svc: PhrService, who: Requester, study_uid: str, recipient_id: str
) -> Delivery:
    """Queue a push of one of the requester's studies to a registered PHR."""
    with Session(svc.engine) as s:
        study = find_study(s, study_uid, who)
        study_pk, patient_pk = study.pk, study.patient_pk
    try:
        recipient = recipients.get(svc.engine, recipient_id)
    except NotFound as exc:
        raise InvalidInput("no such PHR is registered", "recipient") from exc
    if recipient.disabled or recipient.endpoint is None:
        raise InvalidInput("that PHR does not accept deliveries", "recipient")
    assert study_pk is not None
    job = outbox.new_delivery(svc.engine, recipient.id, patient_pk, study_pk, study_uid, who.agent)
    svc.audit("phr.delivery.request", "success", who.agent, job.id, f"recipient {recipient.id}")
    svc.wake()
    return job


def _patient_pks(s: Session, who: Requester) -> list[int] | None:
    """Patient row keys of the requester's identities (None: unrestricted)."""
    if who.patients is None:
        return None
    allowed = [
        and_(Patient.PatientID == pid, Patient.IssuerOfPatientID == issuer)
        for pid, issuer in sorted(who.patients)
    ]
    query = select(Patient.pk).where(or_(*allowed) if allowed else false())
    return [pk for pk in s.execute(query).scalars() if pk is not None]


def deliveries(svc: PhrService, who: Requester, limit: int = 100) -> list[dict[str, Any]]:
    """The requester's deliveries, newest first, as the patient sees them."""
    with Session(svc.engine) as s:
        query = select(Delivery, Recipient.name).join(
            Recipient, Delivery.recipient_id == Recipient.id
        )
        pks = _patient_pks(s, who)
        if pks is not None:
            query = query.where(Delivery.patient_pk.in_(pks))
        query = query.order_by(Delivery.created_at.desc(), Delivery.id).limit(limit)
        return [view(d, name) for d, name in s.execute(query).all()]


def delivery(svc: PhrService, who: Requester, job_id: str) -> dict[str, Any]:
    """One delivery with its attempts; NotFound for another patient's."""
    with Session(svc.engine) as s:
        found = s.execute(
            select(Delivery, Recipient.name)
            .join(Recipient, Delivery.recipient_id == Recipient.id)
            .where(Delivery.id == job_id)
        ).first()
        pks = _patient_pks(s, who)
        if found is None or (pks is not None and found[0].patient_pk not in pks):
            raise NotFound("no such delivery")
        tries = s.execute(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.delivery_id == job_id)
            .order_by(DeliveryAttempt.pk)
        ).scalars()
        out = view(found[0], found[1])
        out["attempt_log"] = [
            {
                "number": a.number,
                "stage": a.stage,
                "outcome": a.outcome,
                "http_status": a.http_status,
                "detail": a.detail,
                "at": a.finished_at.isoformat(),
            }
            for a in tries
        ]
        return out


def view(d: Delivery, recipient_name: str) -> dict[str, Any]:
    active = d.state in ACTIVE_STATES
    return {
        "id": d.id,
        "study": d.study_uid,
        "recipient": {"id": d.recipient_id, "name": recipient_name},
        "state": d.state,
        "detail": d.detail,
        "attempts": d.attempts,
        "files": d.files,
        "size": d.body_size,
        "created": d.created_at.isoformat(),
        "updated": d.updated_at.isoformat(),
        "next_attempt": d.next_attempt_at.isoformat() if active else None,
        "release_at": d.release_at.isoformat() if d.release_at else None,
        "delivered": d.delivered_at.isoformat() if d.delivered_at else None,
    }
