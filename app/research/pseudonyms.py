"""Stable pseudonyms derived from a project key: UIDs, patient IDs and names, date offsets.

Everything is an HMAC-SHA256 of the original value under the project's secret key (RFC 2104),
so separate runs of one project agree, different projects cannot be linked, and nobody without
the key can test a guessed original against a pseudonym. Nothing is stored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from pathlib import Path

from app.errors import InvalidInput

KEY_BYTES = 32
# UIDs under the DICOM root name things the standard defines (SOP classes, well-known frames of
# reference such as UTC synchronisation, coding schemes); they identify nobody (PS3.5 9.1).
STANDARD_ROOT = "1.2.840.10008."
MIN_SHIFT_DAYS = 365
SHIFT_SPAN_DAYS = 3288  # offsets of 1 to 10 years back
UID_CACHE_SIZE = 100_000


def new_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def load_or_create_key(path: Path) -> tuple[bytes, bool]:
    """Read a project key file, or create one (mode 0600) if it does not exist yet."""
    if path.exists():
        key = path.read_bytes().strip()
        if len(key) < KEY_BYTES:
            raise InvalidInput(f"project key {path} is shorter than {KEY_BYTES} bytes")
        return key, False
    key = secrets.token_hex(KEY_BYTES).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_bytes(key + b"\n")
    return key, True


class Pseudonymizer:
    """One project's pseudonyms; caches UIDs because one study repeats them thousands of times."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise InvalidInput("project key too short")
        self._key = key
        self._uids: dict[str, str] = {}

    def _digest(self, *parts: str) -> bytes:
        message = "\x1f".join(parts).encode("utf-8")
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def uid(self, original: str) -> str:
        """A 2.25 UID (PS3.5 B.2) from a version-8 UUID whose bits come from the HMAC."""
        original = original.strip().rstrip("\x00")
        if not original or original.startswith(STANDARD_ROOT):
            return original
        cached = self._uids.get(original)
        if cached is None:
            raw = bytearray(self._digest("uid", original)[:16])
            raw[6] = (raw[6] & 0x0F) | 0x80  # RFC 9562 version 8 (custom)
            raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 9562 variant
            cached = f"2.25.{int.from_bytes(raw, 'big')}"
            if len(self._uids) >= UID_CACHE_SIZE:
                self._uids.clear()  # bounded memory on runs of millions of instances
            self._uids[original] = cached
        return cached

    def patient_id(self, issuer: str, patient_id: str) -> str:
        return "IS" + self._digest("patient", issuer, patient_id)[:8].hex().upper()

    def shift_days(self, patient_key: str) -> int:
        """A per-patient offset (days back) that keeps every interval of that patient intact."""
        value = int.from_bytes(self._digest("date-shift", patient_key)[:8], "big")
        return -(MIN_SHIFT_DAYS + value % SHIFT_SPAN_DAYS)


def shift_date(value: str, days: int) -> str | None:
    """Shift a DA value (YYYYMMDD); None when it is not a full date."""
    value = value.strip()
    if len(value) != 8 or not value.isdigit():
        return None
    try:
        day = dt.date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        return None
    try:
        return (day + dt.timedelta(days=days)).strftime("%Y%m%d")
    except OverflowError:
        return None


def shift_datetime(value: str, days: int) -> str | None:
    """Shift the date part of a DT value, keeping the time and UTC offset as they were."""
    value = value.strip()
    shifted = shift_date(value[:8], days)
    return None if shifted is None else shifted + value[8:]
