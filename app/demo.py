"""Synthetic DICOM studies: demo data for ``serve --demo``, tests and benchmarks.

Images are simple phantoms (discs on a background) so a viewer shows something recognisable;
every UID is fresh unless given. Nothing here is real patient data.
"""

from __future__ import annotations

import io
import logging
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    EncapsulatedPDFStorage,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    RLELossless,
    generate_uid,
)

logger = logging.getLogger(__name__)

CT_IMAGE_STORAGE = UID("1.2.840.10008.5.1.4.1.1.2")
MR_IMAGE_STORAGE = UID("1.2.840.10008.5.1.4.1.1.4")
IMPLEMENTATION_UID = UID("1.2.826.0.1.3680043.10.1467.1")


@dataclass
class PatientSpec:
    patient_id: str
    name: str
    birth_date: str = "19700101"
    sex: str = "O"
    issuer: str = ""


@dataclass
class SeriesSpec:
    modality: str = "CT"
    count: int = 3
    rows: int = 64
    columns: int = 64
    description: str = ""
    transfer_syntax: UID = ExplicitVRLittleEndian
    body_part: str = ""
    #: MONOCHROME2 (default), MONOCHROME1, RGB or YBR_FULL (stored as YBR_FULL pixels).
    photometric: str = "MONOCHROME2"
    #: Signed pixels (Pixel Representation 1) holding Hounsfield units directly.
    signed: bool = False
    #: More than 1 makes a multi-frame Secondary Capture object.
    frames: int = 1


@dataclass
class StudySpec:
    patient: PatientSpec
    series: list[SeriesSpec] = field(default_factory=lambda: [SeriesSpec()])
    study_uid: str = field(default_factory=lambda: str(generate_uid()))
    study_date: str = "20240115"
    study_time: str = "101500"
    accession: str = ""
    description: str = "Synthetic study"
    referring: str = ""
    with_pdf_report: bool = False


def _phantom(rows: int, columns: int, index: int, modality: str) -> np.ndarray:
    y, x = np.ogrid[:rows, :columns]
    cy, cx = rows / 2, columns / 2
    r = min(rows, columns) / 2
    img = np.zeros((rows, columns), dtype=np.int16)
    body = (y - cy) ** 2 + (x - cx) ** 2 < (0.9 * r) ** 2
    img[body] = 40 if modality == "CT" else 300
    shift = (index % 8) * r / 16
    spot = (y - cy + r / 3) ** 2 + (x - cx - r / 4 + shift) ** 2 < (r / 5) ** 2
    img[spot] = 400 if modality == "CT" else 900
    if modality == "CT":
        img[~body] = -1000
        return (img + 1024).astype(np.uint16)
    return img.astype(np.uint16)


_UID_NAMESPACE = uuid.UUID("6f1b0c3e-6d1e-4e0b-9a57-2b1f0e0d6a11")


def derived_uid(*parts: object) -> str:
    """A UID derived from its parts (2.25 form of a name-based UUID, PS3.5 B.2).

    The same parts give the same UID, so a demo study regenerates identically.
    """
    return f"2.25.{uuid.uuid5(_UID_NAMESPACE, '|'.join(str(p) for p in parts)).int}"


def _base(spec: StudySpec, sop_class: UID, modality: str, series_uid: str, sop_uid: str) -> Dataset:
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid
    ds.StudyInstanceUID = spec.study_uid
    ds.SeriesInstanceUID = series_uid
    ds.PatientName = spec.patient.name
    ds.PatientID = spec.patient.patient_id
    if spec.patient.issuer:
        ds.IssuerOfPatientID = spec.patient.issuer
    ds.PatientBirthDate = spec.patient.birth_date
    ds.PatientSex = spec.patient.sex
    ds.StudyDate = spec.study_date
    ds.StudyTime = spec.study_time
    ds.AccessionNumber = spec.accession
    ds.StudyID = "1"
    ds.StudyDescription = spec.description
    ds.ReferringPhysicianName = spec.referring
    ds.Modality = modality
    ds.Manufacturer = "Image Share synthetic"
    return ds


def _finish(ds: Dataset, ts: UID) -> bytes:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ts
    meta.ImplementationClassUID = IMPLEMENTATION_UID
    ds.file_meta = meta
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


SC_IMAGE_STORAGE = UID("1.2.840.10008.5.1.4.1.1.7")
CR_IMAGE_STORAGE = UID("1.2.840.10008.5.1.4.1.1.1")
MF_GRAY_WORD_SC = UID("1.2.840.10008.5.1.4.1.1.7.3")
MF_TRUE_COLOR_SC = UID("1.2.840.10008.5.1.4.1.1.7.4")


