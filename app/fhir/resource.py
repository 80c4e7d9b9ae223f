"""What every resource type served here provides, and the one place queries are scoped.

``scoped`` is the single function every search, read and _include goes through: it takes the
``Compartment`` (the patient rows the caller may see, from its SMART token; None = no
restriction, for site systems and administrators) and restricts the resource's base query to
it. Hidden resources are indistinguishable from absent ones (404).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Select, func, select
from sqlmodel import Session

from app.errors import Gone, NotFound
from app.fhir.search import ID_RE, SearchParam, SearchRequest, SearchSpec
from app.urls import dicomweb_base, fhir_base

#: Canonical URL base of our StructureDefinitions (profiles/ in the repository).
CANONICAL = "http://fhir.imageshare.org/StructureDefinition"
#: Patient row keys the caller may see; None means unrestricted.
Compartment = frozenset[int] | None


@dataclass(frozen=True)
class Context:
    """Public base URLs (never the bind address) for references and Endpoint addresses."""

    base_url: str
    #: Whether DICOMweb needs the SMART access token (``requires-access-token``; None: unsaid).
    requires_token: bool | None = None

    @property
    def fhir(self) -> str:
        return fhir_base(self.base_url)

    @property
    def dicomweb(self) -> str:
        return dicomweb_base(self.base_url)


@dataclass
class Loaded:
    """One resource as served, with what paging, includes and headers need."""

    resource: dict[str, Any]
    version: int
    updated: datetime
    key: str = ""
    pk: int = 0
    patient_pk: int | None = None
    #: Raw content, for a Binary read that asks for it.
    content: bytes | None = None
    content_type: str = ""

    @property
    def type(self) -> str:
        return str(self.resource["resourceType"])

    @property
    def id(self) -> str:
        return str(self.resource["id"])


@dataclass
class Page:
    entries: list[Loaded]
    total: int | None
    more: bool


#: Fetch the resources an _include/_revinclude adds for a page of matches (at most ``limit``).
IncludeFetch = Callable[[Session, list[Loaded], Compartment, Context, int], list[Loaded]]


class ResourceType(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def profile(self) -> str | None: ...
    @property
    def params(self) -> Mapping[str, SearchParam]: ...
    @property
    def includes(self) -> Mapping[str, IncludeFetch]: ...
    @property
    def revincludes(self) -> Mapping[str, IncludeFetch]: ...
    @property
    def mandatory(self) -> frozenset[str]: ...

    def spec(self, elements: frozenset[str]) -> SearchSpec: ...

    def search(
        self, s: Session, req: SearchRequest, compartment: Compartment, ctx: Context
    ) -> Page: ...

    def read(self, s: Session, rid: str, compartment: Compartment, ctx: Context) -> Loaded: ...


@dataclass(frozen=True)
class SqlResource:
    """A resource type backed by index tables: a key query, an order and a loader."""

    name: str
    profile: str | None
    params: Mapping[str, SearchParam]
    #: select(pk) of every row of this type, before any restriction.
    base: Callable[[], Select[Any]]
    pk_column: Any
    id_column: Any
    #: The patient pk column used to apply a compartment (None: not patient data).
    patient_column: Any
    order: Callable[[], Sequence[Any]]
    load: Callable[[Session, list[int], Context], list[Loaded]]
    gone: Callable[[Session, str], int | None]
    mandatory: frozenset[str] = frozenset()
    includes: Mapping[str, IncludeFetch] = field(default_factory=dict)
    revincludes: Mapping[str, IncludeFetch] = field(default_factory=dict)

    def spec(self, elements: frozenset[str]) -> SearchSpec:
        return SearchSpec(
            self.params, frozenset(self.includes), frozenset(self.revincludes), elements
        )

    def scoped(self, compartment: Compartment) -> Select[Any]:
        return scoped(self, compartment)

    def search(
        self, s: Session, req: SearchRequest, compartment: Compartment, ctx: Context
    ) -> Page:
        query = self.scoped(compartment).where(*req.conditions)
        total = None
        if req.total or req.summary_count or req.count == 0:
            total = s.execute(select(func.count()).select_from(query.subquery())).scalar_one()
        if req.summary_count or req.count == 0:
            return Page([], total, False)
        rows = s.execute(
            query.order_by(*self.order()).offset(req.offset).limit(req.count + 1)
        ).scalars()
        pks = list(rows)
        more = len(pks) > req.count
        return Page(self.load(s, pks[: req.count], ctx), total, more)

    def read(self, s: Session, rid: str, compartment: Compartment, ctx: Context) -> Loaded:
        if ID_RE.match(rid):
            pk = s.execute(self.scoped(compartment).where(self.id_column == rid)).scalar()
            if pk is not None:
                return self.load(s, [pk], ctx)[0]
            gone = self.gone(s, rid)
            if gone is not None and compartment is None:
                raise Gone(f"{self.name}/{rid} was deleted")
        raise NotFound(f"{self.name}/{rid} is not known")

    def load_visible(
        self, s: Session, pks: Sequence[int], compartment: Compartment, ctx: Context, limit: int
    ) -> list[Loaded]:
        """Load the rows among ``pks`` the compartment allows (for _include), in order."""
        if not pks:
            return []
        query = self.scoped(compartment).where(self.pk_column.in_(list(pks)))
        visible = list(s.execute(query.order_by(*self.order()).limit(limit)).scalars())
        return self.load(s, visible, ctx)


def scoped(resource: SqlResource, compartment: Compartment) -> Select[Any]:
    """The resource's base query restricted to the caller's compartment (the one place)."""
    query = resource.base()
    if compartment is not None and resource.patient_column is not None:
        query = query.where(resource.patient_column.in_(sorted(compartment)))
    return query


def instant(value: datetime) -> str:
    """FHIR instant in UTC with milliseconds (meta.lastUpdated)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def meta(version: int, updated: datetime, profile: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"versionId": str(version), "lastUpdated": instant(updated)}
    if profile:
        out["profile"] = [profile]
    return out


def fhir_date(value: str) -> str | None:
    """DICOM DA (YYYYMMDD) as a FHIR date, or None when absent or malformed."""
    if len(value) == 8 and value.isdigit():
        return f"{value[:4]}-{value[4:6]}-{value[6:]}"
    return None
