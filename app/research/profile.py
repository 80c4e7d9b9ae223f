"""The Basic Application Level Confidentiality Profile and its options (PS3.15 E.2, E.3).

Each option carries its CID 7050 code (pydicom's code dictionary, not typed here) for the
De-identification Method Code Sequence, and the name of its column in the Annex E table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code

from app.errors import InvalidInput

_CID = codes.cid7050


class ProfileOptionValues(StrEnum):
    """Options of PS3.15 E.3 we apply; the value is the CLI name and the table column."""

    RETAIN_LONGITUDINAL_FULL_DATES = "retain_longitudinal_full_dates"
    RETAIN_LONGITUDINAL_MODIFIED_DATES = "retain_longitudinal_modified_dates"
    RETAIN_PATIENT_CHARACTERISTICS = "retain_patient_characteristics"
    RETAIN_DEVICE_IDENTITY = "retain_device_identity"
    RETAIN_INSTITUTION_IDENTITY = "retain_institution_identity"
    RETAIN_UIDS = "retain_uids"
    RETAIN_SAFE_PRIVATE = "retain_safe_private"
    CLEAN_DESCRIPTORS = "clean_descriptors"
    CLEAN_STRUCTURED_CONTENT = "clean_structured_content"
    CLEAN_GRAPHICS = "clean_graphics"

    @property
    def code(self) -> Code:
        return _OPTION_CODES[self]


BASIC_PROFILE_CODE: Code = _CID.BasicApplicationConfidentialityProfile
_OPTION_CODES: dict[ProfileOptionValues, Code] = {
    ProfileOptionValues.RETAIN_LONGITUDINAL_FULL_DATES: (
        _CID.RetainLongitudinalTemporalInformationFullDatesOption
    ),
    ProfileOptionValues.RETAIN_LONGITUDINAL_MODIFIED_DATES: (
        _CID.RetainLongitudinalTemporalInformationModifiedDatesOption
    ),
    ProfileOptionValues.RETAIN_PATIENT_CHARACTERISTICS: _CID.RetainPatientCharacteristicsOption,
    ProfileOptionValues.RETAIN_DEVICE_IDENTITY: _CID.RetainDeviceIdentityOption,
    ProfileOptionValues.RETAIN_INSTITUTION_IDENTITY: _CID.RetainInstitutionIdentityOption,
    ProfileOptionValues.RETAIN_UIDS: _CID.RetainUidsOption,
    ProfileOptionValues.RETAIN_SAFE_PRIVATE: _CID.RetainSafePrivateOption,
    ProfileOptionValues.CLEAN_DESCRIPTORS: _CID.CleanDescriptorsOption,
    ProfileOptionValues.CLEAN_STRUCTURED_CONTENT: _CID.CleanStructuredContentOption,
    ProfileOptionValues.CLEAN_GRAPHICS: _CID.CleanGraphicsOption,
}

# A private attribute is named by its block's creator, its group and the low byte of its element
# (PS3.5 7.8.1), e.g. ("GEMS_PARM_01", 0x0043, 0x27): the block's position varies per instance.
SafePrivate = tuple[str, int, int]

# Sources whose pixels commonly carry burned-in text (PS3.15 E.1.1 note): ultrasound and
# secondary capture, by modality and by SOP class.
BURNED_IN_MODALITIES = frozenset({"US", "IVUS", "SC", "XC", "OT"})


@dataclass(frozen=True)
class Profile:
    """What to apply: options, the site's safe private list, and sources it vouches are clean."""

    options: frozenset[ProfileOptionValues] = frozenset()
    safe_private: frozenset[SafePrivate] = frozenset()
    clean_pixel_sources: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        dates = {
            ProfileOptionValues.RETAIN_LONGITUDINAL_FULL_DATES,
            ProfileOptionValues.RETAIN_LONGITUDINAL_MODIFIED_DATES,
        }
        if dates <= self.options:
            raise InvalidInput("Full Dates and Modified Dates exclude each other", "option")
        if ProfileOptionValues.RETAIN_SAFE_PRIVATE in self.options and not self.safe_private:
            raise InvalidInput("Retain Safe Private needs a list of safe private attributes")

    def has(self, option: ProfileOptionValues) -> bool:
        return option in self.options

    @property
    def codes(self) -> list[Code]:
        """The CID 7050 codes to record: the profile, then each option by code value."""
        chosen = sorted((o.code for o in self.options), key=lambda c: c.value)
        return [BASIC_PROFILE_CODE, *chosen]

    @property
    def temporal_flag(self) -> str:
        """Longitudinal Temporal Information Modified (0028,0303), PS3.3 C.7.6.1.1.5."""
        if self.has(ProfileOptionValues.RETAIN_LONGITUDINAL_FULL_DATES):
            return "UNMODIFIED"
        if self.has(ProfileOptionValues.RETAIN_LONGITUDINAL_MODIFIED_DATES):
            return "MODIFIED"
        return "REMOVED"


def parse_options(names: list[str]) -> frozenset[ProfileOptionValues]:
    """CLI option names (``retain-uids`` or ``retain_uids``) to options; unknown → InvalidInput."""
    chosen = set()
    for name in names:
        key = name.strip().lower().replace("-", "_")
        try:
            chosen.add(ProfileOptionValues(key))
        except ValueError:
            known = ", ".join(o.value.replace("_", "-") for o in ProfileOptionValues)
            raise InvalidInput(f"unknown option {name!r}; known: {known}", "option") from None
    return frozenset(chosen)


def load_safe_private(path: Path) -> frozenset[SafePrivate]:
    """A site's safe private list: JSON ``[{"creator": …, "group": "0019", "element": "0C"}]``.

    ``element`` is the low byte of the element number (the block offset, PS3.5 7.8.1).
    """
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
        found = set()
        for row in rows:
            group, element = int(str(row["group"]), 16), int(str(row["element"]), 16)
            if not group & 1 or element > 0xFF:
                raise ValueError(f"not a private element offset: {row}")
            found.add((str(row["creator"]).strip(), group, element))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(f"safe private list {path}: {exc}", "safe-private") from None
    return frozenset(found)
