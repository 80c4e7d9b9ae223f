"""Index tables: patient, study, series and instance.

Matching keys are plain indexed columns named by their DICOM keyword; bookkeeping columns are
snake_case. Study rows repeat the patient attributes QIDO matches on, so study queries touch one
table. ``*_json`` columns hold ready-to-send DICOM JSON bytes (bulk data as BulkDataURI with a
base-URL placeholder, see ``dicomjson.BASE_PLACEHOLDER``).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import BigInteger, Column, Index, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class Patient(SQLModel, table=True):
    """One identity (Patient ID + Issuer) across all its studies."""

    __tablename__ = "patient"
    __table_args__ = (
        UniqueConstraint("PatientID", "IssuerOfPatientID", name="uq_patient_identity"),
    )

    pk: int | None = Field(default=None, primary_key=True)
    resource_id: str = Field(unique=True, index=True)
    PatientID: str = Field(default="", index=True)
    IssuerOfPatientID: str = Field(default="")
    PatientName: str = Field(default="")
    patient_name_norm: str = Field(default="", index=True)
    patient_name_fuzzy: str = Field(default="")
    PatientBirthDate: str = Field(default="")
    PatientSex: str = Field(default="")
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    version: int = 1


class Study(SQLModel, table=True):
    __tablename__ = "study"
    __table_args__ = (
        Index("ix_study_patient_name_norm", "patient_name_norm"),
        Index("ix_study_date_time", "StudyDate", "StudyTime"),
    )

    pk: int | None = Field(default=None, primary_key=True)
    StudyInstanceUID: str = Field(unique=True, index=True)
    patient_pk: int = Field(foreign_key="patient.pk", index=True)
    PatientID: str = Field(default="", index=True)
    IssuerOfPatientID: str = Field(default="")
    PatientName: str = Field(default="")
    patient_name_norm: str = Field(default="")
    patient_name_fuzzy: str = Field(default="")
    PatientBirthDate: str = Field(default="")
    PatientSex: str = Field(default="")
    StudyDate: str = Field(default="")
    StudyTime: str = Field(default="")
    AccessionNumber: str = Field(default="", index=True)
    StudyID: str = Field(default="")
    StudyDescription: str = Field(default="")
    ReferringPhysicianName: str = Field(default="")
    referring_physician_norm: str = Field(default="")
    referring_physician_fuzzy: str = Field(default="")
    ModalitiesInStudy: str = Field(default="")
    NumberOfStudyRelatedSeries: int = 0
    NumberOfStudyRelatedInstances: int = 0
    study_json: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow, index=True)
    version: int = 1


class Series(SQLModel, table=True):
    __tablename__ = "series"

    pk: int | None = Field(default=None, primary_key=True)
    SeriesInstanceUID: str = Field(unique=True, index=True)
    study_pk: int = Field(foreign_key="study.pk", index=True)
    Modality: str = Field(default="", index=True)
    SeriesNumber: int | None = None
    SeriesDescription: str = Field(default="")
    BodyPartExamined: str = Field(default="")
    SeriesDate: str = Field(default="")
    SeriesTime: str = Field(default="")
    PerformedProcedureStepStartDate: str = Field(default="")
    PerformedProcedureStepStartTime: str = Field(default="")
    NumberOfSeriesRelatedInstances: int = 0
    series_json: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Instance(SQLModel, table=True):
    __tablename__ = "instance"

    pk: int | None = Field(default=None, primary_key=True)
    SOPInstanceUID: str = Field(unique=True, index=True)
    series_pk: int = Field(foreign_key="series.pk", index=True)
    study_pk: int = Field(foreign_key="study.pk", index=True)
    SOPClassUID: str = Field(default="", index=True)
    InstanceNumber: int | None = None
    Rows: int | None = None
    Columns: int | None = None
    BitsAllocated: int | None = None
    NumberOfFrames: int | None = None
    transfer_syntax_uid: str = Field()
    blob_key: str = Field()
    size: int = Field(sa_type=BigInteger)
    sha256: str = Field()
    #: Byte offset and length of the Pixel Data value in the blob (-1 = undefined length).
    pixel_data_offset: int | None = Field(default=None, sa_type=BigInteger)
    pixel_data_length: int | None = Field(default=None, sa_type=BigInteger)
    pixel_data_vr: str | None = Field(default=None)
    metadata_json: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
