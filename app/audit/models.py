"""The audit table (shaped after FHIR AuditEvent)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"

    pk: int | None = Field(default=None, primary_key=True)
    recorded: datetime = Field(default_factory=utcnow, index=True)
    #: What happened, dotted: ``grant.create``, ``token.issue``, ``token.refuse``, ``signin.fail``.
    action: str = Field(index=True)
    #: ``success`` or ``failure`` (AuditEvent.outcome 0 / 4).
    outcome: str
    #: Who: a client id, an account id or ``admin-cli``.
    agent: str = Field(default="", index=True)
    #: The object acted on (opaque id).
    entity: str = Field(default="", index=True)
    #: Short reason or summary; never a secret or a patient identifier.
    detail: str = Field(default="")
