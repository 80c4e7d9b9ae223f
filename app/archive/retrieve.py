"""Find stored instances for a retrieve and read their bytes, metadata and bulk data.

Metadata comes from the cached DICOM JSON only; instance bytes are streamed from the blob
store unchanged. Bulk data values are located by the offsets recorded at ingest where possible.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pydicom import dcmread
from sqlalchemy import Select, select
from sqlmodel import Session

from app.archive.blobs import CHUNK, BlobStore
from app.archive.compartment import Compartment
from app.archive.models import Instance, Series, Study
from app.errors import NotFound


@dataclass(frozen=True)
class Scope:
    """A retrieve target: a study, a series in it, or an instance in that series."""

    study: str
    series: str | None = None
    instance: str | None = None

    @property
    def level(self) -> str:
        return "instance" if self.instance else "series" if self.series else "study"


@dataclass(frozen=True)
class StoredInstance:
    study: str
    series: str
    sop_instance_uid: str
    sop_class_uid: str
    transfer_syntax_uid: str
    blob_key: str
    size: int
    pixel_data_offset: int | None
    pixel_data_length: int | None
    pixel_data_vr: str | None
    number_of_frames: int | None


_COLUMNS = (
    Study.StudyInstanceUID,
    Series.SeriesInstanceUID,
    Instance.SOPInstanceUID,
    Instance.SOPClassUID,
    Instance.transfer_syntax_uid,
    Instance.blob_key,
    Instance.size,
    Instance.pixel_data_offset,
    Instance.pixel_data_length,
    Instance.pixel_data_vr,
    Instance.NumberOfFrames,
)


def _scoped(query: Select[Any], scope: Scope, compartment: Compartment) -> Select[Any]:
    query = compartment.apply(
        query.join(Series, Instance.series_pk == Series.pk)
        .join(Study, Instance.study_pk == Study.pk)
        .where(Study.StudyInstanceUID == scope.study)
    )
    if scope.series:
        query = query.where(Series.SeriesInstanceUID == scope.series)
    if scope.instance:
        query = query.where(Instance.SOPInstanceUID == scope.instance)
    return query.order_by(Series.SeriesNumber, Series.pk, Instance.InstanceNumber, Instance.pk)


def find_instances(s: Session, scope: Scope, compartment: Compartment) -> list[StoredInstance]:
    """Instances in the scope and compartment, in series then instance order (else NotFound)."""
    rows = s.execute(_scoped(select(*_COLUMNS), scope, compartment)).all()
    if not rows:
        raise NotFound(f"no {scope.level} with that UID")
    return [StoredInstance(*r) for r in rows]


def find_metadata(s: Session, scope: Scope, compartment: Compartment) -> tuple[list[bytes], str]:
    """Cached DICOM JSON of each instance in scope, and a validator that changes with the study."""
    query = select(Instance.metadata_json, Study.pk, Study.version)
    rows = s.execute(_scoped(query, scope, compartment)).all()
    if not rows:
        raise NotFound(f"no {scope.level} with that UID")
    _, study_pk, version = rows[0]
    return [r[0] for r in rows], f"{study_pk}-{version}"


def read_chunks(
    store: BlobStore, key: str, start: int = 0, length: int | None = None, chunk: int = CHUNK
) -> Iterator[bytes]:
    """Stream a blob (or a byte range of it) in large chunks."""
    with store.open(key) as fh:
        fh.seek(start)
        remaining = length
        while remaining is None or remaining > 0:
            n = chunk if remaining is None else min(chunk, remaining)
            data = fh.read(n)
            if not data:
                break
            if remaining is not None:
                remaining -= len(data)
            yield data


def bulk_value(store: BlobStore, inst: StoredInstance, path: list[str]) -> tuple[bytes, str]:
    """The raw value of a binary element named by a BulkDataURI tag path, and its VR.

    ``path`` alternates tags and item numbers (``00540016/0/00181072``). Raises NotFound.
    """
    try:
        tags = [int(p, 16) for p in path[0::2]]
        items = [int(p) for p in path[1::2]]
    except ValueError as exc:
        raise NotFound("no bulk data at that path") from exc
    if not tags:
        raise NotFound("no bulk data at that path")
    with store.open(inst.blob_key) as fh:
        # Elements before Pixel Data are reached without reading the pixels (which can be GB).
        ds = dcmread(fh, stop_before_pixels=tags[0] < 0x7FE00008)
        elem: Any = ds
        for i, tag in enumerate(tags):
            if tag not in elem:
                raise NotFound("no bulk data at that path")
            value = elem[tag]
            if i < len(items):
                if value.VR != "SQ" or items[i] >= len(value.value):
                    raise NotFound("no bulk data at that path")
                elem = value.value[items[i]]
            else:
                elem = value
        if getattr(elem, "VR", None) == "SQ" or not isinstance(elem.value, bytes):
            raise NotFound("no bulk data at that path")
        return elem.value, str(elem.VR)
