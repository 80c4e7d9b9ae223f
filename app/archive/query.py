"""QIDO search over the index: matching in SQL, answers from cached DICOM JSON (never files).

Return attributes follow PS3.18 §10.6.3.3: the level's default attributes, those named by
``includefield`` (or all of the level's with ``all``) and every matching key given; upper-level
attributes are added when the search is not scoped to that upper level.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pydicom.datadict import tag_for_keyword
from sqlalchemy import Select, select
from sqlmodel import Session

from app.archive import dicomjson
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


def search(s: Session, req: SearchRequest, base_url: str) -> SearchResult:
    """Run a QIDO search; ``more`` says whether results beyond ``limit`` exist."""
    query = _base_query(req)
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
    objects = [build[req.level](row, req, base_url) for row in rows[: req.limit]]
    return SearchResult(objects, more)


def _base_query(req: SearchRequest) -> Select[*tuple[Any, ...]]:
    query: Select[*tuple[Any, ...]]
    if req.level == "study":
        query = select(Study).order_by(Study.pk)
    elif req.level == "series":
        query = (
            select(Series, Study)
            .join(Study, Series.study_pk == Study.pk)
            .order_by(Study.pk, Series.SeriesNumber, Series.pk)
        )
    else:
        query = (
            select(Instance, Series, Study)
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


def _wanted(req: SearchRequest, defaults: frozenset[int]) -> set[int]:
    matched = {t for k, _ in req.matches if (t := tag_for_keyword(k)) is not None}
    return set(defaults) | req.include | matched


def _pick(source: dict[str, Any], wanted: set[int], include_all: bool) -> dict[str, Any]:
    if include_all:
        return dict(source)
    return {k: v for k, v in source.items() if int(k, 16) in wanted}


def _study_attrs(
    study: Study,
    req: SearchRequest,
    base_url: str,
    defaults: bool,
) -> dict[str, Any]:
    wanted = _wanted(req, STUDY_DEFAULTS) if defaults else set(req.include)
    obj = _pick(json.loads(study.study_json), wanted, req.include_all and defaults)
    computed = {
        "00080056": {"vr": "CS", "Value": ["ONLINE"]},
        "00080061": {"vr": "CS", "Value": study.ModalitiesInStudy.split("\\")}
        if study.ModalitiesInStudy
        else {"vr": "CS"},
        "00201206": {"vr": "IS", "Value": [study.NumberOfStudyRelatedSeries]},
        "00201208": {"vr": "IS", "Value": [study.NumberOfStudyRelatedInstances]},
        "00081190": {"vr": "UR", "Value": [base_url + study_path(study.StudyInstanceUID)]},
    }
    for key, value in computed.items():
        if (req.include_all and defaults) or int(key, 16) in wanted:
            obj[key] = value
    return obj


def _series_attrs(
    series: Series, study: Study, req: SearchRequest, base_url: str, defaults: bool
) -> dict[str, Any]:
    wanted = _wanted(req, SERIES_DEFAULTS) if defaults else set(req.include)
    obj = _pick(json.loads(series.series_json), wanted, req.include_all and defaults)
    url = base_url + series_path(study.StudyInstanceUID, series.SeriesInstanceUID)
    computed = {
        "00201209": {"vr": "IS", "Value": [series.NumberOfSeriesRelatedInstances]},
        "00081190": {"vr": "UR", "Value": [url]},
    }
    for key, value in computed.items():
        if (req.include_all and defaults) or int(key, 16) in wanted:
            obj[key] = value
    return obj


def _study_object(row: Any, req: SearchRequest, base_url: str) -> dict[str, Any]:
    return _sorted(_study_attrs(row[0], req, base_url, True))


def _series_object(row: Any, req: SearchRequest, base_url: str) -> dict[str, Any]:
    series, study = row
    # Unscoped series searches also return the study's default attributes (PS3.18 §10.6.3.3).
    obj = _study_attrs(study, req, base_url, req.study is None)
    obj.pop("00081190", None)
    obj.update(_series_attrs(series, study, req, base_url, True))
    return _sorted(obj)


def _instance_object(row: Any, req: SearchRequest, base_url: str) -> dict[str, Any]:
    instance, series, study = row
    obj = _study_attrs(study, req, base_url, req.study is None)
    obj.update(_series_attrs(series, study, req, base_url, req.series is None))
    wanted = _wanted(req, INSTANCE_DEFAULTS)
    full = json.loads(
        instance.metadata_json.replace(dicomjson.BASE_PLACEHOLDER_BYTES, base_url.encode())
    )
    if req.include_all:
        own = {
            k: v
            for k, v in full.items()
            if int(k, 16) not in dicomjson.STUDY_LEVEL_TAGS
            and int(k, 16) not in dicomjson.SERIES_LEVEL_TAGS
        }
        own.update(_pick(full, wanted, False))
    else:
        own = _pick(full, wanted, False)
    obj.update(own)
    obj["00080056"] = {"vr": "CS", "Value": ["ONLINE"]}
    obj["00081190"] = {
        "vr": "UR",
        "Value": [
            base_url
            + instance_path(
                study.StudyInstanceUID, series.SeriesInstanceUID, instance.SOPInstanceUID
            )
        ],
    }
    return _sorted(obj)


def _sorted(obj: dict[str, Any]) -> dict[str, Any]:
    return dict(sorted(obj.items()))
