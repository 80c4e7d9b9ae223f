"""DIMSE SCP for PACS and modalities: C-ECHO, C-STORE and C-FIND (pynetdicom).

C-STORE feeds the same ``Ingestor`` as STOW-RS, so both surfaces validate, store and index an
instance the same way and report the same DICOM status codes (PS3.4 B.2.3). The received data
set is written as sent (PS3.10 file with its negotiated transfer syntax), never decoded.
C-FIND answers from the index (``app.dimse.find``). Calling AE titles can be restricted.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_file_meta_info
from pynetdicom import AE, AllStoragePresentationContexts, _config, evt
from pynetdicom.events import Event
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    PatientRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelFind,
    Verification,
)
from pynetdicom.transport import ThreadedAssociationServer

from app.archive.service import Archive
from app.archive.status import StoreStatusValues
from app.archive.syntaxes import SYNTAXES
from app.config import Settings
from app.dimse.find import run_find
from app.errors import InvalidInput

logger = logging.getLogger(__name__)

# Identifiers carry patient names and IDs: keep them out of the logs (docs/STYLE: logging).
_config.LOG_REQUEST_IDENTIFIERS = False
_config.LOG_RESPONSE_IDENTIFIERS = False

#: Store outcome -> C-STORE response status (PS3.4 Table B.2-1, PS3.7 C.4.2.1.4).
STORE_STATUS: dict[StoreStatusValues, int] = {
    StoreStatusValues.SUCCESS: 0x0000,
    StoreStatusValues.COERCION_OF_DATA_ELEMENTS: 0xB000,
    StoreStatusValues.ELEMENTS_DISCARDED: 0xB006,
    StoreStatusValues.DATA_SET_DOES_NOT_MATCH_SOP_CLASS_WARNING: 0xB007,
    StoreStatusValues.PROCESSING_FAILURE: 0x0110,
    StoreStatusValues.DUPLICATE_SOP_INSTANCE: 0x0111,
    StoreStatusValues.SOP_CLASS_NOT_SUPPORTED: 0x0122,
    StoreStatusValues.NOT_AUTHORIZED: 0x0124,
    StoreStatusValues.OUT_OF_RESOURCES: 0xA700,
    StoreStatusValues.DATA_SET_DOES_NOT_MATCH_SOP_CLASS: 0xA900,
    StoreStatusValues.CANNOT_UNDERSTAND: 0xC000,
}
FIND_PENDING = 0xFF00
FIND_CANCEL = 0xFE00
FIND_IDENTIFIER_INVALID = 0xA900
FIND_UNABLE_TO_PROCESS = 0xC000
FIND_MODELS = (
    PatientRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelFind,
)


@dataclass
class DimseServer:
    """An SCP bound to ``host:port`` answering as ``ae_title``."""

    archive: Archive
    host: str
    port: int
    ae_title: str = "IMAGESHARE"
    allowed_aes: list[str] = field(default_factory=list)
    _server: ThreadedAssociationServer | None = None

    @classmethod
    def from_settings(cls, archive: Archive, settings: Settings) -> DimseServer:
        assert settings.dimse_port is not None
        return cls(
            archive,
            settings.dimse_host,
            settings.dimse_port,
            settings.dimse_ae_title,
            list(settings.dimse_allowed_aes),
        )

    def start(self) -> None:
        ae = AE(ae_title=self.ae_title)
        ae.maximum_pdu_size = 0
        for cx in AllStoragePresentationContexts:
            ae.add_supported_context(str(cx.abstract_syntax), ALL_STORED_SYNTAXES)
        ae.add_supported_context(Verification)
        for model in FIND_MODELS:
            ae.add_supported_context(model)
        if self.allowed_aes:
            ae.require_calling_aet = list(self.allowed_aes)
        else:
            logger.warning("DIMSE SCP accepts any calling AE title (none configured)")
        handlers: list[Any] = [
            (evt.EVT_C_ECHO, _handle_echo),
            (evt.EVT_C_STORE, _handle_store, [self.archive]),
            (evt.EVT_C_FIND, _handle_find, [self.archive]),
        ]
        self._server = ae.start_server((self.host, self.port), block=False, evt_handlers=handlers)
        logger.info("DIMSE SCP %s listening on %s:%d", self.ae_title, self.host, self.port)

    def stop(self) -> None:
        """Close the listening socket and abort associations still open (a peer that never
        releases would otherwise hold shutdown until its network timeout)."""
        if self._server is not None:
            server, self._server = self._server, None
            server.shutdown()
            for assoc in server.active_associations:
                assoc.abort()


#: We store what we receive as sent, so every syntax we know is accepted, plus HTJ2K (stored
#: and returned as stored only).
ALL_STORED_SYNTAXES = [
    *SYNTAXES,
    "1.2.840.10008.1.2.4.201",
    "1.2.840.10008.1.2.4.202",
    "1.2.840.10008.1.2.4.203",
]


def _handle_echo(_event: Event) -> int:
    return 0x0000


def _handle_store(event: Event, archive: Archive) -> int:
    """Write the data set as received into a temp blob and ingest it like a STOW part."""
    try:
        temp = archive.store.new_temp()
        temp.write(_file_meta(event))
        temp.write(event.encoded_dataset(include_meta=False))
        temp.close()
        [result] = archive.ingestor.store([temp])
    except Exception:
        logger.exception("C-STORE processing failure")
        return STORE_STATUS[StoreStatusValues.PROCESSING_FAILURE]
    if result.failed:
        # The reason can name UIDs: DEBUG only (docs/STYLE: logging).
        logger.info("C-STORE refused with status 0x%04X", int(result.status))
        logger.debug("C-STORE refusal reason: %s", result.reason)
    return STORE_STATUS.get(result.status, 0x0110)


def _file_meta(event: Event) -> bytes:
    """Preamble, prefix and File Meta Information, naming the sender (PS3.10 7.1)."""
    meta = event.file_meta
    meta.SourceApplicationEntityTitle = event.assoc.requestor.ae_title
    buf = DicomBytesIO()
    buf.write(b"\0" * 128 + b"DICM")
    write_file_meta_info(buf, meta, enforce_standard=True)
    return buf.getvalue()


def _handle_find(event: Event, archive: Archive) -> Iterator[tuple[int, Dataset | None]]:
    try:
        identifier = event.identifier
        matches = run_find(archive.engine, identifier)
        for match in matches:
            if event.is_cancelled:
                yield FIND_CANCEL, None
                return
            yield FIND_PENDING, match
    except InvalidInput as exc:
        logger.debug("C-FIND refused: %s", exc.message)
        yield FIND_IDENTIFIER_INVALID, None
        return
    except Exception:
        logger.exception("C-FIND processing failure")
        yield FIND_UNABLE_TO_PROCESS, None
        return
    yield 0x0000, None
