"""PHI-laden test instances for the de-identification tests, built with pydicom.

Every identifying value planted here is listed in ``PLANTED`` so tests can scan output bytes for
each of them. Values are distinctive so that a hit is a real leak, never a coincidence.
"""

from __future__ import annotations

import io

import numpy as np
from pydicom import uid
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence

from app.demo import minimal_pdf

STUDY_UID = "1.2.826.0.1.3680043.8.498.1001"
SERIES_UID = "1.2.826.0.1.3680043.8.498.1002"
CT_UIDS = ("1.2.826.0.1.3680043.8.498.1003", "1.2.826.0.1.3680043.8.498.1004")
FOR_UID = "1.2.826.0.1.3680043.8.498.1005"
EVENT_UID = "1.2.826.0.1.3680043.8.498.1006"
SR_SERIES_UID = "1.2.826.0.1.3680043.8.498.1007"
SR_UID = "1.2.826.0.1.3680043.8.498.1008"
DEVICE_UID = "1.2.826.0.1.3680043.8.498.1009"
OTHER_STUDY_UID = "1.2.826.0.1.3680043.8.498.1010"
ALL_UIDS = (
    STUDY_UID, SERIES_UID, *CT_UIDS, FOR_UID, EVENT_UID, SR_SERIES_UID, SR_UID, DEVICE_UID,
    OTHER_STUDY_UID,
)  # fmt: skip

PATIENT = {
    "PatientName": "Holmes^Sherlock^Ignatius",
    "PatientID": "MRN7734519",
    "IssuerOfPatientID": "BAKERSTHOSP",
    "OtherPatientIDs": "ALT99812",
    "PatientBirthDate": "19540106",
    "PatientBirthTime": "031500",
    "PatientAddress": "221B Baker Street, Marylebone",
    "PatientTelephoneNumbers": "+44-20-7946-0958",
    "PatientMotherBirthName": "Vernet^Violetta",
    "MilitaryRank": "Captain Fifth Northumberland",
    "Occupation": "Sleuthing",
    "AdditionalPatientHistory": "Lives with flatmate Hudsonia",
    "PatientComments": "Prefers violin at night",
    "PatientAge": "070Y",
    "PatientSex": "M",
    "PatientSize": 1.83,
    "PatientWeight": 74.5,
    "EthnicGroup": "Sussexian",
}
STAFF = {
    "ReferringPhysicianName": "Watson^Johnathan^Hamish",
    "ReferringPhysicianAddress": "Paddington Green Surgery",
    "PerformingPhysicianName": "Hooperton^Molly",
    "NameOfPhysiciansReadingStudy": "Stamfordly^Michael",
    "OperatorsName": "Lestrade^Gregson",
    "PhysiciansOfRecord": "Mycroftson^Anthea",
    "InstitutionName": "Barts Pathology Infirmary",
    "InstitutionAddress": "West Smithfield Quarter",
    "InstitutionalDepartmentName": "Forensic Radiology Wing",
    "StationName": "BARTSCT07",
    "DeviceSerialNumber": "SN88442211",
    "DetectorID": "DET55AA",
    "AccessionNumber": "ACC22104471",
    "StudyID": "STUDY8812",
    "PerformedProcedureStepID": "PPS77123",
}
DATES = {
    "StudyDate": "20240115",
    "SeriesDate": "20240115",
    "AcquisitionDate": "20240115",
    "ContentDate": "20240115",
    "InstanceCreationDate": "20240116",
    "StudyTime": "101503",
    "SeriesTime": "101733",
    "AcquisitionTime": "101744",
    "ContentTime": "101755",
    "InstanceCreationTime": "111809",
    "AcquisitionDateTime": "20240115101744",
    "PerformedProcedureStepStartDate": "20240115",
}
DESCRIPTIONS = {
    "StudyDescription": "CT chest for Holmes MRN7734519",
    "SeriesDescription": "Axial lung Sherlock",
    "ProtocolName": "Baker protocol Watson",
    "ImageComments": "Patient Holmes moved during scan",
}
NESTED = {
    "request_id": "REQ55120",
    "request_reason": "Persistent cough Holmes",
    "deep_operator": "Moriarty^Jamesworth",
    "original_name": "Holmes^Sherly",
    "private_phi": "PRIVMRN7734519",
    "private_nested_phi": "Adlerine^Irene",
    "private_safe": "SAFEVALUE4242",
    "overlay_comment": "Overlay by Hudsonia",
    "unknown_public": "UNKNOWNPUB77",
    "deep_private": "DEEPPRIV9911",
    "encrypted": "CMSENVELOPEHOLMES1",
}
SR_TEXT = "Findings: Sherlock shows a rib fracture; call Hudsonia on 555-0199."
SR_PERSON = "Gregsonia^Tobias"
PDF_TEXT = "Report for Holmes Sherlock MRN7734519"
US_NAME = "Adlerine^Irene"
UNKNOWN_PUBLIC_TAG = 0x0010FF00  # an even group, but no such attribute in the standard


