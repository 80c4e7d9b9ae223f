"""PHR tables: registered recipients, the delivery outbox, delivery attempts and pull packages.

Nothing here holds plaintext patient data: a delivery names its study by primary key, a pull
package lists stored blobs by key with the SHA-256 each must have. The outbox row *is* the job:
its ``state`` moves queued → (waiting) → preparing → encrypting → sending → delivered | failed,
and a lease (``lease_owner``/``lease_until``) lets exactly one worker process hold it at a time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Column, Index, Text
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class DeliveryStateValues(StrEnum):
    """Named job states (after RSNA Image Share's edge-server job states)."""

    QUEUED = "queued"
    #: Held by the release delay, or waiting for the study's report.
    WAITING = "waiting"
    PREPARING = "preparing"
    ENCRYPTING = "encrypting"
    SENDING = "sending"
    DELIVERED = "delivered"
    FAILED = "failed"


#: States a worker may pick up (the others are final).
ACTIVE_STATES = (
    DeliveryStateValues.QUEUED,
    DeliveryStateValues.WAITING,
    DeliveryStateValues.PREPARING,
    DeliveryStateValues.ENCRYPTING,
    DeliveryStateValues.SENDING,
)


class Recipient(SQLModel, table=True):
    """A registered PHR: its public encryption keys and, for push, its receiving endpoint."""

    __tablename__ = "phr_recipient"

    id: str = Field(primary_key=True)
    name: str
    #: The PHR's SMART client registration, when it is the same party (pull needs it).
    client_id: str | None = Field(default=None, unique=True, index=True)
    #: Inline JWK Set (public keys only), or a URL the set is fetched from.
    jwks: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    jwks_uri: str | None = None
    #: Where pushed packages are POSTed (None: pull only).
    endpoint: str | None = None
    #: A bearer token the PHR gave us to present when pushing (outbound credential).
    push_token: str | None = None
    disabled: bool = False
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Delivery(SQLModel, table=True):
    """One push of one study to one recipient: the outbox job."""

    __tablename__ = "phr_delivery"
    __table_args__ = (Index("ix_phr_delivery_due", "state", "next_attempt_at"),)

    #: The delivery id (a UUID), sent with the package so the receiver can ignore repeats.
    id: str = Field(primary_key=True)
    recipient_id: str = Field(foreign_key="phr_recipient.id", index=True)
    patient_pk: int = Field(index=True)
    study_pk: int | None = Field(default=None, index=True)
    #: Kept so the patient still sees which study a delivery was for after a deletion.
    study_uid: str
    #: Who asked (an account or client id; never a patient identifier).
    requested_by: str = Field(default="")
    state: str = Field(default=DeliveryStateValues.QUEUED)
    #: Why the job waits, or why it failed (safe to show to the patient).
    detail: str = Field(default="", sa_column=Column(Text, nullable=False))
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow)
    #: Earliest release (report time + release delay), once known.
    release_at: datetime | None = None
    kid: str | None = None
    #: Ciphertext spool: media type of the body and its size once encrypted.
    body_type: str | None = None
    body_size: int | None = Field(default=None, sa_type=BigInteger)
    files: int | None = None
    lease_owner: str | None = None
    lease_until: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow, index=True)
    updated_at: datetime = Field(default_factory=utcnow)
    delivered_at: datetime | None = None


class DeliveryAttempt(SQLModel, table=True):
    """One try at a stage of a delivery and how it ended (for the patient and the audit)."""

    __tablename__ = "phr_attempt"

    pk: int | None = Field(default=None, primary_key=True)
    delivery_id: str = Field(foreign_key="phr_delivery.id", index=True)
    number: int
    stage: str
    #: ``delivered``, ``retry`` or ``failed``.
    outcome: str
    http_status: int | None = None
    detail: str = Field(default="", sa_column=Column(Text, nullable=False))
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime = Field(default_factory=utcnow)


class PullPackage(SQLModel, table=True):
    """A manifest handed to a PHR: its files' locations live until ``expires_at``."""

    __tablename__ = "phr_package"

    id: str = Field(primary_key=True)
    recipient_id: str = Field(foreign_key="phr_recipient.id", index=True)
    patient_pk: int = Field(index=True)
    study_uid: str
    kid: str
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime = Field(index=True)


class PullFile(SQLModel, table=True):
    """A file of a pull package served by location: which stored bytes, and their hash.

    ``token_hash`` is the SHA-256 of the random location token (the URL is the capability, as
    SMART Health Links ``location`` URLs are); the token itself is never stored.
    """

    __tablename__ = "phr_package_file"

    token_hash: str = Field(primary_key=True)
    package_id: str = Field(foreign_key="phr_package.id", index=True)
    blob_key: str
    byte_offset: int = Field(default=0, sa_type=BigInteger)
    byte_length: int = Field(sa_type=BigInteger)
    sha256: str
    content_type: str
