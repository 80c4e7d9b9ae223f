"""Instances whose identifying content lives outside the header are not passed through.

PS3.15 E.1.1 and E.3.1: burned-in annotation in pixels and the content of encapsulated documents
cannot be cleaned by header actions. Without a Clean Pixel Data implementation such instances are
quarantined with the reason, never written to the research copy.
"""

from __future__ import annotations

from pydicom import uid
from pydicom.dataset import Dataset

from app.research.profile import BURNED_IN_MODALITIES, Profile

ENCAPSULATED_SOP_CLASSES = frozenset(
    {
        uid.EncapsulatedPDFStorage,
        uid.EncapsulatedCDAStorage,
        uid.EncapsulatedSTLStorage,
        uid.EncapsulatedOBJStorage,
        uid.EncapsulatedMTLStorage,
    }
)
BURNED_IN_SOP_CLASSES = frozenset(
    {
        uid.UltrasoundImageStorage,
        uid.UltrasoundMultiFrameImageStorage,
        uid.EnhancedUSVolumeStorage,
        uid.SecondaryCaptureImageStorage,
        uid.MultiFrameSingleBitSecondaryCaptureImageStorage,
        uid.MultiFrameGrayscaleByteSecondaryCaptureImageStorage,
        uid.MultiFrameGrayscaleWordSecondaryCaptureImageStorage,
        uid.MultiFrameTrueColorSecondaryCaptureImageStorage,
    }
)


def quarantine_reason(ds: Dataset, profile: Profile) -> str | None:
    """Why this instance must not be written, or None if header actions can clean it."""
    sop_class = str(ds.get("SOPClassUID", ""))
    modality = str(ds.get("Modality", "")).upper()
    if sop_class in ENCAPSULATED_SOP_CLASSES or "EncapsulatedDocument" in ds:
        mime = str(ds.get("MIMETypeOfEncapsulatedDocument", "")) or "unknown type"
        return f"encapsulated document ({mime}): its content cannot be cleaned from the header"
    if str(ds.get("BurnedInAnnotation", "")).upper() == "YES":
        return "Burned In Annotation is YES: text in the pixel data cannot be cleaned"
    if str(ds.get("RecognizableVisualFeatures", "")).upper() == "YES":
        return "Recognizable Visual Features is YES: the image itself can identify the patient"
    embedded = _embedded_overlay(ds)
    if embedded:
        return (
            f"overlay {embedded} is stored in unused bits of the pixel data, which stay untouched"
        )
    vouched = sop_class in profile.clean_pixel_sources or modality in profile.clean_pixel_sources
    if not vouched and (sop_class in BURNED_IN_SOP_CLASSES or modality in BURNED_IN_MODALITIES):
        kind = "ultrasound" if modality in {"US", "IVUS"} else "secondary capture"
        if sop_class in BURNED_IN_SOP_CLASSES:
            kind = uid.UID(sop_class).name
        return (
            f"{kind} commonly carries burned-in text; not marked clean by the site "
            "(--clean-pixel-source)"
        )
    return None


def _embedded_overlay(ds: Dataset) -> str:
    """An overlay kept in the pixel data's high bits (retired, PS3.5 8.1.2, Overlay Bit Position
    non-zero) survives removal of its 60xx group; such instances are quarantined."""
    for group in range(0x6000, 0x6020, 2):
        position = ds.get((group, 0x0102))
        if position is not None and position.value and "PixelData" in ds:
            return f"group {group:04X}"
    return ""
