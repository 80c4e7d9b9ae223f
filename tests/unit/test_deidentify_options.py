"""Each PS3.15 E.3 option retains exactly what it says and nothing more."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset

from app.research import Profile, ProfileOptionValues, deidentify_paths
from tests.unit import deidentify_phi as phi
from tests.unit.test_deidentify import KEY, leaked, outputs, run

O = ProfileOptionValues  # noqa: E741
DATE_VALUES = ["20240115", "20240116", "101503", "101733", "101744", "101755", "111809"]

# What each option may let through, as planted values; everything else planted must still go.
RETAINED: dict[ProfileOptionValues, list[str]] = {
    O.RETAIN_PATIENT_CHARACTERISTICS: ["Sussexian"],
    O.RETAIN_DEVICE_IDENTITY: ["BARTSCT07", "SN88442211", "DET55AA", phi.DEVICE_UID],
    O.RETAIN_INSTITUTION_IDENTITY: [
        "Barts Pathology Infirmary",
        "West Smithfield Quarter",
        "Forensic Radiology Wing",
    ],
    O.RETAIN_UIDS: list(phi.ALL_UIDS),
    O.RETAIN_LONGITUDINAL_FULL_DATES: DATE_VALUES,
    O.RETAIN_LONGITUDINAL_MODIFIED_DATES: ["101503", "101733", "101744", "101755", "111809"],
    # Descriptors are kept once cleaned of the identifiers the header holds; a name that appears
    # only in prose ("Hudsonia") cannot be recognised (docs/deidentification.md says so).
    O.CLEAN_DESCRIPTORS: [
        "Sleuthing",
        "Lives with flatmate Hudsonia",
        "Hudsonia",
        "Prefers violin at night",
    ],
    O.CLEAN_STRUCTURED_CONTENT: ["Hudsonia"],  # a name in prose the header never mentions
    O.CLEAN_GRAPHICS: [],
}


def profile_for(option: ProfileOptionValues) -> Profile:
    return Profile(frozenset({option}))


@pytest.mark.parametrize("option", list(RETAINED), ids=lambda o: o.value)
def test_option_retains_its_values_and_nothing_else(
    option: ProfileOptionValues, tmp_path: Path
) -> None:
    report, out = run(tmp_path, profile_for(option))
    assert report.count("written") == 3
    expected = RETAINED[option]
    others = [v for v in phi.planted() if v not in expected]
    assert leaked(out, others) == []
    assert leaked(out, expected) == sorted(set(expected))
    for ds in outputs(out).values():
        codes = [i.CodeValue for i in ds.DeidentificationMethodCodeSequence]
        assert codes == ["113100", option.code.value]


def test_patient_characteristics_keep_sex_age_size_weight(tmp_path: Path) -> None:
    _, out = run(tmp_path, profile_for(O.RETAIN_PATIENT_CHARACTERISTICS))
    ct = outputs(out)["ct1"]
    assert (ct.PatientSex, ct.PatientAge, ct.EthnicGroup) == ("M", "070Y", "Sussexian")
    assert (float(ct.PatientSize), float(ct.PatientWeight)) == (1.83, 74.5)
    _, basic = run(tmp_path)
    ct = outputs(basic)["ct1"]
    assert ct.PatientSex == "" and "PatientAge" not in ct and "PatientWeight" not in ct


def test_full_dates_are_unmodified_and_marked(tmp_path: Path) -> None:
    _, out = run(tmp_path, profile_for(O.RETAIN_LONGITUDINAL_FULL_DATES))
    ct = outputs(out)["ct1"]
    assert (ct.StudyDate, ct.StudyTime, ct.AcquisitionDateTime) == (
        "20240115",
        "101503",
        "20240115101744",
    )
    assert ct.LongitudinalTemporalInformationModified == "UNMODIFIED"
    assert ct.PatientBirthDate == ""  # not a longitudinal attribute: still Z


def _day(value: str) -> dt.date:
    return dt.datetime.strptime(value[:8], "%Y%m%d").date()


def test_modified_dates_shift_per_patient_and_keep_intervals(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    later = pydicom.dcmread(pydicom.filebase.DicomBytesIO(phi.ct_instance(1)))
    later.SOPInstanceUID = later.file_meta.MediaStorageSOPInstanceUID = (
        "1.2.826.0.1.3680043.8.498.2"
    )
    later.StudyInstanceUID = "1.2.826.0.1.3680043.8.498.3"
    later.StudyDate = "20240401"
    stranger = pydicom.dcmread(pydicom.filebase.DicomBytesIO(phi.ct_instance(2)))
    stranger.PatientID = "OTHER-PATIENT"
    stranger.SOPInstanceUID = stranger.file_meta.MediaStorageSOPInstanceUID = (
        "1.2.826.0.1.3680043.8.498.4"
    )
    (src / "a.dcm").write_bytes(phi.ct_instance(1))
    later.save_as(src / "b.dcm", enforce_file_format=True)
    stranger.save_as(src / "c.dcm", enforce_file_format=True)
    profile = profile_for(O.RETAIN_LONGITUDINAL_MODIFIED_DATES)
    report = deidentify_paths([src], tmp_path / "out", profile, KEY)
    assert report.count("written") == 3
    by_source = {Path(i.source).stem: tmp_path / "out" / i.output for i in report.instances}
    a, b, c = (pydicom.dcmread(by_source[k]) for k in "abc")
    assert _day(a.StudyDate) != _day("20240115")
    assert _day(b.StudyDate) - _day(a.StudyDate) == dt.timedelta(days=77)
    assert _day(a.InstanceCreationDate) - _day(a.StudyDate) == dt.timedelta(days=1)
    assert a.AcquisitionDateTime[8:] == "101744" and a.StudyTime == "101503"
    assert _day(a.AcquisitionDateTime) == _day(a.StudyDate)
    shift_a = _day(a.StudyDate) - _day("20240115")
    shift_c = _day(c.StudyDate) - _day("20240115")
    assert shift_a != shift_c
    assert dt.timedelta(days=-3653) < shift_a <= dt.timedelta(days=-365)
    assert a.LongitudinalTemporalInformationModified == "MODIFIED"


def test_clean_descriptors_keep_the_description_without_identifiers(tmp_path: Path) -> None:
    _, out = run(tmp_path, profile_for(O.CLEAN_DESCRIPTORS))
    ct = outputs(out)["ct1"]
    assert ct.StudyDescription == "CT chest for *** ***"
    assert ct.SeriesDescription == "Axial lung ***"
    assert ct.ImageComments == "Patient *** moved during scan"
    reason = ct.RequestAttributesSequence[0].ReasonForTheRequestedProcedure
    assert reason == "Persistent cough ***"


def test_clean_structured_content_keeps_the_report_text_cleaned(tmp_path: Path) -> None:
    _, out = run(tmp_path, profile_for(O.CLEAN_STRUCTURED_CONTENT))
    sr = outputs(out)["sr"]
    content = {item.ValueType: item for item in sr.ContentSequence}
    assert content["TEXT"].TextValue == "Findings: *** shows a rib fracture; call Hudsonia on ***."
    assert content["PNAME"].PersonName == "ANONYMIZED"


def test_clean_graphics_quarantines_overlay_bitmaps_basic_removes_them(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    (src / "ct.dcm").write_bytes(phi.ct_instance(1, overlay=True))
    report = deidentify_paths([src], tmp_path / "basic", Profile(), KEY)
    assert report.instances[0].status == "written"
    written = pydicom.dcmread(next((tmp_path / "basic").rglob("*.dcm")))
    assert not [e for e in written if e.tag.group == 0x6000]
    assert leaked(tmp_path / "basic", [phi.NESTED["overlay_comment"]]) == []
    report = deidentify_paths([src], tmp_path / "graphics", profile_for(O.CLEAN_GRAPHICS), KEY)
    assert report.instances[0].status == "quarantined"
    assert "Overlay Data" in report.instances[0].reason
    assert not list((tmp_path / "graphics").rglob("*.dcm"))


def test_retain_safe_private_keeps_only_the_listed_element(tmp_path: Path) -> None:
    safe = frozenset({("SAFE VENDOR", 0x0011, 0x05)})
    profile = Profile(frozenset({O.RETAIN_SAFE_PRIVATE}), safe_private=safe)
    _, out = run(tmp_path, profile)
    expected = [phi.NESTED["private_safe"], "SAFE VENDOR"]
    assert leaked(out, [v for v in phi.planted() if v not in expected] + ["ACME PHI"]) == []
    ct = outputs(out)["ct1"]
    private = [e for e in ct if e.tag.is_private]
    assert [(e.tag, e.value) for e in private] == [
        (0x00110010, "SAFE VENDOR"),
        (0x00111005, phi.NESTED["private_safe"]),
    ]


def test_retain_uids_keeps_references_as_they_were(tmp_path: Path) -> None:
    _, out = run(tmp_path, profile_for(O.RETAIN_UIDS))
    found = outputs(out)
    assert found["ct1"].SOPInstanceUID == phi.CT_UIDS[0]
    assert found["ct1"].file_meta.MediaStorageSOPInstanceUID == phi.CT_UIDS[0]
    evidence = found["sr"].CurrentRequestedProcedureEvidenceSequence[0]
    assert evidence.StudyInstanceUID == phi.STUDY_UID


def test_options_combine(tmp_path: Path) -> None:
    options = frozenset({O.RETAIN_DEVICE_IDENTITY, O.RETAIN_INSTITUTION_IDENTITY, O.RETAIN_UIDS})
    _, out = run(tmp_path, Profile(options))
    expected = RETAINED[O.RETAIN_DEVICE_IDENTITY] + RETAINED[O.RETAIN_INSTITUTION_IDENTITY]
    expected += RETAINED[O.RETAIN_UIDS]
    assert leaked(out, [v for v in phi.planted() if v not in expected]) == []
    ds: Dataset = outputs(out)["ct1"]
    assert [i.CodeValue for i in ds.DeidentificationMethodCodeSequence] == [
        "113100",
        "113109",
        "113110",
        "113112",
    ]


def test_overlay_in_pixel_bits_is_quarantined(tmp_path: Path) -> None:
    ds = pydicom.dcmread(pydicom.filebase.DicomBytesIO(phi.ct_instance(1)))
    ds.add_new(0x60000010, "US", 16)
    ds.add_new(0x60000011, "US", 16)
    ds.add_new(0x60000100, "US", 1)
    ds.add_new(0x60000102, "US", 15)  # retired: the overlay lives in bit 15 of each pixel
    src = tmp_path / "in"
    src.mkdir()
    ds.save_as(src / "ct.dcm", enforce_file_format=True)
    report = deidentify_paths([src], tmp_path / "out", Profile(), KEY)
    assert report.instances[0].status == "quarantined"
    assert "unused bits of the pixel data" in report.instances[0].reason
