"""Frames of stored instances, read without decoding the whole object (PS3.18 §10.4.1.1.4).

Native pixel data is read by offset: the Pixel Data position recorded at ingest plus
``(n - 1) * frame size``. Encapsulated pixel data is walked with pydicom's encapsulation helpers
(Basic or Extended Offset Table, else fragment by fragment), straight from the open file, so
memory holds one frame at a time. Native frames are returned little endian (PS3.18 §8.7.3.3.2).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.encaps import get_frame
from pydicom.pixels import pack_bits, pixel_array

from app.archive import syntaxes as ts
from app.archive.blobs import BlobStore
from app.archive.retrieve import StoredInstance
from app.errors import InvalidInput, NotFound

_FRAME_LIST = re.compile(r"^\s*\d+\s*(,\s*\d+\s*)*$")


@dataclass(frozen=True)
class FrameSource:
    """One instance's pixel layout, from a header-only read."""

    inst: StoredInstance
    header: Dataset
    number_of_frames: int

    @property
    def stored_syntax(self) -> str:
        return self.inst.transfer_syntax_uid

    @property
    def frame_syntax(self) -> str:
        """The syntax frames come out in: native ones are normalised to little endian."""
        stored = self.stored_syntax
        return stored if ts.is_encapsulated(stored) else ts.EXPLICIT_VR_LE

    @property
    def native_frame_length(self) -> int:
        h = self.header
        bits = int(h.get("BitsAllocated", 16))
        pixels = int(h.Rows) * int(h.Columns) * int(h.get("SamplesPerPixel", 1))
        return pixels * bits // 8


def open_source(store: BlobStore, inst: StoredInstance) -> FrameSource:
    """Read the header (up to Pixel Data) of an image instance; ``NotFound`` without pixels."""
    if inst.pixel_data_vr is None:
        raise NotFound("the instance has no pixel data")
    with store.open(inst.blob_key) as fh:
        header = dcmread(fh, stop_before_pixels=True)
    if "Rows" not in header or "Columns" not in header:
        raise NotFound("the instance has no image pixel data")
    return FrameSource(inst, header, int(header.get("NumberOfFrames", 1) or 1))


def parse_frame_list(text: str) -> list[int]:
    """``1,3,5`` to frame numbers (1-based, order kept); malformed lists are ``InvalidInput``."""
    if not _FRAME_LIST.match(text):
        raise InvalidInput("frame list must be comma-separated positive integers", "frames")
    numbers = [int(p) for p in text.split(",")]
    if any(n < 1 for n in numbers):
        raise InvalidInput("frame numbers start at 1", "frames")
    return numbers


def check_frames(src: FrameSource, numbers: list[int]) -> None:
    beyond = [n for n in numbers if n > src.number_of_frames]
    if beyond:
        raise NotFound(
            f"frame {beyond[0]} does not exist: the instance has {src.number_of_frames} frame(s)"
        )


def iter_frames(store: BlobStore, src: FrameSource, numbers: list[int]) -> Iterator[bytes]:
    """The requested frames in their stored encoding (native ones little endian)."""
    check_frames(src, numbers)
    inst = src.inst
    bits = int(src.header.get("BitsAllocated", 16))
    if ts.is_encapsulated(src.stored_syntax):
        yield from _encapsulated(store, src, numbers)
    elif inst.pixel_data_offset is None or bits == 1 or (inst.pixel_data_length or -1) < 0:
        yield from _decoded_native(store, src, numbers)
    else:
        yield from _native_by_offset(store, src, numbers)


def _native_by_offset(store: BlobStore, src: FrameSource, numbers: list[int]) -> Iterator[bytes]:
    size = src.native_frame_length
    offset = src.inst.pixel_data_offset or 0
    swap = src.stored_syntax == ts.EXPLICIT_VR_BE and int(src.header.BitsAllocated) > 8
    with store.open(src.inst.blob_key) as fh:
        for n in numbers:
            fh.seek(offset + (n - 1) * size)
            data = fh.read(size)
            if len(data) != size:
                raise NotFound(f"frame {n} is truncated in the stored object")
            yield _swap(data, int(src.header.BitsAllocated)) if swap else data


def _swap(data: bytes, bits: int) -> bytes:
    dtype = np.dtype(f">u{bits // 8}")
    return np.frombuffer(data, dtype).astype(dtype.newbyteorder("<")).tobytes()


def _decoded_native(store: BlobStore, src: FrameSource, numbers: list[int]) -> Iterator[bytes]:
    """Deflated data sets and 1-bit pixels have no byte offsets: decode the frame instead."""
    bits = int(src.header.get("BitsAllocated", 16))
    deflated = src.stored_syntax == ts.DEFLATED
    for n in numbers:
        with store.open(src.inst.blob_key) as fh:
            if deflated:  # the whole data set is one deflate stream: inflate it all
                arr = dcmread(fh).pixel_array
                arr = arr[n - 1] if src.number_of_frames > 1 else arr
            else:
                arr = pixel_array(fh, index=n - 1, raw=True)
        if bits == 1:
            yield pack_bits(arr)
        else:
            yield np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<")).tobytes()


def _encapsulated(store: BlobStore, src: FrameSource, numbers: list[int]) -> Iterator[bytes]:
    header = src.header
    eot = None
    if "ExtendedOffsetTable" in header and "ExtendedOffsetTableLengths" in header:
        eot = (bytes(header.ExtendedOffsetTable), bytes(header.ExtendedOffsetTableLengths))
    with store.open(src.inst.blob_key) as fh:
        for n in numbers:
            fh.seek(src.inst.pixel_data_offset or 0)
            try:
                yield get_frame(
                    fh, n - 1, number_of_frames=src.number_of_frames, extended_offsets=eot
                )
            except ValueError as exc:
                raise NotFound(f"frame {n} cannot be located in the encapsulated data") from exc


def decode_frame(store: BlobStore, src: FrameSource, number: int) -> np.ndarray:
    """One frame as a pixel array (colour converted to RGB) for rendering."""
    from app.archive.transcode import frame_dataset

    raw = next(iter_frames(store, src, [number]))
    return frame_dataset(src.header, raw, src.frame_syntax).pixel_array
