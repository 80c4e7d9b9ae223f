"""Signing keys: persisted, published at ``/oauth/jwks``, rotated without breaking live tokens.

ID tokens are RS256 (OpenID Connect Core §15.1 makes RS256 the algorithm every relying party
supports). Access tokens are opaque random strings looked up by hash, so a rotation never
invalidates them; a retired key stays published for ``RETIRED_GRACE`` so ID tokens signed just
before a rotation still verify.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from joserfc.jwk import KeySet, RSAKey
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app import audit
from smart.models import SigningKey

logger = logging.getLogger(__name__)

ALG = "RS256"
RETIRED_GRACE = timedelta(days=2)


def _now() -> datetime:
    return datetime.now(UTC)


def _new_key() -> RSAKey:
    key = RSAKey.generate_key(2048, parameters={"alg": ALG, "use": "sig"}, private=True)
    key.ensure_kid()
    return key


def _store(s: Session, key: RSAKey) -> None:
    s.add(SigningKey(kid=str(key.kid), alg=ALG, private_jwk=json.dumps(key.as_dict(private=True))))


def current(engine: Engine) -> RSAKey:
    """The newest active key, created on first use."""
    with Session(engine, expire_on_commit=False) as s:
        row = s.exec(
            select(SigningKey)
            .where(col(SigningKey.retired_at).is_(None))
            .order_by(col(SigningKey.created_at).desc())
        ).first()
        if row is not None:
            return RSAKey.import_key(json.loads(row.private_jwk))
        key = _new_key()
        _store(s, key)
        s.commit()
        logger.info("created the first signing key")
        return key


def rotate(engine: Engine) -> str:
    """Start signing with a new key; the old ones stay published for ``RETIRED_GRACE``."""
    key = _new_key()
    with Session(engine, expire_on_commit=False) as s:
        for row in s.exec(select(SigningKey).where(col(SigningKey.retired_at).is_(None))):
            row.retired_at = _now()
            s.add(row)
        _store(s, key)
        s.commit()
    audit.record(engine, "key.rotate", agent="admin-cli", entity=str(key.kid))
    return str(key.kid)


def published(engine: Engine) -> KeySet:
    """Active keys and keys retired within the grace period (public parts only on export)."""
    current(engine)
    cutoff = _now() - RETIRED_GRACE
    with Session(engine, expire_on_commit=False) as s:
        rows = s.exec(
            select(SigningKey).where(
                (col(SigningKey.retired_at).is_(None)) | (col(SigningKey.retired_at) > cutoff)
            )
        ).all()
        return KeySet([RSAKey.import_key(json.loads(r.private_jwk)) for r in rows])


def jwks(engine: Engine) -> dict[str, Any]:
    """The JWK Set document for ``/oauth/jwks`` (public keys only)."""
    doc: dict[str, Any] = dict(published(engine).as_dict(private=False))
    return doc