def colour_phantom(rows: int, columns: int, index: int) -> np.ndarray:
    """An RGB phantom: a red disc with a green spot and a blue band, 8 bits per sample."""
    mono = _phantom(rows, columns, index, "MR")
    rgb = np.zeros((rows, columns, 3), dtype=np.uint8)
    rgb[..., 0] = np.where(mono > 0, 200, 10)
    rgb[..., 1] = np.where(mono > 500, 220, 30)
    rgb[rows // 8 : rows // 4, :, 2] = 255
    return rgb


def series_pixels(series: SeriesSpec, number: int) -> np.ndarray:
    """The phantom pixels of one instance: (frames,) rows, columns (, 3)."""
    frames = [_frame_pixels(series, number, f) for f in range(series.frames)]
    return frames[0] if series.frames == 1 else np.stack(frames)


def _frame_pixels(series: SeriesSpec, number: int, frame: int) -> np.ndarray:
    if series.photometric in ("RGB", "YBR_FULL"):
        return colour_phantom(series.rows, series.columns, number + frame)
    pixels = _phantom(series.rows, series.columns, number + frame, series.modality)
    if series.signed:
        return (pixels.astype(np.int32) - 1024).astype(np.int16)
    return pixels


def _sop_class(series: SeriesSpec) -> UID:
    colour = series.photometric in ("RGB", "YBR_FULL")
    if series.frames > 1:
        return MF_TRUE_COLOR_SC if colour else MF_GRAY_WORD_SC
    if colour:
        return SC_IMAGE_STORAGE
    if series.photometric == "MONOCHROME1":
        return CR_IMAGE_STORAGE
    return CT_IMAGE_STORAGE if series.modality == "CT" else MR_IMAGE_STORAGE


def _pixel_module(ds: Dataset, series: SeriesSpec, pixels: np.ndarray) -> None:
    colour = series.photometric in ("RGB", "YBR_FULL")
    ds.SamplesPerPixel = 3 if colour else 1
    ds.PhotometricInterpretation = series.photometric
    ds.Rows, ds.Columns = series.rows, series.columns
    if colour:
        ds.PlanarConfiguration = 0
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
        if series.photometric == "YBR_FULL":
            from pydicom.pixels.processing import convert_color_space

            pixels = convert_color_space(pixels, "RGB", "YBR_FULL")
    else:
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
    ds.PixelRepresentation = 1 if series.signed else 0
    if series.frames > 1:
        ds.NumberOfFrames = series.frames
        ds.FrameIncrementPointer = 0x00181063
        ds.FrameTime = 100.0
    ds.PixelData = pixels.tobytes()


def _grayscale_attributes(ds: Dataset, series: SeriesSpec) -> None:
    if series.photometric in ("RGB", "YBR_FULL"):
        return
    if series.modality == "CT" and series.frames == 1:
        intercept = 0 if series.signed else -1024
        ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = intercept, 1, "HU"
        ds.WindowCenter, ds.WindowWidth = 40, 400
    elif series.modality == "CT":
        ds.WindowCenter, ds.WindowWidth = 1064, 400
    else:
        ds.WindowCenter, ds.WindowWidth = 500, 1000


def image_instance(
    spec: StudySpec, series: SeriesSpec, series_uid: str, number: int, series_number: int
) -> bytes:
    sop_class = _sop_class(series)
    ds = _base(spec, sop_class, series.modality, series_uid, derived_uid(series_uid, number))
    ds.SeriesNumber = series_number
    ds.SeriesDescription = series.description or f"{series.modality} series {series_number}"
    if series.body_part:
        ds.BodyPartExamined = series.body_part
    ds.InstanceNumber = number
    if sop_class in (CT_IMAGE_STORAGE, MR_IMAGE_STORAGE):
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.FrameOfReferenceUID = derived_uid(spec.study_uid, "frame-of-reference")
        ds.ImagePositionPatient = [0, 0, float(number)]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing = [0.7, 0.7]
        ds.SliceThickness = 1.0
    else:
        ds.ConversionType = "WSD"
    pixels = series_pixels(series, number)
    _pixel_module(ds, series, pixels)
    _grayscale_attributes(ds, series)
    target = series.transfer_syntax
    if target not in (
        ExplicitVRLittleEndian,
        ImplicitVRLittleEndian,
        DeflatedExplicitVRLittleEndian,
    ):
        from app.archive.transcode import encode_dataset

        encode_dataset(ds, target)
    return _finish(ds, target)


def pdf_report(spec: StudySpec, text: str = "Synthetic report: no findings.") -> bytes:
    """An Encapsulated PDF Storage instance holding a one-page PDF."""
    series_uid = derived_uid(spec.study_uid, "report")
    ds = _base(spec, EncapsulatedPDFStorage, "DOC", series_uid, derived_uid(series_uid, 1))
    ds.SeriesNumber = 99
    ds.InstanceNumber = 1
    ds.ContentDate, ds.ContentTime = spec.study_date, spec.study_time
    ds.AcquisitionDateTime = spec.study_date + spec.study_time
    ds.ConversionType = "WSD"
    ds.BurnedInAnnotation = "YES"
    ds.DocumentTitle = "Radiology report"
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    pdf = minimal_pdf(text)
    ds.EncapsulatedDocument = pdf + (b"\0" if len(pdf) % 2 else b"")
    ds.EncapsulatedDocumentLength = len(pdf)
    return _finish(ds, ExplicitVRLittleEndian)


def minimal_pdf(text: str) -> bytes:
    """A valid single-page PDF showing ``text`` (ASCII)."""
    safe = text.encode("ascii", "replace").decode().replace("(", "[").replace(")", "]")
    stream = f"BT /F1 14 Tf 72 720 Td ({safe}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(f"{i} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for off in offsets:
        out.write(f"{off:010d} 00000 n \n".encode())
    out.write(
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return out.getvalue()


def study_files(spec: StudySpec) -> Iterator[bytes]:
    """Every instance of a study as PS3.10 bytes, series by series."""
    for n, series in enumerate(spec.series, 1):
        series_uid = derived_uid(spec.study_uid, "series", n)
        for i in range(1, series.count + 1):
            yield image_instance(spec, series, series_uid, i, n)
    if spec.with_pdf_report:
        yield pdf_report(spec)


def demo_studies() -> list[StudySpec]:
    """A handful of studies for the local demo: CT and MR, several patients."""
    return [
        StudySpec(
            PatientSpec("DEMO-001", "Doe^Jane", "19800214", "F"),
            [
                SeriesSpec("CT", 24, 256, 256, "Axial 1mm", body_part="CHEST"),
                SeriesSpec("CT", 8, 256, 256, "Scout", body_part="CHEST"),
            ],
            study_uid="2.25.31415926535897932384626433832795028841",
            accession="ACC-DEMO-1",
            description="CT chest",
            referring="House^Gregory",
            with_pdf_report=True,
        ),
        StudySpec(
            PatientSpec("DEMO-001", "Doe^Jane", "19800214", "F"),
            [SeriesSpec("MR", 12, 192, 192, "T1 axial", body_part="HEAD")],
            study_uid="2.25.27182818284590452353602874713526624977",
            study_date="20250903",
            accession="ACC-DEMO-2",
            description="MR brain",
        ),
        StudySpec(
            PatientSpec("DEMO-002", "Müller^Zoë", "19920730", "F"),
            [SeriesSpec("CT", 10, 128, 128, "Abdomen", RLELossless, body_part="ABDOMEN")],
            study_uid="2.25.14142135623730950488016887242096980785",
            accession="ACC-DEMO-3",
            description="CT abdomen",
        ),
    ]


def load_demo(archive: object, smart_server: object | None = None) -> int:
    """Store the demo studies (idempotent: identical instances are duplicates) and, with an
    authorization server, enrol the demo patients and print how to sign in."""
    from app.archive.service import Archive

    assert isinstance(archive, Archive)
    stored = 0
    for spec in demo_studies():
        temps = []
        for data in study_files(spec):
            temp = archive.store.new_temp()
            temp.write(data)
            temp.close()
            temps.append(temp)
        results = archive.ingestor.store(temps)
        stored += sum(1 for r in results if not r.failed)
    logger.info("demo data loaded: %d instances", stored)
    if smart_server is not None:
        _demo_access(smart_server)
    return stored


def _demo_access(smart_server: object) -> None:
    from smart import demo
    from smart.server import SmartServer

    assert isinstance(smart_server, SmartServer)
    seen: dict[str, tuple[str, str, str]] = {}
    for spec in demo_studies():
        p = spec.patient
        birth = f"{p.birth_date[:4]}-{p.birth_date[4:6]}-{p.birth_date[6:]}"
        seen.setdefault(p.patient_id, (p.patient_id, p.issuer, birth))
    access = demo.setup(smart_server, list(seen.values()))
    # The demo's own credentials go to the console for the person running it, never to the log.
    sys.stdout.write("\n".join(access.lines) + "\n")
    sys.stdout.flush()
