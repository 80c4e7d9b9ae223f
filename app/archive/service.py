"""The archive as one object: database engine, blob store and ingest, built from Settings."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from app.archive.blobs import BlobStore, LocalBlobStore
from app.archive.ingest import Ingestor
from app.archive.reports import index_report
from app.config import Settings
from app.db import make_engine, migrate, ping

logger = logging.getLogger(__name__)


@dataclass
class Archive:
    engine: Engine
    store: BlobStore
    ingestor: Ingestor

    @classmethod
    def open(cls, settings: Settings, *, run_migrations: bool = True) -> Archive:
        engine = make_engine(settings.effective_database_url)
        if run_migrations:
            migrate(engine)
        store = LocalBlobStore(settings.blob_dir, settings.tmp_dir)
        ingestor = Ingestor(
            engine,
            store,
            bulk_data_threshold=settings.bulk_data_threshold,
            overwrite=settings.stow_overwrite,
        )
        ingestor.hooks.append(index_report)  # reports (PDF, CDA, SR) become documents
        return cls(engine, store, ingestor)

    def check(self) -> None:
        """Raise if the database or the blob store is unreachable (readiness)."""
        ping(self.engine)
        self.store.check()

    def close(self) -> None:
        self.engine.dispose()
