"""Store instances: parse, validate, write blobs durably, then index them in one transaction.

Each instance gets its own ``StoreResult``; one bad part never fails the others (PS3.18 Store
Transaction). Order of work, for crash safety: blobs are made durable and moved into place first,
then the index rows are committed; a crash in between leaves only unreferenced blobs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.archive.blobs import BlobStore, TempBlob
from app.archive.header import InstanceRejected, ParsedInstance, read_header
from app.archive.index import lock_or_create_series, lock_or_create_study, refresh_counts
from app.archive.models import Instance, Series, Study, utcnow
from app.archive.status import StoreOutcomeValues, StoreResult, StoreStatusValues

logger = logging.getLogger(__name__)

#: Called inside the index transaction for every newly stored or replaced instance.
StoreHook = Callable[[Session, Instance, ParsedInstance], None]


@dataclass
class Prepared:
    """A parsed, valid instance whose bytes still sit in a temporary blob."""

    temp: TempBlob
    parsed: ParsedInstance

    @property
    def blob_key(self) -> str:
        p = self.parsed
        return f"{p.study_uid}/{p.series_uid}/{p.sop_instance_uid}.{self.temp.sha256[:16]}.dcm"


@dataclass
class _BatchContext:
    """State of one index transaction: rows seen, parents locked, rows written."""

    session: Session
    rows: dict[str, Instance]
    studies: dict[str, Study] = field(default_factory=dict)
    series: dict[str, Series] = field(default_factory=dict)
    written: list[tuple[Instance, ParsedInstance]] = field(default_factory=list)
    touched: dict[int, set[int]] = field(default_factory=dict)

    def parents(self, parsed: ParsedInstance) -> tuple[Study, Series]:
        study = self.studies.get(parsed.study_uid)
        if study is None:
            study = self.studies[parsed.study_uid] = lock_or_create_study(self.session, parsed)
        series = self.series.get(parsed.series_uid)
        if series is None:
            series = lock_or_create_series(self.session, parsed, study)
            self.series[parsed.series_uid] = series
        return study, series


class Ingestor:
    """The one way instances enter the archive (STOW-RS, import, DIMSE C-STORE)."""

    def __init__(
        self,
        engine: Engine,
        store: BlobStore,
        *,
        bulk_data_threshold: int = 1024,
        overwrite: bool = False,
    ) -> None:
        self.engine = engine
        self.blobs = store
        self.bulk_data_threshold = bulk_data_threshold
        self.overwrite = overwrite
        self.hooks: list[StoreHook] = []

    def prepare(self, temp: TempBlob, expected_study: str | None = None) -> Prepared | StoreResult:
        """Parse and validate one temporary blob; a failure result discards it."""
        try:
            parsed = read_header(temp.path, self.bulk_data_threshold)
            if expected_study is not None and parsed.study_uid != expected_study:
                raise InstanceRejected(
                    StoreStatusValues.DATA_SET_DOES_NOT_MATCH_SOP_CLASS,
                    f"Study Instance UID {parsed.study_uid} does not match the target study "
                    f"{expected_study}",
                    parsed.sop_class_uid,
                    parsed.sop_instance_uid,
                )
        except InstanceRejected as exc:
            temp.discard()
            return StoreResult.failure(exc.status, exc.reason, exc.sop_class, exc.sop_instance)
        except Exception:
            # Exception texts can quote DICOM values: type at ERROR, the trace only at DEBUG.
            logger.error("unexpected failure while reading an instance header")
            logger.debug("header failure", exc_info=True)
            temp.discard()
            return StoreResult.failure(StoreStatusValues.PROCESSING_FAILURE, "processing failure")
        return Prepared(temp, parsed)

    def store(
        self, temps: Iterable[TempBlob], expected_study: str | None = None
    ) -> list[StoreResult]:
        """Prepare and commit a batch; results keep the order of ``temps``."""
        items: list[Prepared | StoreResult] = [self.prepare(t, expected_study) for t in temps]
        return self.commit(items)

    def commit(self, items: list[Prepared | StoreResult]) -> list[StoreResult]:
        """Make the prepared blobs durable and index them; failures pass through in place."""
        prepared = [i for i in items if isinstance(i, Prepared)]
        results: dict[int, StoreResult] = {}
        if prepared:
            results = self._commit_prepared(prepared)
        return [results[id(i)] if isinstance(i, Prepared) else i for i in items]

    def _commit_prepared(self, batch: list[Prepared]) -> dict[int, StoreResult]:
        try:
            existing = self._existing(batch)
            to_write = [p for p in batch if _needs_blob(p, existing.get(p.parsed.sop_instance_uid))]
            self.blobs.commit((p.temp, p.blob_key) for p in to_write)
        except OSError as exc:
            logger.error("blob store write failed: %s", exc.strerror)  # path names UIDs
            for p in batch:
                p.temp.discard()
            return {
                id(p): _failed(p, StoreStatusValues.OUT_OF_RESOURCES, "storage unavailable")
                for p in batch
            }
        try:
            results, replaced = self._index(batch)
        except Exception as exc:
            # A concurrent request stored one of these first, a lock timed out, or one instance
            # broke a hook: retry one by one so each instance gets its own answer.
            logger.info("batch index commit failed (%s); retrying per instance", type(exc).__name__)
            results, replaced = self._index_each(batch)
        self._cleanup(batch, results, replaced)
        return results

    def _index_each(self, batch: list[Prepared]) -> tuple[dict[int, StoreResult], list[str]]:
        results: dict[int, StoreResult] = {}
        replaced: list[str] = []
        for p in batch:
            try:
                r, old = self._index([p])
            except Exception:
                logger.error("indexing one instance failed")
                logger.debug("indexing failure", exc_info=True)
                r, old = (
                    {id(p): _failed(p, StoreStatusValues.PROCESSING_FAILURE, "processing failure")},
                    [],
                )
            results.update(r)
            replaced.extend(old)
        return results, replaced

    def _existing(self, batch: list[Prepared]) -> dict[str, Instance]:
        uids = [p.parsed.sop_instance_uid for p in batch]
        with Session(self.engine) as s:
            rows = s.execute(select(Instance).where(Instance.SOPInstanceUID.in_(uids))).scalars()
            return {r.SOPInstanceUID: r for r in rows}

    def _index(self, batch: list[Prepared]) -> tuple[dict[int, StoreResult], list[str]]:
        """One transaction for the batch; returns results and blob keys no longer referenced.

        Rows are looked up in one query, parent rows once per study/series, and new instance
        rows inserted in one flush: per-row round trips would dominate a large STOW.
        """
        results: dict[int, StoreResult] = {}
        replaced: list[str] = []
        with Session(self.engine, expire_on_commit=False) as s:
            uids = [p.parsed.sop_instance_uid for p in batch]
            rows = s.execute(select(Instance).where(Instance.SOPInstanceUID.in_(uids))).scalars()
            ctx = _BatchContext(s, {r.SOPInstanceUID: r for r in rows})
            for p in sorted(batch, key=lambda b: (b.parsed.study_uid, b.parsed.series_uid)):
                result, old_key = self._index_one(ctx, p)
                results[id(p)] = result
                if old_key:
                    replaced.append(old_key)
            s.flush()
            for row, parsed in ctx.written:
                for hook in self.hooks:
                    hook(s, row, parsed)
            for study_pk, series_pks in ctx.touched.items():
                refresh_counts(s, study_pk, series_pks)
            s.commit()
        return results, replaced

    def _index_one(self, ctx: _BatchContext, p: Prepared) -> tuple[StoreResult, str | None]:
        parsed = p.parsed
        row = ctx.rows.get(parsed.sop_instance_uid)
        if row is not None and row.sha256 == p.temp.sha256:
            return _ok(p, StoreOutcomeValues.DUPLICATE), None
        if row is not None and not self.overwrite:
            reason = "a different object is already stored under this SOP Instance UID"
            return _failed(p, StoreStatusValues.DUPLICATE_SOP_INSTANCE, reason), None
        study, series = ctx.parents(parsed)
        if row is not None and (row.study_pk != study.pk or row.series_pk != series.pk):
            reason = "this SOP Instance UID is already stored in another study or series"
            return _failed(p, StoreStatusValues.DUPLICATE_SOP_INSTANCE, reason), None
        assert study.pk is not None and series.pk is not None
        old_key = None
        if row is None:
            row = Instance(
                SOPInstanceUID=parsed.sop_instance_uid,
                series_pk=series.pk,
                study_pk=study.pk,
                **_instance_values(p),
            )
            ctx.rows[parsed.sop_instance_uid] = row
        else:
            old_key = row.blob_key
            for key, value in _instance_values(p).items():
                setattr(row, key, value)
            row.created_at = utcnow()
        ctx.session.add(row)
        ctx.written.append((row, parsed))
        ctx.touched.setdefault(study.pk, set()).add(series.pk)
        outcome = StoreOutcomeValues.REPLACED if old_key else StoreOutcomeValues.STORED
        return _ok(p, outcome), old_key

    def _cleanup(
        self, batch: list[Prepared], results: dict[int, StoreResult], replaced: list[str]
    ) -> None:
        """Remove temp files and blobs that no index row references."""
        referenced = self._referenced_keys([p.blob_key for p in batch] + replaced)
        for p in batch:
            p.temp.discard()
            if p.blob_key not in referenced and results[id(p)].failed:
                self.blobs.delete(p.blob_key)
        for key in replaced:
            if key not in referenced:
                self.blobs.delete(key)

    def _referenced_keys(self, keys: list[str]) -> set[str]:
        with Session(self.engine) as s:
            rows = s.execute(select(Instance.blob_key).where(Instance.blob_key.in_(keys)))
            return {r[0] for r in rows}


def _needs_blob(p: Prepared, row: Instance | None) -> bool:
    return row is None or row.sha256 != p.temp.sha256


def _instance_values(p: Prepared) -> dict[str, Any]:
    parsed = p.parsed
    return {
        "SOPClassUID": parsed.sop_class_uid,
        "transfer_syntax_uid": parsed.transfer_syntax_uid,
        "blob_key": p.blob_key,
        "size": p.temp.size,
        "sha256": p.temp.sha256,
        "metadata_json": parsed.metadata_json,
        "pixel_data_offset": parsed.pixel.get("pixel_data_offset"),
        "pixel_data_length": parsed.pixel.get("pixel_data_length"),
        "pixel_data_vr": parsed.pixel.get("pixel_data_vr"),
        **parsed.instance,
    }


def _ok(p: Prepared, outcome: str) -> StoreResult:
    parsed = p.parsed
    return StoreResult(
        StoreStatusValues.SUCCESS,
        outcome,
        "",
        parsed.sop_class_uid,
        parsed.sop_instance_uid,
        parsed.study_uid,
        parsed.series_uid,
    )


def _failed(p: Prepared, status: StoreStatusValues, reason: str) -> StoreResult:
    parsed = p.parsed
    return StoreResult(
        status,
        StoreOutcomeValues.FAILED,
        reason,
        parsed.sop_class_uid,
        parsed.sop_instance_uid,
        parsed.study_uid,
        parsed.series_uid,
    )
