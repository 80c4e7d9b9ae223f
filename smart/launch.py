"""EHR-style launches from the portal ("open in app"), SMART App Launch §"EHR launch".

The portal stores the context (patient, the chosen ImagingStudy) under an opaque ``launch``
value and sends the browser to the app's launch URL with ``iss`` and ``launch``. The app asks
for the ``launch`` scope with that value; the context then arrives with the access token as
``patient`` and ``fhirContext``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.engine import Engine
from sqlmodel import Session

from app import audit
from smart import clients, hashing
from smart.models import Launch

LIFETIME = timedelta(minutes=10)


class LaunchError(ValueError):
    """The app cannot be launched; the message is safe to show."""


@dataclass(frozen=True)
class LaunchContext:
    user_id: str
    client_id: str
    context: dict[str, Any]


def start(
    engine: Engine, user_id: str, client_id: str, fhir_context: list[dict[str, str]], iss: str
) -> str:
    """Record a launch for ``user_id`` and return the URL to send the browser to."""
    client = clients.get(engine, client_id)
    if client is None or not client.launch_uri:
        raise LaunchError("That app cannot be opened from here.")
    value = hashing.new_token()
    with Session(engine, expire_on_commit=False) as s:
        s.add(
            Launch(
                id_hash=hashing.sha256(value),
                user_id=user_id,
                client_id=client_id,
                context=json.dumps({"fhirContext": fhir_context, "need_patient_banner": False}),
                expires_at=datetime.now(UTC) + LIFETIME,
            )
        )
        s.commit()
    audit.record(engine, "launch.start", agent=user_id, entity=client_id)
    sep = "&" if "?" in client.launch_uri else "?"
    return f"{client.launch_uri}{sep}{urlencode({'iss': iss, 'launch': value})}"


def find(engine: Engine, value: str | None, client: Any) -> LaunchContext | None:
    """The unexpired launch ``value`` made for this client."""
    if not value or client is None:
        return None
    with Session(engine, expire_on_commit=False) as s:
        row = s.get(Launch, hashing.sha256(value))
        if row is None or row.expires_at < datetime.now(UTC):
            return None
        if row.client_id != client.get_client_id():
            return None
        return LaunchContext(row.user_id, row.client_id, json.loads(row.context))
