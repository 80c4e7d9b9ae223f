"""QIDO search over the index: matching in SQL, answers from cached DICOM JSON (never files).

Return attributes follow PS3.18 §10.6.3.3: the level's default attributes, those named by
``includefield`` (or all of the level's with ``all``) and every matching key given; upper-level
attributes are added when the search is not scoped to that upper level.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydicom.datadict import tag_for_keyword
from sqlalchemy import Select, select
from sqlmodel import Session

from app.archive import dicomjson
from app.archive.compartment import Compartment
from app.archive.matching import KEYS, condition
from app.archive.models import Instance, Series, Study
from app.urls import instance_path, series_path, study_path


def _tags(*keywords: str) -> frozenset[int]:
    return frozenset(t for k in keywords if (t := tag_for_keyword(k)) is not None)


#: PS3.18 Table 10.6.3-3 (Study), 10.6.3-4 (Series), 10.6.3-5 (Instance) default attributes.
STUDY_DEFAULTS = _tags(
    "SpecificCharacterSet",
    "StudyDate",
    "StudyTime",
    "AccessionNumber",
    "InstanceAvailability",
    "ModalitiesInStudy",
    "ReferringPhysicianName",
    "TimezoneOffsetFromUTC",
    "RetrieveURL",
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyInstanceUID",
    "StudyID",
    "NumberOfStudyRelatedSeries",
    "NumberOfStudyRelatedInstances",
    "StudyDescription",
)
SERIES_DEFAULTS = _tags(
    "SpecificCharacterSet",
    "Modality",
    "TimezoneOffsetFromUTC",
    "SeriesDescription",
    "RetrieveURL",
    "SeriesInstanceUID",
    "SeriesNumber",
    "NumberOfSeriesRelatedInstances",
    "PerformedProcedureStepStartDate",
    "PerformedProcedureStepStartTime",
    "RequestAttributesSequence",
)
INSTANCE_DEFAULTS = _tags(
    "SpecificCharacterSet",
    "SOPClassUID",
    "SOPInstanceUID",
    "InstanceAvailability",
    "TimezoneOffsetFromUTC",
    "RetrieveURL",
    "InstanceNumber",
    "Rows",
    "Columns",
    "BitsAllocated",
    "NumberOfFrames",
)
LEVEL_ORDER = {"study": 0, "series": 1, "instance": 2}


@dataclass
class SearchRequest:
    level: str
    study: str | None = None
    series: str | None = None
    matches: list[tuple[str, str]] = field(default_factory=list)
    include: set[int] = field(default_factory=set)
    include_all: bool = False
    fuzzy: bool = False
    limit: int = 100
    offset: int = 0


@dataclass
class SearchResult:
    objects: list[dict[str, Any]]
    more: bool


def search(s: Session, req: SearchRequest, base_url: str, compartment: Compartment) -> SearchResult:
    """Run a QIDO search within ``compartment``; ``more`` says whether more results exist."""
    query = compartment.apply(_base_query(req))
    for keyword, value in req.matches:
        key = KEYS[keyword]
        if LEVEL_ORDER[key.level] > LEVEL_ORDER[req.level]:
            continue  # lower-level keys do not apply to an upper-level search
        cond = condition(keyword, value, req.fuzzy)
        if cond is not None:
            query = query.where(cond)
    rows = s.execute(query.offset(req.offset).limit(req.limit + 1)).all()
    more = len(rows) > req.limit
    build = {"study": _study_object, "series": _series_object, "instance": _instance_object}
    shape = _Shape.of(req, base_url)
    objects = [build[req.level](row, shape) for row in rows[: req.limit]]
    return SearchResult(objects, more)


_STUDY_COLUMNS = (
    Study.StudyInstanceUID,
    Study.ModalitiesInStudy,
    Study.study_json,
    Study.NumberOfStudyRelatedSeries,
    Study.NumberOfStudyRelatedInstances,
)
_SERIES_COLUMNS = (
    Series.SeriesInstanceUID,
    Series.NumberOfSeriesRelatedInstances,
    Series.series_json,
)


def _base_query(req: SearchRequest) -> Select[*tuple[Any, ...]]:
    """Only the columns the answer needs, as plain rows (no ORM objects: they cost more)."""
    query: Select[*tuple[Any, ...]]
    if req.level == "study":
        query = select(*_STUDY_COLUMNS).order_by(Study.pk)
    elif req.level == "series":
        query = (
            select(*_STUDY_COLUMNS, *_SERIES_COLUMNS)
            .join(Study, Series.study_pk == Study.pk)
            .order_by(Study.pk, Series.SeriesNumber, Series.pk)
        )
    else:
        query = (
            select(
                *_STUDY_COLUMNS, *_SERIES_COLUMNS, Instance.SOPInstanceUID, Instance.metadata_json
            )
            .join(Series, Instance.series_pk == Series.pk)
            .join(Study, Instance.study_pk == Study.pk)
            .order_by(
                Study.pk, Series.SeriesNumber, Series.pk, Instance.InstanceNumber, Instance.pk
            )
        )
    if req.study is not None:
        query = query.where(Study.StudyInstanceUID == req.study)
    if req.series is not None:
        query = query.where(Series.SeriesInstanceUID == req.series)
    return query


@dataclass
class _Shape:
    """What each result object carries, worked out once per search (not per row)."""

    req: SearchRequest
    base_url: str
    study_keys: frozenset[str]
    series_keys: frozenset[str]
    instance_keys: frozenset[str]
    study_all: bool
    series_all: bool

    @classmethod
    def of(cls, req: SearchRequest, base_url: str) -> _Shape:
        matched = {t for k, _ in req.matches if (t := tag_for_keyword(k)) is not None}
        extra = req.include | matched
        study_defaults = req.level == "study" or req.study is None
        series_defaults = req.level == "series" or req.series is None

        def keys(defaults: frozenset[int], with_defaults: bool) -> frozenset[str]:
            tags = (defaults | extra) if with_defaults else frozenset(req.include)
            return frozenset(dicomjson.tag_key(t) for t in tags)

        return cls(
            req,
            base_url,
            keys(STUDY_DEFAULTS, study_defaults),
            keys(SERIES_DEFAULTS, series_defaults),
            keys(INSTANCE_DEFAULTS, True),
            req.include_all and study_defaults,
            req.include_all and series_defaults,
        )


def _pick(source: dict[str, Any], keys: frozenset[str], everything: bool) -> dict[str, Any]:
    if everything:
        return dict(source)
    return {k: v for k, v in source.items() if k in keys}


def _add(
    obj: dict[str, Any], computed: dict[str, Any], keys: frozenset[str], everything: bool
) -> None:
    for key, value in computed.items():
        if everything or key in keys:
            obj[key] = value


def _study_attrs(row: Any, shape: _Shape) -> dict[str, Any]:
    obj = _pick(dicomjson.loads(row.study_json), shape.study_keys, shape.study_all)
    modalities = row.ModalitiesInStudy.split("\\") if row.ModalitiesInStudy else None
    _add(
        obj,
        {
            "00080056": {"vr": "CS", "Value": ["ONLINE"]},
            "00080061": {"vr": "CS", "Value": modalities} if modalities else {"vr": "CS"},
            "00201206": {"vr": "IS", "Value": [row.NumberOfStudyRelatedSeries]},
            "00201208": {"vr": "IS", "Value": [row.NumberOfStudyRelatedInstances]},
            "00081190": {"vr": "UR", "Value": [shape.base_url + study_path(row.StudyInstanceUID)]},
        },
        shape.study_keys,
        shape.study_all,
    )
    return obj


def _series_attrs(row: Any, shape: _Shape) -> dict[str, Any]:
    obj = _pick(dicomjson.loads(row.series_json), shape.series_keys, shape.series_all)
    url = shape.base_url + series_path(row.StudyInstanceUID, row.SeriesInstanceUID)
    _add(
        obj,
        {
            "00201209": {"vr": "IS", "Value": [row.NumberOfSeriesRelatedInstances]},
            "00081190": {"vr": "UR", "Value": [url]},
        },
        shape.series_keys,
        shape.series_all,
    )
    return obj


def _study_object(row: Any, shape: _Shape) -> dict[str, Any]:
    return _sorted(_study_attrs(row, shape))


def _series_object(row: Any, shape: _Shape) -> dict[str, Any]:
    # Unscoped series searches also return the study's default attributes (PS3.18 §10.6.3.3).
    obj = _study_attrs(row, shape)
    obj.update(_series_attrs(row, shape))
    return _sorted(obj)


def _instance_object(row: Any, shape: _Shape) -> dict[str, Any]:
    obj = _study_attrs(row, shape)
    obj.update(_series_attrs(row, shape))
    full = dicomjson.loads(
        row.metadata_json.replace(dicomjson.BASE_PLACEHOLDER_BYTES, shape.base_url.encode())
    )
    own = _pick(full, shape.instance_keys, False)
    if shape.req.include_all:
        for key, value in full.items():
            tag = int(key, 16)
            if tag not in dicomjson.STUDY_LEVEL_TAGS and tag not in dicomjson.SERIES_LEVEL_TAGS:
                own[key] = value
    obj.update(own)
    obj["00080056"] = {"vr": "CS", "Value": ["ONLINE"]}
    path = instance_path(row.StudyInstanceUID, row.SeriesInstanceUID, row.SOPInstanceUID)
    obj["00081190"] = {"vr": "UR", "Value": [shape.base_url + path]}
    return _sorted(obj)


def _sorted(obj: dict[str, Any]) -> dict[str, Any]:
    return dict(sorted(obj.items()))
