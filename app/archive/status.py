"""Store outcomes: DICOM status codes (PS3.4 Annex B, PS3.7 Annex C) and per-instance results.

STOW-RS reports these codes as FailureReason / WarningReason (PS3.18 Store Instances Response
Module); the DIMSE C-STORE SCP returns the same codes, so both surfaces share one table.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class StoreStatusValues(IntEnum):
    SUCCESS = 0x0000
    COERCION_OF_DATA_ELEMENTS = 0xB000
    ELEMENTS_DISCARDED = 0xB006
    DATA_SET_DOES_NOT_MATCH_SOP_CLASS_WARNING = 0xB007
    PROCESSING_FAILURE = 0x0110
    DUPLICATE_SOP_INSTANCE = 0x0111
    SOP_CLASS_NOT_SUPPORTED = 0x0122
    NOT_AUTHORIZED = 0x0124
    OUT_OF_RESOURCES = 0xA700
    DATA_SET_DOES_NOT_MATCH_SOP_CLASS = 0xA900
    CANNOT_UNDERSTAND = 0xC000

    @property
    def is_failure(self) -> bool:
        return self not in _NOT_FAILURES

    @property
    def is_warning(self) -> bool:
        return self in _WARNINGS


_WARNINGS = {
    StoreStatusValues.COERCION_OF_DATA_ELEMENTS,
    StoreStatusValues.ELEMENTS_DISCARDED,
    StoreStatusValues.DATA_SET_DOES_NOT_MATCH_SOP_CLASS_WARNING,
}
_NOT_FAILURES = {StoreStatusValues.SUCCESS, *_WARNINGS}


class StoreOutcomeValues:
    STORED = "stored"
    DUPLICATE = "duplicate"
    REPLACED = "replaced"
    FAILED = "failed"


@dataclass
class StoreResult:
    """What happened to one instance of a store request."""

    status: StoreStatusValues
    outcome: str
    reason: str = ""
    sop_class_uid: str = ""
    sop_instance_uid: str = ""
    study_instance_uid: str = ""
    series_instance_uid: str = ""

    @property
    def failed(self) -> bool:
        return self.status.is_failure

    @classmethod
    def failure(
        cls, status: StoreStatusValues, reason: str, sop_class: str = "", sop_instance: str = ""
    ) -> StoreResult:
        return cls(status, StoreOutcomeValues.FAILED, reason, sop_class, sop_instance)
