"""The transfer syntaxes we read and write, and what each can hold (PS3.5 Section 10, Annex A).

One table drives negotiation (WADO-RS, WADO-URI), DIMSE presentation contexts and the conformance
statement in ``docs/conformance.md``, so they cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

IMPLICIT_VR_LE = "1.2.840.10008.1.2"
EXPLICIT_VR_LE = "1.2.840.10008.1.2.1"
DEFLATED = "1.2.840.10008.1.2.1.99"
EXPLICIT_VR_BE = "1.2.840.10008.1.2.2"
JPEG_BASELINE = "1.2.840.10008.1.2.4.50"
JPEG_EXTENDED = "1.2.840.10008.1.2.4.51"
JPEG_LOSSLESS = "1.2.840.10008.1.2.4.57"
JPEG_LOSSLESS_SV1 = "1.2.840.10008.1.2.4.70"
JPEG_LS_LOSSLESS = "1.2.840.10008.1.2.4.80"
JPEG_LS_NEAR = "1.2.840.10008.1.2.4.81"
J2K_LOSSLESS = "1.2.840.10008.1.2.4.90"
J2K = "1.2.840.10008.1.2.4.91"
RLE = "1.2.840.10008.1.2.5"


@dataclass(frozen=True)
class Syntax:
    """One transfer syntax: how frames of it are typed and what we can encode into it."""

    uid: str
    name: str
    #: Media type of one frame in this syntax (PS3.18 Table 8.7.3-2).
    frame_media: str
    encapsulated: bool
    lossy: bool = False
    writable: bool = True
    #: Largest Bits Stored an encoder accepts; signed pixels need an encoder that keeps the sign.
    max_bits: int = 16
    signed_ok: bool = True
    #: Lossy Image Compression Method (0028,2114) for the derived object (PS3.3 C.7.6.1.1.5).
    method: str = ""


SYNTAXES: dict[str, Syntax] = {
    s.uid: s
    for s in (
        Syntax(IMPLICIT_VR_LE, "Implicit VR Little Endian", "application/octet-stream", False),
        Syntax(EXPLICIT_VR_LE, "Explicit VR Little Endian", "application/octet-stream", False),
        Syntax(DEFLATED, "Deflated Explicit VR Little Endian", "application/octet-stream", False),
        Syntax(
            EXPLICIT_VR_BE,
            "Explicit VR Big Endian (retired)",
            "application/octet-stream",
            False,
            writable=False,
        ),
        Syntax(
            JPEG_BASELINE,
            "JPEG Baseline (Process 1)",
            "image/jpeg",
            True,
            lossy=True,
            max_bits=8,
            signed_ok=False,
            method="ISO_10918_1",
        ),
        Syntax(
            JPEG_EXTENDED,
            "JPEG Extended (Process 2 & 4)",
            "image/jpeg",
            True,
            lossy=True,
            max_bits=12,
            signed_ok=False,
            method="ISO_10918_1",
        ),
        Syntax(JPEG_LOSSLESS, "JPEG Lossless (Process 14)", "image/jpeg", True, signed_ok=False),
        Syntax(
            JPEG_LOSSLESS_SV1,
            "JPEG Lossless SV1 (Process 14, Selection Value 1)",
            "image/jpeg",
            True,
            signed_ok=False,
        ),
        Syntax(JPEG_LS_LOSSLESS, "JPEG-LS Lossless", "image/jls", True),
        Syntax(
            JPEG_LS_NEAR,
            "JPEG-LS Near-Lossless",
            "image/jls",
            True,
            lossy=True,
            method="ISO_14495_1",
        ),
        Syntax(J2K_LOSSLESS, "JPEG 2000 (Lossless Only)", "image/jp2", True),
        Syntax(J2K, "JPEG 2000", "image/jp2", True, lossy=True, method="ISO_15444_1"),
        Syntax(RLE, "RLE Lossless", "image/dicom-rle", True),
    )
}

NATIVE = {IMPLICIT_VR_LE, EXPLICIT_VR_LE, DEFLATED, EXPLICIT_VR_BE}

#: The syntax a frame media type means when the request names no transfer-syntax (PS3.18
#: Table 8.7.3-5 defaults).
DEFAULT_FOR_MEDIA = {
    "application/octet-stream": EXPLICIT_VR_LE,
    "image/jpeg": JPEG_BASELINE,
    "image/jls": JPEG_LS_LOSSLESS,
    "image/jp2": J2K_LOSSLESS,
    "image/dicom-rle": RLE,
}


def is_encapsulated(uid: str) -> bool:
    """Whether pixel data in this syntax is encapsulated; unknown syntaxes are assumed to be."""
    known = SYNTAXES.get(uid)
    return known.encapsulated if known else uid not in NATIVE


def media_allows(media: str, uid: str) -> bool:
    """Whether frames of syntax ``uid`` may be sent under ``media`` (PS3.18 Table 8.7.3-5)."""
    if media == "application/octet-stream":
        return uid in NATIVE
    known = SYNTAXES.get(uid)
    return known is not None and known.frame_media == media
