"""Test studies built with pydicom: several patients, CT and MR, multi-series, a non-ASCII name,
a compressed transfer syntax and an encapsulated PDF."""

from __future__ import annotations

import io

import pydicom
from pydicom.dataset import Dataset
from pydicom.uid import RLELossless, generate_uid

from app.demo import PatientSpec, SeriesSpec, StudySpec, study_files


def study(
    patient_id: str = "P1",
    name: str = "Smith^John",
    *,
    modality: str = "CT",
    series: int = 1,
    per_series: int = 2,
    **kw: object,
) -> StudySpec:
    spec = StudySpec(
        PatientSpec(patient_id, name, "19700101", "M"),
        [SeriesSpec(modality, per_series, 32, 32) for _ in range(series)],
        study_uid=str(generate_uid()),
        **kw,
    )  # type: ignore[arg-type]
    return spec


def files(spec: StudySpec) -> list[bytes]:
    return list(study_files(spec))


def datasets(spec: StudySpec) -> list[Dataset]:
    return [pydicom.dcmread(io.BytesIO(b)) for b in study_files(spec)]


def corpus() -> list[StudySpec]:
    """The mixed corpus the DICOMweb tests share."""
    return [
        StudySpec(
            PatientSpec("PAT-1", "Smith^John", "19650412", "M"),
            [SeriesSpec("CT", 3, 32, 32, "Axial"), SeriesSpec("CT", 2, 32, 32, "Coronal")],
            study_uid=str(generate_uid()),
            study_date="20240110",
            study_time="081500",
            accession="A-1001",
            description="CT head",
            referring="Grey^Meredith",
        ),
        StudySpec(
            PatientSpec("PAT-1", "Smith^John", "19650412", "M"),
            [SeriesSpec("MR", 2, 32, 32, "T2")],
            study_uid=str(generate_uid()),
            study_date="20240320",
            study_time="141000",
            accession="A-1002",
            description="MR knee",
            with_pdf_report=True,
        ),
        StudySpec(
            PatientSpec("PAT-2", "Müller^Zoë", "19920730", "F"),
            [SeriesSpec("CT", 2, 32, 32, "RLE", RLELossless)],
            study_uid=str(generate_uid()),
            study_date="20231201",
            study_time="230000",
            accession="A-2001",
            description="CT abdomen",
        ),
        StudySpec(
            PatientSpec("PAT-3", "Smithson^Anna", "20010101", "F"),
            [SeriesSpec("MR", 1, 32, 32, "Localizer")],
            study_uid=str(generate_uid()),
            study_date="20240321",
            study_time="090000",
            accession="A-3001",
            description="MR brain",
        ),
    ]
