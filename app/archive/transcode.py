"""Transcoding between transfer syntaxes: whole instances and single frames.

Decoding goes through pydicom's pixel backends (pylibjpeg with its libjpeg, openjpeg and rle
plugins; pyjpegls); encoding uses pydicom's encoders for RLE, JPEG-LS and JPEG 2000 and
imagecodecs (libjpeg-turbo) for the JPEG processes pydicom cannot write. The SOP Instance UID
is kept: a retrieve in another syntax is the same object (PS3.18 §8.7.3.5.2); lossy output is
marked with Lossy Image Compression (PS3.3 C.7.6.1.1.5).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, BinaryIO

import imagecodecs
import numpy as np
from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate, get_frame
from pydicom.pixels import compress, decompress
from pydicom.uid import UID
from sqlalchemy import select
from sqlmodel import Session

from app.archive import syntaxes as ts
from app.archive.models import Instance
from app.errors import NotAcceptable

#: Pixel attributes a single frame needs to be decoded on its own (PS3.3 C.7.6.3).
PIXEL_KEYWORDS = (
    "SamplesPerPixel",
    "PhotometricInterpretation",
    "PlanarConfiguration",
    "Rows",
    "Columns",
    "BitsAllocated",
    "BitsStored",
    "HighBit",
    "PixelRepresentation",
)
_IMAGECODECS_JPEG = {ts.JPEG_BASELINE, ts.JPEG_EXTENDED, ts.JPEG_LOSSLESS, ts.JPEG_LOSSLESS_SV1}
#: Compression targets for lossy encoders: JPEG quality, JPEG-LS error bound, J2K ratio.
JPEG_QUALITY = 90
JLS_NEAR_ERROR = 2
J2K_RATIO = 10.0


@dataclass(frozen=True)
class PixelTraits:
    """What decides whether an encoder can hold an instance's pixels."""

    has_pixels: bool
    bits_stored: int = 16
    signed: bool = False
    samples: int = 1

    @classmethod
    def from_metadata(cls, metadata_json: bytes) -> PixelTraits:
        """Read from the instance's cached DICOM JSON (no file access)."""
        obj: dict[str, Any] = json.loads(metadata_json)

        def first(tag: str, default: int) -> int:
            values = obj.get(tag, {}).get("Value") or [default]
            return int(values[0])

        has = any(t in obj for t in ("7FE00010", "7FE00008", "7FE00009"))
        return cls(has, first("00280101", 16), first("00280103", 0) == 1, first("00280002", 1))


def traits_of_header(header: Dataset) -> PixelTraits:
    """Traits from an image header already read (frames, rendering)."""
    return PixelTraits(
        True,
        int(header.get("BitsStored", 16) or 16),
        int(header.get("PixelRepresentation", 0) or 0) == 1,
        int(header.get("SamplesPerPixel", 1) or 1),
    )


def traits_for(s: Session, sop_instance_uids: list[str]) -> dict[str, PixelTraits]:
    """Pixel traits of stored instances, from their cached metadata."""
    rows = s.execute(
        select(Instance.SOPInstanceUID, Instance.metadata_json).where(
            Instance.SOPInstanceUID.in_(sop_instance_uids)
        )
    )
    return {uid: PixelTraits.from_metadata(meta) for uid, meta in rows}


def can_write(target: str, traits: PixelTraits) -> bool:
    """Whether an instance with these pixels can be produced in ``target``.

    Instances without pixel data (SR, PDF) only ever go out in a native syntax.
    """
    syntax = ts.SYNTAXES.get(target)
    if syntax is None or not syntax.writable:
        return False
    if not syntax.encapsulated:
        return True
    if not traits.has_pixels:
        return False
    if traits.bits_stored > syntax.max_bits or (traits.signed and not syntax.signed_ok):
        return False
    return not (target == ts.JPEG_EXTENDED and traits.samples != 1)


def can_read(stored: str) -> bool:
    return stored in ts.SYNTAXES


