"""Records of deleted things, so a later read can say "gone" rather than "never existed".

FHIR read answers 410 Gone for a resource that was deleted (FHIR R4 RESTful API, read); the
index rows are removed on delete, so the fact of deletion is kept here, keyed by what the
caller used to address it (a Study Instance UID, a patient or document resource id).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import StrEnum

from sqlalchemy import UniqueConstraint, delete, select
from sqlmodel import Field, Session, SQLModel

from app.archive.models import utcnow


class TombstoneKindValues(StrEnum):
    STUDY = "study"
    PATIENT = "patient"
    DOCUMENT = "document"
    ATTACHMENT = "attachment"


class Tombstone(SQLModel, table=True):
    __tablename__ = "tombstone"
    __table_args__ = (UniqueConstraint("kind", "key", name="uq_tombstone_kind_key"),)

    pk: int | None = Field(default=None, primary_key=True)
    kind: str = Field()
    key: str = Field()
    version: int = 1
    deleted_at: datetime = Field(default_factory=utcnow)


def record(s: Session, kind: TombstoneKindValues, key: str, version: int) -> None:
    """Remember that ``key`` was deleted (replacing an older record of the same key)."""
    s.execute(delete(Tombstone).where(Tombstone.kind == kind.value, Tombstone.key == key))
    s.add(Tombstone(kind=kind.value, key=key, version=version))


def find(s: Session, kind: TombstoneKindValues, key: str) -> Tombstone | None:
    found: Tombstone | None = s.execute(
        select(Tombstone).where(Tombstone.kind == kind.value, Tombstone.key == key)
    ).scalar_one_or_none()
    return found


def deleted_version(kind: TombstoneKindValues) -> Callable[[Session, str], int | None]:
    """A lookup of the last version of a deleted ``kind`` resource (None if never deleted)."""

    def lookup(s: Session, key: str) -> int | None:
        found = find(s, kind, key)
        return found.version if found else None

    return lookup
