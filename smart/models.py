"""Authorization-server tables: users, clients, codes, grants, tokens, sessions, keys.

Every secret (password, access code, client secret, token, code, session id) is stored only as
a hash: SHA-256 for high-entropy random values, argon2 for what people choose or type. Patient
identifiers are opaque strings here: this package knows nothing of DICOM.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class User(SQLModel, table=True):
    """A person who signs in: a patient (linked to one patient identity) or staff."""

    __tablename__ = "smart_user"

    id: str = Field(primary_key=True)
    username: str | None = Field(default=None, unique=True, index=True)
    password_hash: str | None = None
    role: str = Field(default="patient")
    patient_id: str = Field(default="")
    patient_issuer: str = Field(default="")
    birth_date: str = Field(default="")
    failed_signins: int = 0
    locked_until: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    claimed_at: datetime | None = None


class Enrolment(SQLModel, table=True):
    """A one-time access code: public selector plus an argon2 hash of the secret part."""

    __tablename__ = "smart_enrolment"

    selector: str = Field(primary_key=True)
    user_id: str = Field(foreign_key="smart_user.id", index=True)
    secret_hash: str
    failed_attempts: int = 0
    expires_at: datetime
    used_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class Client(SQLModel, table=True):
    __tablename__ = "smart_client"

    client_id: str = Field(primary_key=True)
    name: str
    secret_hash: str | None = None
    auth_method: str = Field(default="none")
    redirect_uris: str = Field(default="", sa_column=Column(Text, nullable=False))
    launch_uri: str = Field(default="")
    scope: str = Field(default="", sa_column=Column(Text, nullable=False))
    grant_types: str = Field(default="authorization_code refresh_token")
    jwks: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    jwks_uri: str | None = None
    is_admin: bool = False
    disabled: bool = False
    created_at: datetime = Field(default_factory=utcnow)


class RegistrationToken(SQLModel, table=True):
    """An RFC 7591 initial access token, issued by an administrator from the CLI."""

    __tablename__ = "smart_registration_token"

    token_hash: str = Field(primary_key=True)
    uses_left: int = 1
    expires_at: datetime
    created_at: datetime = Field(default_factory=utcnow)


class Grant(SQLModel, table=True):
    """A patient's consent to one app: what it may do. Revoking it kills its tokens."""

    __tablename__ = "smart_grant"

    id: str = Field(primary_key=True)
    user_id: str = Field(foreign_key="smart_user.id", index=True)
    client_id: str = Field(foreign_key="smart_client.client_id", index=True)
    scope: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None


class AuthorizationCode(SQLModel, table=True):
    __tablename__ = "smart_code"

    code_hash: str = Field(primary_key=True)
    client_id: str = Field(index=True)
    user_id: str
    grant_id: str
    redirect_uri: str
    scope: str = Field(sa_column=Column(Text, nullable=False))
    code_challenge: str
    code_challenge_method: str
    nonce: str | None = None
    context: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    auth_time: int
    expires_at: datetime
    used_at: datetime | None = None


class Token(SQLModel, table=True):
    """An issued access token (and its refresh token), both stored as SHA-256 hashes."""

    __tablename__ = "smart_token"

    id: str = Field(primary_key=True)
    access_hash: str = Field(unique=True, index=True)
    refresh_hash: str | None = Field(default=None, unique=True, index=True)
    client_id: str = Field(index=True)
    user_id: str | None = Field(default=None, index=True)
    grant_id: str | None = Field(default=None, index=True)
    scope: str = Field(sa_column=Column(Text, nullable=False))
    context: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    issued_at: int
    expires_in: int
    refresh_expires_at: int | None = None
    access_revoked: bool = False
    refresh_revoked: bool = False


class Session(SQLModel, table=True):
    """A browser session on the sign-in, consent and portal pages (cookie holds the id)."""

    __tablename__ = "smart_session"

    id_hash: str = Field(primary_key=True)
    csrf_token: str
    user_id: str | None = Field(default=None, index=True)
    auth_time: int | None = None
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime


class PendingAuthorization(SQLModel, table=True):
    """An authorization request waiting for sign-in and consent, bound to one browser session."""

    __tablename__ = "smart_pending"

    id: str = Field(primary_key=True)
    session_hash: str = Field(index=True)
    params: str = Field(sa_column=Column(Text, nullable=False))
    expires_at: datetime


class Launch(SQLModel, table=True):
    """An EHR-style launch from the portal: the opaque ``launch`` value and its context."""

    __tablename__ = "smart_launch"

    id_hash: str = Field(primary_key=True)
    user_id: str
    client_id: str
    context: str = Field(sa_column=Column(Text, nullable=False))
    expires_at: datetime


class UsedAssertion(SQLModel, table=True):
    """``jti`` values of client assertions already seen, kept until they expire (replay)."""

    __tablename__ = "smart_jti"
    __table_args__ = (UniqueConstraint("client_id", "jti", name="uq_smart_jti"),)

    pk: int | None = Field(default=None, primary_key=True)
    client_id: str
    jti: str
    expires_at: datetime = Field(index=True)


class SigningKey(SQLModel, table=True):
    """A private signing key (JWK JSON). Retired keys stay published until they expire."""

    __tablename__ = "smart_signing_key"

    kid: str = Field(primary_key=True)
    alg: str = Field(default="RS256")
    private_jwk: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    retired_at: datetime | None = None
