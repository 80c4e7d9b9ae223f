"""Patient accounts: enrolment by site staff, claim by the patient, sign-in with lockout.

RSNA Image Share's patient PIN was an unsalted SHA-256 of birth date + a 9-character code and
could be brute-forced offline. Here the access code is 160 random bits (40 of them a public
selector), its secret part stored only with argon2; the birth date is checked as a second
factor, and both claim attempts and sign-ins are limited.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from app import audit
from smart import hashing
from smart.models import Enrolment, User

logger = logging.getLogger(__name__)

MAX_FAILED_SIGNINS = 5
LOCKOUT = timedelta(minutes=15)
MAX_CLAIM_ATTEMPTS = 5
CODE_LIFETIME = timedelta(days=30)
MIN_PASSWORD = 10
_USERNAME = re.compile(r"^[A-Za-z0-9._@+-]{3,64}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: Verified against when the username is unknown, so timing does not reveal which names exist.
_DUMMY_HASH = hashing.slow_hash("not a real password")


class AccountError(Exception):
    """A refusal whose message is safe to show on the page."""


@dataclass(frozen=True)
class Enrolled:
    user_id: str
    access_code: str
    expires_at: datetime


def _now() -> datetime:
    return datetime.now(UTC)


def normalise_birth_date(value: str) -> str:
    """``YYYY-MM-DD`` (also accepts DICOM ``YYYYMMDD``); raises AccountError otherwise."""
    value = value.strip()
    if re.fullmatch(r"\d{8}", value):
        value = f"{value[:4]}-{value[4:6]}-{value[6:]}"
    if not _DATE.match(value):
        raise AccountError("Birth date must be written as YYYY-MM-DD.")
    try:
        datetime.strptime(value, "%Y-%m-%d")
    except ValueError as exc:
        raise AccountError("Birth date is not a valid date.") from exc
    return value


def enrol(engine: Engine, patient_id: str, issuer: str, birth_date: str) -> Enrolled:
    """Create (or re-issue) a patient's account and a fresh one-time access code.

    Re-enrolling an identity replaces any unused code; an already claimed account keeps its
    password, and the new code lets the patient reset it.
    """
    if not patient_id.strip():
        raise AccountError("A patient id is required.")
    birth = normalise_birth_date(birth_date)
    code, selector, secret = hashing.new_access_code()
    expires = _now() + CODE_LIFETIME
    with Session(engine, expire_on_commit=False) as s:
        user = s.exec(
            select(User).where(User.patient_id == patient_id, User.patient_issuer == issuer)
        ).first()
        if user is None:
            user = User(id=uuid.uuid4().hex, patient_id=patient_id, patient_issuer=issuer)
        user.birth_date = birth
        s.add(user)
        for old in s.exec(select(Enrolment).where(Enrolment.user_id == user.id)).all():
            s.delete(old)
        s.add(
            Enrolment(
                selector=selector,
                user_id=user.id,
                secret_hash=hashing.slow_hash(secret),
                expires_at=expires,
            )
        )
        s.commit()
        user_id = user.id
    audit.record(engine, "account.enrol", agent="admin-cli", entity=user_id)
    return Enrolled(user_id, code, expires)


def claim(engine: Engine, code: str, birth_date: str, username: str, password: str) -> str:
    """Turn a valid access code + birth date into a signed-in account; returns the user id."""
    parts = hashing.split_access_code(code)
    if parts is None:
        raise AccountError("That access code is not valid.")
    birth = normalise_birth_date(birth_date)
    _check_new_credentials(username, password)
    selector, secret = parts
    with Session(engine, expire_on_commit=False) as s:
        enrolment = s.get(Enrolment, selector)
        if enrolment is None or enrolment.used_at is not None or enrolment.expires_at < _now():
            audit.record(engine, "account.claim", outcome="failure", detail="unknown code")
            raise AccountError("That access code is not valid.")
        if enrolment.failed_attempts >= MAX_CLAIM_ATTEMPTS:
            raise AccountError("This access code is locked. Ask the site for a new one.")
        user = s.get(User, enrolment.user_id)
        assert user is not None
        if not hashing.slow_verify(enrolment.secret_hash, secret) or user.birth_date != birth:
            enrolment.failed_attempts += 1
            s.add(enrolment)
            s.commit()
            audit.record(
                engine, "account.claim", outcome="failure", entity=user.id, detail="mismatch"
            )
            raise AccountError("The access code and birth date do not match our records.")
        taken = s.exec(select(User).where(User.username == username)).first()
        if taken is not None and taken.id != user.id:
            raise AccountError("That username is taken; choose another.")
        user.username = username
        user.password_hash = hashing.slow_hash(password)
        user.claimed_at = _now()
        user.failed_signins = 0
        user.locked_until = None
        enrolment.used_at = _now()
        s.add(user)
        s.add(enrolment)
        s.commit()
        user_id = user.id
    audit.record(engine, "account.claim", agent=user_id, entity=user_id)
    return user_id


def _check_new_credentials(username: str, password: str) -> None:
    if not _USERNAME.match(username):
        raise AccountError("Username: 3 to 64 letters, digits or . _ @ + - (no spaces).")
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"Password: at least {MIN_PASSWORD} characters.")


def sign_in(engine: Engine, username: str, password: str) -> str:
    """Check a username and password; returns the user id. Locks after repeated failures."""
    with Session(engine, expire_on_commit=False) as s:
        user = s.exec(select(User).where(User.username == username)).first()
        if user is None or user.password_hash is None:
            hashing.slow_verify(_DUMMY_HASH, password)
            audit.record(engine, "signin", outcome="failure", detail="unknown user")
            raise AccountError("Username or password is wrong.")
        if user.locked_until is not None and user.locked_until > _now():
            audit.record(engine, "signin", outcome="failure", entity=user.id, detail="locked")
            raise AccountError(
                "Too many failed attempts: this account is locked for a while. Try later."
            )
        if not hashing.slow_verify(user.password_hash, password):
            user.failed_signins += 1
            detail = "wrong password"
            if user.failed_signins >= MAX_FAILED_SIGNINS:
                user.locked_until = _now() + LOCKOUT
                user.failed_signins = 0
                detail = "locked out"
            s.add(user)
            s.commit()
            audit.record(engine, "signin", outcome="failure", entity=user.id, detail=detail)
            raise AccountError("Username or password is wrong.")
        user.failed_signins = 0
        user.locked_until = None
        s.add(user)
        s.commit()
        user_id = user.id
    audit.record(engine, "signin", agent=user_id, entity=user_id)
    return user_id


def get_user(engine: Engine, user_id: str) -> User | None:
    with Session(engine, expire_on_commit=False) as s:
        return s.get(User, user_id)


def set_password(engine: Engine, user_id: str, username: str, password: str) -> None:
    """Give an account a username and password directly (the demo's ready-made account)."""
    _check_new_credentials(username, password)
    with Session(engine, expire_on_commit=False) as s:
        user = s.get(User, user_id)
        if user is None:
            raise AccountError("no such account")
        user.username = username
        user.password_hash = hashing.slow_hash(password)
        user.claimed_at = user.claimed_at or _now()
        s.add(user)
        s.commit()