def transcode_instance(fh: BinaryIO, target: str) -> bytes:
    """The whole PS3.10 file re-encoded in ``target``; the instance is held in memory."""
    ds = dcmread(fh)
    source = str(ds.file_meta.TransferSyntaxUID)
    if "PixelData" in ds and source != target:
        if ts.is_encapsulated(source) or source == ts.EXPLICIT_VR_BE:
            decompress(ds, as_rgb=True, generate_instance_uid=False)
        if ts.is_encapsulated(target):
            encode_dataset(ds, target)
    ds.file_meta.TransferSyntaxUID = UID(target)
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def encode_dataset(ds: Dataset, target: str) -> None:
    """Compress the native pixel data of ``ds`` into ``target`` (in place)."""
    meta = ds.get("file_meta") or FileMetaDataset()
    if "TransferSyntaxUID" not in meta:
        meta.TransferSyntaxUID = UID(ts.EXPLICIT_VR_LE)
    ds.file_meta = meta
    try:
        if target in _IMAGECODECS_JPEG:
            _encode_jpeg(ds, target)
        elif target == ts.JPEG_LS_NEAR:
            compress(ds, target, generate_instance_uid=False, jls_error=JLS_NEAR_ERROR)
        elif target == ts.J2K:
            compress(ds, target, generate_instance_uid=False, j2k_cr=[J2K_RATIO])
        else:
            compress(ds, target, generate_instance_uid=False)
    except (ValueError, RuntimeError, NotImplementedError) as exc:
        raise NotAcceptable(f"cannot encode these pixels as {target}: {exc}") from exc
    syntax = ts.SYNTAXES[target]
    if syntax.lossy:
        ds.LossyImageCompression = "01"
        ds.LossyImageCompressionMethod = syntax.method


def _encode_jpeg(ds: Dataset, target: str) -> None:
    """JPEG processes 1, 2/4 and 14 through libjpeg-turbo (imagecodecs), frame by frame."""
    arr = ds.pixel_array
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    samples = int(ds.SamplesPerPixel)
    if frames == 1:
        arr = arr[np.newaxis]
    bits = int(ds.BitsStored)
    encoded = [_jpeg_frame(f, target, samples, bits) for f in arr]
    if samples == 3:  # decoded as RGB; baseline stores YCbCr 4:2:2 (PS3.5 8.2.1)
        ds.PhotometricInterpretation = "YBR_FULL_422" if target == ts.JPEG_BASELINE else "RGB"
    ds.PixelData = encapsulate(encoded)
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    if samples == 3:
        ds.PlanarConfiguration = 0
    ds.file_meta.TransferSyntaxUID = UID(target)


def _jpeg_frame(frame: np.ndarray, target: str, samples: int, bits: int) -> bytes:
    if target == ts.JPEG_BASELINE:
        kw: dict[str, Any] = {"level": JPEG_QUALITY}
        if samples == 3:
            kw.update(colorspace="RGB", outcolorspace="YCbCr", subsampling="422")
        return bytes(imagecodecs.jpeg8_encode(frame.astype(np.uint8), **kw))
    if target == ts.JPEG_EXTENDED:
        return bytes(
            imagecodecs.jpeg8_encode(frame.astype(np.uint16), level=JPEG_QUALITY, bitspersample=12)
        )
    kw = {"lossless": True, "predictor": 1, "bitspersample": max(bits, 2)}
    if samples == 3:
        kw.update(colorspace="RGB", outcolorspace="RGB")
    data = frame.astype(np.uint8 if bits <= 8 else np.uint16)
    return bytes(imagecodecs.jpeg8_encode(data, **kw))


def frame_dataset(header: Dataset, frame: bytes, source: str) -> Dataset:
    """A one-frame data set holding ``frame`` so pydicom's pixel pipeline can decode it."""
    ds = Dataset()
    for keyword in PIXEL_KEYWORDS:
        if keyword in header:
            setattr(ds, keyword, header[keyword].value)
    ds.NumberOfFrames = 1
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = UID(source)
    if ts.is_encapsulated(source):
        ds.PixelData = encapsulate([frame])
        ds["PixelData"].VR = "OB"
        ds["PixelData"].is_undefined_length = True
    else:
        ds.PixelData = frame
        ds["PixelData"].VR = "OB" if int(header.get("BitsAllocated", 8)) <= 8 else "OW"
    return ds


def transcode_frame(header: Dataset, frame: bytes, source: str, target: str) -> bytes:
    """One frame re-encoded: native frames are little endian, PS3.18 §8.7.3.3.2."""
    ds = frame_dataset(header, frame, source)
    if ts.is_encapsulated(source):
        decompress(ds, as_rgb=True, generate_instance_uid=False)
    if not ts.is_encapsulated(target):
        return bytes(ds.PixelData)
    encode_dataset(ds, target)
    return get_frame(ds.PixelData, 0, number_of_frames=1)


def transcode_frames(
    header: Dataset, frames: Iterable[bytes], source: str, target: str
) -> Iterable[bytes]:
    """Frames as stored (``source``; native ones already little endian) in ``target``."""
    native_both = not ts.is_encapsulated(source) and not ts.is_encapsulated(target)
    for frame in frames:
        yield (
            frame
            if source == target or native_both
            else transcode_frame(header, frame, source, target)
        )
