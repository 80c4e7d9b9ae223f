"""Remove what can no longer be used: expired sessions, pending requests, launches, codes,
assertion ids and tokens. Run at start-up; every check that matters also tests expiry itself,
so a late purge is never a hole, only clutter."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, or_
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from smart.models import AuthorizationCode, Launch, PendingAuthorization, Token, UsedAssertion
from smart.models import Session as BrowserSession

#: Spent codes are kept a day so a late replay still revokes its grant (RFC 6749 §4.1.2).
CODE_MEMORY = timedelta(days=1)
TOKEN_MEMORY = 7 * 24 * 3600


def purge_expired(engine: Engine) -> int:
    now = datetime.now(UTC)
    epoch = int(time.time())
    statements = [
        delete(BrowserSession).where(col(BrowserSession.expires_at) < now),
        delete(PendingAuthorization).where(col(PendingAuthorization.expires_at) < now),
        delete(Launch).where(col(Launch.expires_at) < now),
        delete(UsedAssertion).where(col(UsedAssertion.expires_at) < now),
        delete(AuthorizationCode).where(col(AuthorizationCode.expires_at) < now - CODE_MEMORY),
        delete(Token).where(
            col(Token.issued_at) + col(Token.expires_in) < epoch - TOKEN_MEMORY,
            or_(
                col(Token.refresh_expires_at).is_(None),
                col(Token.refresh_expires_at) < epoch - TOKEN_MEMORY,
            ),
        ),
    ]
    removed = 0
    with Session(engine) as s:
        for statement in statements:
            removed += int(getattr(s.execute(statement), "rowcount", 0) or 0)
        s.commit()
    return removed