def planted() -> list[str]:
    """Every identifying string a basic-profile output must not contain."""
    values = [str(v) for d in (PATIENT, STAFF, DESCRIPTIONS) for v in d.values()]
    values = [v for v in values if v not in {"M", "070Y", "1.83", "74.5"}]
    values += [v for v in NESTED.values() if v != NESTED["private_safe"]]
    values += [SR_TEXT, SR_PERSON, "Holmes", "Sherlock", "Watson", "Hudsonia", "555-0199"]
    values += ["20240115", "20240116", "101503", "101733", "101744", "101755", "111809"]
    return values + list(ALL_UIDS)


def _meta(ds: Dataset, ts: str = uid.ExplicitVRLittleEndian) -> bytes:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = uid.UID(ts)
    meta.ImplementationClassUID = uid.UID("1.2.826.0.1.3680043.8.498.1")
    meta.SourceApplicationEntityTitle = "BARTSCT07"
    ds.file_meta = meta
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def _patient_study(ds: Dataset) -> None:
    ds.SpecificCharacterSet = "ISO_IR 192"
    for key, value in {**PATIENT, **STAFF, **DATES, **DESCRIPTIONS}.items():
        setattr(ds, key, value)
    ds.StudyInstanceUID = STUDY_UID
    other = Dataset()
    other.PatientID = "ALT99812"
    other.IssuerOfPatientID = "BAKERSTHOSP"
    ds.OtherPatientIDsSequence = Sequence([other])
    ref_study = Dataset()
    ref_study.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.1"
    ref_study.ReferencedSOPInstanceUID = OTHER_STUDY_UID
    ds.ReferencedStudySequence = Sequence([ref_study])


def _request(ds: Dataset) -> None:
    request = Dataset()
    request.RequestedProcedureID = NESTED["request_id"]
    request.ReasonForTheRequestedProcedure = NESTED["request_reason"]
    ds.RequestAttributesSequence = Sequence([request])
    original = Dataset()
    modified = Dataset()
    modified.PatientName = NESTED["original_name"]
    original.ModifiedAttributesSequence = Sequence([modified])
    original.AttributeModificationDateTime = "20240115120000"
    original.ModifyingSystem = "BARTSCT07"
    original.ReasonForTheAttributeModification = "CORRECT"
    ds.OriginalAttributesSequence = Sequence([original])
    encrypted = Dataset()
    encrypted.EncryptedContentTransferSyntaxUID = uid.ExplicitVRLittleEndian
    encrypted.EncryptedContent = NESTED["encrypted"].encode()
    ds.EncryptedAttributesSequence = Sequence([encrypted])


def _private(ds: Dataset) -> None:
    block = ds.private_block(0x0009, "ACME PHI 1.0", create=True)
    block.add_new(0x01, "LO", NESTED["private_phi"])
    inner = Dataset()
    inner.PatientName = NESTED["private_nested_phi"]
    block.add_new(0x02, "SQ", Sequence([inner]))
    safe = ds.private_block(0x0011, "SAFE VENDOR", create=True)
    safe.add_new(0x05, "LO", NESTED["private_safe"])
    safe.add_new(0x06, "LO", NESTED["private_phi"])


def _deep(ds: Dataset) -> None:
    """PHI three sequences deep inside sequences Table E.1-1 keeps, and an unknown tag."""
    code = Dataset()
    code.CodeValue = "121311"
    code.CodingSchemeDesignator = "DCM"
    code.CodeMeaning = "Localizer"
    deepest = Dataset()
    deepest.OperatorsName = NESTED["deep_operator"]
    deepest.PatientID = "MRN7734519"
    code.ContentCreatorName = NESTED["deep_operator"]
    code.PurposeOfReferenceCodeSequence = Sequence([deepest])
    region = Dataset()
    region.CodeValue = "T-D3000"
    region.CodingSchemeDesignator = "SRT"
    region.CodeMeaning = "Chest"
    region.ModifierCodeSequence = Sequence([code])
    region.private_block(0x0029, "DEEP PRIV", create=True).add_new(
        0x01, "LO", NESTED["deep_private"]
    )
    ds.AnatomicRegionSequence = Sequence([region])
    ds.add_new(UNKNOWN_PUBLIC_TAG, "LO", NESTED["unknown_public"])


def _overlay(ds: Dataset) -> None:
    ds.add_new(0x60000010, "US", 4)
    ds.add_new(0x60000011, "US", 4)
    ds.add_new(0x60000040, "CS", "G")
    ds.add_new(0x60000050, "SS", [1, 1])
    ds.add_new(0x60000100, "US", 1)
    ds.add_new(0x60000102, "US", 0)
    ds.add_new(0x60003000, "OW", b"\xff\x00")
    ds.add_new(0x60004000, "LT", NESTED["overlay_comment"])


