"""Audit trail: who did what to which entity, with what outcome (a leaf: imports no app package).

Modelled on FHIR AuditEvent (type/action/outcome/agent/entity). Entities are opaque ids
(a grant id, a client id, an account id), never patient identifiers, tokens or codes.
"""

from app.audit.events import AuditRecord, recent, record
from app.audit.models import AuditEvent

__all__ = ["AuditEvent", "AuditRecord", "recent", "record"]
