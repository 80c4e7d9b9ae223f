"""PS3.15 Annex E Basic Application Level Confidentiality Profile, with options, on one instance.

A library function the server and the CLI both call; it knows no HTTP. Every attribute of every
sequence item at any depth gets the action its Annex E row names for the chosen options; combined
codes are resolved by the attribute's type in the instance's IOD; private blocks go unless a
site's safe list keeps them; UIDs, patient IDs and dates become stable project pseudonyms; the
result is marked as de-identified (PS3.15 E.1.1, PS3.3 C.12.1.1.7). Pixel data is never touched:
instances whose pixels may carry identity are quarantined instead (``quarantine.py``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from pydicom import datadict
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag
from pydicom.uid import UID, ExplicitVRLittleEndian

from app.research.annex_e import AnnexETable, load_table, resolve_combination
from app.research.profile import Profile, ProfileOptionValues
from app.research.pseudonyms import Pseudonymizer, shift_date, shift_datetime
from app.research.quarantine import quarantine_reason
from app.research.scrub import Scrubber
from app.research.values import (
    DATE_VRS,
    TEXT_VRS,
    set_dummy,
    set_empty,
    set_text_values,
    text_values,
)

IMPLEMENTATION_CLASS_UID = UID("1.2.826.0.1.3680043.10.1467.1")
IMPLEMENTATION_VERSION = "IMAGESHARE_DEID1"
PATIENT_NAME, PATIENT_ID = 0x00100010, 0x00100020
# Free text inside structured content and graphics that Table E.1-1 has no row for: replaced
# with a dummy, or cleaned under Clean Structured Content (PS3.15 E.3.3).
FREE_TEXT_CONTENT = frozenset({0x0040A160, 0x00700006})  # Text Value, Unformatted Text Value
_CLEAN_CONTEXT_OPTIONS = (
    ProfileOptionValues.CLEAN_STRUCTURED_CONTENT,
    ProfileOptionValues.CLEAN_GRAPHICS,
)


# Removed though Table E.1-1 has no row for them: the Encrypted Attributes Sequence holds some
# earlier party's encrypted originals (PS3.15 E.1.1 item 7, re-identification by its key holder),
# and MAC Parameters only serve digital signatures, which the profile removes (X).
BEYOND_THE_TABLE = {0x04000500: "X", 0x4FFE0001: "X"}
# Options whose C actions clean text, for which identifiers are collected before the walk.
_SCRUBBING_OPTIONS = frozenset(
    {
        ProfileOptionValues.CLEAN_DESCRIPTORS,
        ProfileOptionValues.CLEAN_STRUCTURED_CONTENT,
        ProfileOptionValues.CLEAN_GRAPHICS,
        ProfileOptionValues.RETAIN_PATIENT_CHARACTERISTICS,
    }
)


class QuarantineInstance(Exception):
    """Raised while walking when an attribute asks for cleaning we cannot do faithfully."""


@dataclass
class Outcome:
    """What happened to one instance: ``dataset`` is set only when it may be written."""

    status: str  # written | quarantined | failed
    reason: str = ""
    counts: Counter[str] = field(default_factory=Counter)
    dataset: Dataset | None = None


@dataclass
class _Walk:
    sop_class: str
    shift: int
    scrubber: Scrubber
    counts: Counter[str]


class Deidentifier:
    """One profile and one project key; reusable (and cheap per instance) across a whole run."""

    def __init__(self, profile: Profile, key: bytes, table: AnnexETable | None = None) -> None:
        self.profile = profile
        self.table = table or load_table()
        self.pseudonyms = Pseudonymizer(key)
        self._actions = self.table.actions(profile.options) | BEYOND_THE_TABLE
        self._private = self.table.private_action(profile.options)
        self._scrub = bool(profile.options & _SCRUBBING_OPTIONS)

    def deidentify(self, ds: Dataset) -> Outcome:
        """De-identify ``ds`` in place; quarantine what headers cannot clean."""
        reason = quarantine_reason(ds, self.profile)
        if reason:
            return Outcome("quarantined", reason)
        walk = _Walk(
            str(ds.get("SOPClassUID", "")),
            self.pseudonyms.shift_days(_patient_key(ds)),
            Scrubber.from_dataset(ds) if self._scrub else Scrubber(()),
            Counter(),
        )
        original_id = (str(ds.get("IssuerOfPatientID", "")), str(ds.get("PatientID", "")))
        try:
            self._dataset(ds, walk, nested=False, context="")
        except QuarantineInstance as exc:
            return Outcome("quarantined", str(exc), walk.counts)
        self._patient(ds, original_id)
        self._mark(ds)
        self._file_meta(ds)
        return Outcome("written", counts=walk.counts, dataset=ds)

    # -- the walk ---------------------------------------------------------------------------

    def _dataset(self, ds: Dataset, walk: _Walk, nested: bool, context: str) -> None:
        """Walk by tag: elements are decoded only when an action needs their value."""
        for tag in list(ds.keys()):
            if tag.is_private:
                self._private_element(ds, ds[tag], walk, context)
                continue
            code = self._actions.get(tag) or self.table.pattern_action(tag, self.profile.options)
            if code is None:
                self._unlisted(ds, tag, walk, context)
                continue
            if "/" in code:
                attr_type = self.table.attribute_type(walk.sop_class, tag, nested)
                code = resolve_combination(code, attr_type)
            walk.counts[code] += 1
            if code == "X":
                del ds[tag]
            else:
                self._apply(ds[tag], code, walk, context)
        if not nested and self._private == "C":
            self._drop_orphan_creators(ds)

    def _unlisted(self, ds: Dataset, tag: BaseTag, walk: _Walk, context: str) -> None:
        """Attributes without a row are kept (PS3.15 E.1.1), except unknown public ones."""
        vr = _dictionary_vr(tag)
        if tag.element == 0 or vr is None:
            del ds[tag]
            walk.counts["X"] += 1
        elif tag in FREE_TEXT_CONTENT:
            walk.counts["C" if context == "C" else "D"] += 1
            self._free_text(ds[tag], walk, context)
        elif vr == "SQ" or ds.get_item(tag).VR == "SQ":
            self._items(ds[tag], walk, context)

    def _apply(self, elem: DataElement, code: str, walk: _Walk, context: str) -> None:
        if elem.VR == "SQ":
            self._sequence(elem, code, walk, context)
        elif code == "K":
            return
        elif code == "Z":
            set_empty(elem)
        elif code == "C":
            self._clean(elem, walk)
        else:
            self._dummy(elem)

    def _sequence(self, elem: DataElement, code: str, walk: _Walk, context: str) -> None:
        """Z empties a sequence; K, U, D and C keep its items and de-identify each of them."""
        if code == "Z":
            elem.value = Sequence()
            return
        if code == "C" and any(self.profile.has(o) for o in _CLEAN_CONTEXT_OPTIONS):
            context = "C"
        elif code == "D":
            context = "D"
        self._items(elem, walk, context)

    def _items(self, elem: DataElement, walk: _Walk, context: str) -> None:
        for item in elem.value or []:
            self._dataset(item, walk, nested=True, context=context)

    def _dummy(self, elem: DataElement) -> None:
        """D (and U): a UID becomes its project pseudonym, anything else a dummy of its VR."""
        if elem.VR == "UI":
            set_text_values(elem, [self.pseudonyms.uid(v) for v in text_values(elem)])
        else:
            set_dummy(elem)

    def _clean(self, elem: DataElement, walk: _Walk) -> None:
        """C: dates shift by the patient's offset; text loses the identifiers we know of."""
        vr = elem.VR
        if vr in DATE_VRS:
            self._shift(elem, walk.shift)
        elif vr in TEXT_VRS and vr != "PN":
            set_text_values(elem, [walk.scrubber.clean(v) for v in text_values(elem)])
        elif vr in {"OB", "OW", "OD", "OF", "OL", "OV", "UN"}:
            known = _dictionary_vr(elem.tag) is not None
            name = datadict.dictionary_description(elem.tag) if known else "binary data"
            raise QuarantineInstance(
                f"{name} {elem.tag} cannot be cleaned: graphics in bitmaps may carry text"
            )
        elif vr in {"PN", "UI"}:
            self._dummy(elem)  # no way to clean a name; a UID is replaced, never kept

    def _shift(self, elem: DataElement, days: int) -> None:
        if elem.VR == "TM":
            return  # times of day keep their value: intervals are whole days
        shifter = shift_date if elem.VR == "DA" else shift_datetime
        shifted = [shifter(v, days) for v in text_values(elem)]
        if any(v is None for v in shifted):
            set_dummy(elem)
            return
        set_text_values(elem, [v for v in shifted if v is not None])

    def _free_text(self, elem: DataElement, walk: _Walk, context: str) -> None:
        if context == "C":
            set_text_values(elem, [walk.scrubber.clean(v) for v in text_values(elem)])
        else:
            set_dummy(elem)

    # -- private attributes ------------------------------------------------------------------

    def _private_element(self, ds: Dataset, elem: DataElement, walk: _Walk, context: str) -> None:
        """Private blocks go (X) unless Retain Safe Private names them (PS3.15 E.3.10)."""
        tag = elem.tag
        if self._private == "C" and 0x0010 <= tag.element <= 0x00FF:
            return  # private creators: kept while a kept element of their block needs them
        if self._private == "C" and self._is_safe(ds, tag):
            walk.counts["C"] += 1
            if elem.VR == "SQ":
                self._items(elem, walk, context)
            return
        walk.counts["X"] += 1
        del ds[tag]

    def _is_safe(self, ds: Dataset, tag: BaseTag) -> bool:
        creator = ds.get((tag.group, tag.element >> 8))
        if creator is None or tag.element < 0x1000:
            return False
        key = (str(creator.value).strip(), tag.group, tag.element & 0xFF)
        return key in self.profile.safe_private

    def _drop_orphan_creators(self, ds: Dataset) -> None:
        for elem in list(ds):
            tag = elem.tag
            if tag.is_private and 0x0010 <= tag.element <= 0x00FF:
                tags = ds.keys()  # a Dataset iterates over elements, not tags
                used = any(t.group == tag.group and t.element >> 8 == tag.element for t in tags)
                if not used:
                    del ds[tag]
            if elem.VR == "SQ" and tag in ds:
                for item in elem.value or []:
                    self._drop_orphan_creators(item)

    # -- identity, marking and file meta -----------------------------------------------------

    def _patient(self, ds: Dataset, original: tuple[str, str]) -> None:
        """Stable pseudonyms replace Patient's Name and ID (Z and Z/D allow a dummy value)."""
        pseudonym = self.pseudonyms.patient_id(*original)
        for tag in (PATIENT_NAME, PATIENT_ID):
            if tag in ds:
                ds[tag].value = pseudonym

    def _mark(self, ds: Dataset) -> None:
        """PS3.15 E.1.1 items 4-5 and PS3.3 C.7.1.1: say that and how identity was removed."""
        ds.PatientIdentityRemoved = "YES"
        names = ["Image Share PS3.15 Annex E"]
        names += [code.meaning[:64] for code in self.profile.codes]
        ds.DeidentificationMethod = names
        items = []
        for code in self.profile.codes:
            item = Dataset()
            item.CodeValue = code.value
            item.CodingSchemeDesignator = code.scheme_designator
            item.CodeMeaning = code.meaning
            items.append(item)
        ds.DeidentificationMethodCodeSequence = Sequence(items)
        ds.LongitudinalTemporalInformationModified = self.profile.temporal_flag

    def _file_meta(self, ds: Dataset) -> None:
        """A fresh File Meta Information (PS3.10 7.1): no source AE titles, private data or UIDs."""
        old = getattr(ds, "file_meta", FileMetaDataset())
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = ds.SOPClassUID
        meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        meta.TransferSyntaxUID = UID(old.get("TransferSyntaxUID", ExplicitVRLittleEndian))
        meta.ImplementationClassUID = IMPLEMENTATION_CLASS_UID
        meta.ImplementationVersionName = IMPLEMENTATION_VERSION
        ds.file_meta = meta


def _dictionary_vr(tag: BaseTag) -> str | None:
    """The data dictionary's VR (repeating groups included), None for an unknown attribute."""
    try:
        return str(datadict.dictionary_VR(tag))
    except KeyError:
        return None


def _patient_key(ds: Dataset) -> str:
    """Whose date offset applies: issuer + Patient ID, else name + birth date."""
    patient_id = str(ds.get("PatientID", "")).strip()
    if patient_id:
        return f"id\x1f{ds.get('IssuerOfPatientID', '')}\x1f{patient_id}"
    return f"name\x1f{ds.get('PatientName', '')}\x1f{ds.get('PatientBirthDate', '')}"


def deidentify_dataset(ds: Dataset, profile: Profile, key: bytes) -> Outcome:
    """One-shot convenience: de-identify ``ds`` in place with a fresh engine."""
    return Deidentifier(profile, key).deidentify(ds)
