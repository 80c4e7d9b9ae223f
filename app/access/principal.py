"""The caller of a request, as every service sees it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from app.archive.compartment import Compartment
from smart import scopes as smart_scopes

Kind = Literal["patient", "system", "admin"]


@dataclass(frozen=True)
class Principal:
    """A verified caller: a patient's app, a site system (backend service) or an administrator.

    ``patients`` holds the (Patient ID, Issuer) identities a patient token is about; system and
    administrator callers are not limited to patients but still only get what their scopes say.
    """

    kind: Kind
    client_id: str | None
    scopes: tuple[str, ...]
    patients: frozenset[tuple[str, str]] = frozenset()
    #: FHIR Patient ids of the launch context (for the FHIR layer's ``patient`` checks).
    fhir_patients: frozenset[str] = frozenset()
    fhir_context: tuple[dict[str, Any], ...] = ()
    _parsed: tuple[smart_scopes.ClinicalScope, ...] = field(default=(), repr=False, compare=False)

    @classmethod
    def create(
        cls, kind: Kind, client_id: str | None, granted: tuple[str, ...], **kw: Any
    ) -> Principal:
        return cls(kind, client_id, granted, _parsed=tuple(smart_scopes.clinical(granted)), **kw)

    @classmethod
    def local_demo(cls) -> Principal:
        """Everything allowed: only for ``IMAGESHARE_AUTH=off`` (logged loudly at start)."""
        return cls.create("admin", None, ("system/*.cruds",))

    @property
    def contexts(self) -> tuple[str, ...]:
        """Scope contexts that count for this caller (patient tokens: ``patient/`` only)."""
        return ("patient",) if self.kind == "patient" else ("system",)

    @property
    def compartment(self) -> Compartment:
        """The patients this caller's archive queries are limited to."""
        if self.kind == "patient":
            return Compartment.of(self.patients)
        return Compartment.everyone()

    def can(self, resource: str, perm: str) -> bool:
        """Whether a scope grants ``perm`` (one of c r u d s) on ``resource``."""
        return smart_scopes.permits(self._parsed, resource, perm, self.contexts)

    def filters(self, resource: str, perm: str) -> list[dict[str, str]] | None:
        """Granular ``?param=value`` limits for ``resource`` (None: unfiltered; [] : none)."""
        return smart_scopes.filters_for(self._parsed, resource, perm, self.contexts)
