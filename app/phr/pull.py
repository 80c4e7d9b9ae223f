"""Pull: a PHR holding a patient's token asks for a study's package and fetches its files.

The manifest is answered at once: the FHIR Bundle and the reports are small and go
``embedded`` (each already a JWE for the PHR's key); every DICOM file (or part) gets a
``location`` — a capability URL with 256 bits of entropy that lives ``phr_pull_ttl_seconds``
(at most an hour, as SMART Health Links ``location`` URLs do) and needs no other
authentication: what it returns only the PHR's private key opens. Each file is encrypted when
it is fetched, with a fresh content key and IV, from the blob named in the package row; only the
SHA-256 of the location token is stored.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta

from sqlalchemy import delete, select
from sqlmodel import Session

from app.db import session_scope
from app.errors import Forbidden, NotFound, ServiceUnavailable
from app.phr import recipients
from app.phr.jwe import encrypt_file
from app.phr.keys import KeyFetchError, RecipientKey, choose
from app.phr.models import PullFile, PullPackage, Recipient, utcnow
from app.phr.package import (
    IntegrityError,
    PlannedFile,
    encrypt_files,
    manifest,
    manifest_entry,
    plan_study,
    read_plaintext,
)
from app.phr.service import PhrService, Requester, find_study

FILES_PATH = "/phr/files"


def pull_recipient(svc: PhrService, who: Requester) -> Recipient:
    """The registered PHR the requesting client is; Forbidden for any other client."""
    recipient = recipients.by_client(svc.engine, who.client_id) if who.client_id else None
    if recipient is None or recipient.disabled:
        raise Forbidden("this app is not registered as a PHR recipient", "client_id")
    return recipient


def _key(svc: PhrService, recipient: Recipient, kid: str | None = None) -> RecipientKey:
    try:
        return choose(svc.keys.keys(recipient.jwks, recipient.jwks_uri), kid)
    except KeyFetchError as exc:
        raise ServiceUnavailable(f"the PHR's encryption keys are unavailable: {exc}") from exc


def create_manifest(svc: PhrService, who: Requester, study_uid: str) -> bytes:
    """A manifest for one of the requester's studies, for the requesting PHR's key."""
    recipient = pull_recipient(svc, who)
    package_id = str(uuid.uuid4())
    now = utcnow()
    key = _key(svc, recipient)
    with session_scope(svc.engine) as s:
        study = find_study(s, study_uid, who)
        assert study.pk is not None
        plan = plan_study(
            s,
            svc.store,
            study.pk,
            svc.resources,
            svc.settings.base_url,
            svc.settings.phr_part_size,
        )
        small = [f for f in plan.files if f.blob_key is None]
        embedded = {id(f): jwe for f, jwe in encrypt_files(s, svc.store, small, key.key)}
        s.add(
            PullPackage(
                id=package_id,
                recipient_id=recipient.id,
                patient_pk=study.patient_pk,
                study_uid=study_uid,
                kid=key.kid,
                created_at=now,
                expires_at=now + timedelta(seconds=svc.settings.phr_pull_ttl_seconds),
            )
        )
        s.flush()
        entries = []
        for f in plan.files:
            if id(f) in embedded:
                entries.append(manifest_entry(f, embedded=embedded[id(f)].decode("ascii")))
            else:
                entries.append(manifest_entry(f, location=_location(svc, s, package_id, f)))
    svc.audit("phr.pull.manifest", "success", who.agent, package_id, f"recipient {recipient.id}")
    return manifest(package_id, key.kid, now.isoformat(), entries)


def _location(svc: PhrService, s: Session, package_id: str, f: PlannedFile) -> str:
    assert f.blob_key is not None
    token = secrets.token_urlsafe(32)
    s.add(
        PullFile(
            token_hash=_hash(token),
            package_id=package_id,
            blob_key=f.blob_key,
            byte_offset=f.offset,
            byte_length=f.size,
            sha256=f.sha256,
            content_type=f.content_type,
        )
    )
    return f"{svc.settings.base_url}{FILES_PATH}/{token}"


def fetch_file(svc: PhrService, token: str) -> bytes:
    """The compact JWE behind a location URL; NotFound when unknown or expired."""
    with Session(svc.engine) as s:
        found = s.execute(
            select(PullFile, PullPackage)
            .join(PullPackage, PullFile.package_id == PullPackage.id)
            .where(PullFile.token_hash == _hash(token))
        ).first()
        if found is None or found[1].expires_at <= utcnow():
            raise NotFound("no such file, or its location has expired")
        row, package = found
        recipient = s.get(Recipient, package.recipient_id)
        if recipient is None or recipient.disabled:
            raise NotFound("no such file, or its location has expired")
        planned = PlannedFile(
            row.content_type,
            row.sha256,
            row.byte_length,
            blob_key=row.blob_key,
            offset=row.byte_offset,
        )
        try:
            data = read_plaintext(s, svc.store, planned)
        except IntegrityError as exc:
            raise ServiceUnavailable("the stored copy failed its integrity check") from exc
    key = _key(svc, recipient, package.kid)
    return encrypt_file(data, key.key, planned.content_type)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def purge_expired(svc: PhrService) -> int:
    """Drop expired pull packages and their file rows."""
    now = utcnow()
    with session_scope(svc.engine) as s:
        ids = list(s.execute(select(PullPackage.id).where(PullPackage.expires_at <= now)).scalars())
        if ids:
            s.execute(delete(PullFile).where(PullFile.package_id.in_(ids)))
            s.execute(delete(PullPackage).where(PullPackage.id.in_(ids)))
    return len(ids)