def ct_instance(number: int, *, overlay: bool = False, private: bool = True) -> bytes:
    """A CT Image Storage instance full of PHI; instance 2 references instance 1."""
    ds = Dataset()
    _patient_study(ds)
    ds.SOPClassUID = uid.CTImageStorage
    ds.SOPInstanceUID = CT_UIDS[number - 1]
    ds.SeriesInstanceUID = SERIES_UID
    ds.FrameOfReferenceUID = FOR_UID
    ds.IrradiationEventUID = EVENT_UID
    ds.DeviceUID = DEVICE_UID
    ds.Modality = "CT"
    ds.Manufacturer = "Acme"
    ds.SeriesNumber = 1
    ds.InstanceNumber = number
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.PositionReferenceIndicator = ""
    ds.ImagePositionPatient = [0, 0, number]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing = [0.5, 0.5]
    ds.KVP = 120
    ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows = ds.Columns = 16
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = (np.arange(256, dtype=np.uint16) * (number + 3)).tobytes()
    if number == 2:
        source = Dataset()
        source.ReferencedSOPClassUID = uid.CTImageStorage
        source.ReferencedSOPInstanceUID = CT_UIDS[0]
        ds.SourceImageSequence = Sequence([source])
    _request(ds)
    _deep(ds)
    if private:
        _private(ds)
    if overlay:
        _overlay(ds)
    return _meta(ds)


def _content_item(value_type: str, meaning: str, relationship: str = "CONTAINS") -> Dataset:
    item = Dataset()
    item.RelationshipType = relationship
    item.ValueType = value_type
    concept = Dataset()
    concept.CodeValue = "121071"
    concept.CodingSchemeDesignator = "DCM"
    concept.CodeMeaning = meaning
    item.ConceptNameCodeSequence = Sequence([concept])
    return item


def sr_instance() -> bytes:
    """A Comprehensive SR whose text, names, dates and references all carry identity."""
    ds = Dataset()
    _patient_study(ds)
    ds.SOPClassUID = uid.ComprehensiveSRStorage
    ds.SOPInstanceUID = SR_UID
    ds.SeriesInstanceUID = SR_SERIES_UID
    ds.Modality = "SR"
    ds.SeriesNumber, ds.InstanceNumber = 2, 1
    ds.CompletionFlag, ds.VerificationFlag = "COMPLETE", "VERIFIED"
    ds.ValueType = "CONTAINER"
    ds.ContinuityOfContent = "SEPARATE"
    observer = Dataset()
    observer.VerifyingObserverName = "Stamfordly^Michael"
    observer.VerifyingOrganization = "Barts Pathology Infirmary"
    observer.VerificationDateTime = "20240115120000"
    observer.VerifyingObserverIdentificationCodeSequence = Sequence()
    ds.VerifyingObserverSequence = Sequence([observer])
    text = _content_item("TEXT", "Finding")
    text.TextValue = SR_TEXT
    person = _content_item("PNAME", "Recording Observer", "HAS OBS CONTEXT")
    person.PersonName = SR_PERSON
    date = _content_item("DATE", "Date of finding")
    date.Date = "20240115"
    uidref = _content_item("UIDREF", "Study Instance UID")
    uidref.UID = STUDY_UID
    image = _content_item("IMAGE", "Source image")
    ref = Dataset()
    ref.ReferencedSOPClassUID = uid.CTImageStorage
    ref.ReferencedSOPInstanceUID = CT_UIDS[1]
    image.ReferencedSOPSequence = Sequence([ref])
    ds.ContentSequence = Sequence([text, person, date, uidref, image])
    evidence_sop = Dataset()
    evidence_sop.ReferencedSOPClassUID = uid.CTImageStorage
    evidence_sop.ReferencedSOPInstanceUID = CT_UIDS[0]
    series = Dataset()
    series.SeriesInstanceUID = SERIES_UID
    series.ReferencedSOPSequence = Sequence([evidence_sop])
    evidence = Dataset()
    evidence.StudyInstanceUID = STUDY_UID
    evidence.ReferencedSeriesSequence = Sequence([series])
    ds.CurrentRequestedProcedureEvidenceSequence = Sequence([evidence])
    return _meta(ds)


def pdf_instance() -> bytes:
    ds = Dataset()
    _patient_study(ds)
    ds.SOPClassUID = uid.EncapsulatedPDFStorage
    ds.SOPInstanceUID = "1.2.826.0.1.3680043.8.498.1020"
    ds.SeriesInstanceUID = "1.2.826.0.1.3680043.8.498.1021"
    ds.Modality = "DOC"
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    pdf = minimal_pdf(PDF_TEXT)
    ds.EncapsulatedDocument = pdf + (b"\0" if len(pdf) % 2 else b"")
    return _meta(ds)


def us_instance(burned_in: str | None = "YES") -> bytes:
    """An ultrasound frame with the patient's name drawn into the pixels."""
    ds = Dataset()
    _patient_study(ds)
    ds.PatientName = US_NAME
    ds.SOPClassUID = uid.UltrasoundImageStorage
    ds.SOPInstanceUID = "1.2.826.0.1.3680043.8.498.1030" + ("1" if burned_in else "2")
    ds.SeriesInstanceUID = "1.2.826.0.1.3680043.8.498.1031"
    ds.Modality = "US"
    if burned_in is not None:
        ds.BurnedInAnnotation = burned_in
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows, ds.Columns = 8, 64
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    text = np.frombuffer(US_NAME.encode().ljust(64, b" "), dtype=np.uint8)
    ds.PixelData = np.tile(text, (8, 1)).tobytes()
    return _meta(ds)
