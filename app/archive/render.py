"""Rendered images: a frame through the grayscale/colour pipeline to JPEG, PNG or GIF.

The pipeline follows PS3.18 §8.3.5.1 and PS3.3 C.11: Modality LUT (Rescale Slope/Intercept or
Modality LUT Sequence), then the VOI transform (a requested ``window``, else the object's VOI
LUT Sequence or first Window Center/Width, else the frame's min-max), then MONOCHROME1 and
Presentation LUT Shape INVERSE inversion, giving 8-bit output. Colour images are converted from
YBR to RGB (or through their palette) and scaled to 8 bits. ``viewport`` crops, flips and scales
(PS3.18 §8.3.5.1.3); ``quality`` sets JPEG quality.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi

from app.archive.blobs import BlobStore
from app.archive.frames import FrameSource, check_frames, decode_frame
from app.archive.retrieve import StoredInstance
from app.errors import InvalidInput

JPEG = "image/jpeg"
PNG = "image/png"
GIF = "image/gif"
MEDIA = (JPEG, PNG, GIF)
WINDOW_FUNCTIONS = ("linear", "linear-exact", "sigmoid")
THUMBNAIL_SIZE = 128


@dataclass(frozen=True)
class Window:
    center: float
    width: float
    function: str = "linear"


@dataclass(frozen=True)
class Viewport:
    """``vw,vh[,sx,sy,sw,sh]``: output box and an optional source region (negative = flip)."""

    width: int
    height: int
    sx: int = 0
    sy: int = 0
    sw: int | None = None
    sh: int | None = None


@dataclass(frozen=True)
class RenderOptions:
    media: str = JPEG
    quality: int = 90
    window: Window | None = None
    viewport: Viewport | None = None


def parse_window(text: str | None) -> Window | None:
    """``center,width[,function]`` (PS3.18 §8.3.5.1.4)."""
    if text is None:
        return None
    parts = [p.strip() for p in text.split(",")]
    try:
        if len(parts) not in (2, 3):
            raise ValueError
        center, width = float(parts[0]), float(parts[1])
    except ValueError as exc:
        raise InvalidInput("window must be center,width[,function]", "window") from exc
    function = parts[2].lower() if len(parts) == 3 else "linear"
    if function not in WINDOW_FUNCTIONS or width <= 0 or (function == "linear" and width < 1):
        raise InvalidInput("window width must be positive; function linear|linear-exact|sigmoid")
    return Window(center, width, function)


def parse_viewport(text: str | None) -> Viewport | None:
    if text is None:
        return None
    try:
        values = [int(float(p)) for p in text.split(",")] if text.strip() else []
    except ValueError as exc:
        raise InvalidInput("viewport must be vw,vh[,sx,sy,sw,sh]", "viewport") from exc
    if len(values) not in (2, 6) or values[0] < 1 or values[1] < 1:
        raise InvalidInput("viewport must be vw,vh[,sx,sy,sw,sh] with vw, vh > 0", "viewport")
    if values[0] > 8192 or values[1] > 8192:
        raise InvalidInput("viewport is larger than 8192 pixels", "viewport")
    if len(values) == 2:
        return Viewport(values[0], values[1])
    return Viewport(*values)


def parse_quality(text: str | None) -> int:
    if text is None:
        return 90
    try:
        quality = int(text)
    except ValueError:
        quality = 0
    if not 1 <= quality <= 100:
        raise InvalidInput("quality must be an integer from 1 to 100", "quality")
    return quality


def window_to_8bit(values: np.ndarray, window: Window) -> np.ndarray:
    """The VOI LUT function of PS3.3 C.11.2.1.2 mapped onto 0..255 output."""
    c, w = window.center, window.width
    x = values.astype(np.float64)
    if window.function == "sigmoid":
        y = 255.0 / (1.0 + np.exp(-4.0 * (x - c) / w))
    elif window.function == "linear-exact":
        y = ((x - c) / w + 0.5) * 255.0
    else:
        y = ((x - (c - 0.5)) / (w - 1) + 0.5) * 255.0
    return np.clip(np.rint(y), 0, 255).astype(np.uint8)


def _first(value: Any) -> float:
    if isinstance(value, Sequence) and not isinstance(value, str):
        return float(value[0])
    return float(value)


def _grayscale(arr: np.ndarray, ds: Dataset, options: RenderOptions) -> np.ndarray:
    """Stored values to 8-bit display values; integer pixels go through a lookup table.

    Every step is a function of the stored value alone, so for integer pixels the pipeline is
    evaluated once per distinct value in the frame's range and applied by indexing, which is
    several times faster than evaluating it per pixel on a 512x512 slice.
    """
    if arr.dtype.kind in "iu" and arr.size:
        lo, hi = int(arr.min()), int(arr.max())
        if hi - lo < (1 << 20):
            domain = np.arange(lo, hi + 1, dtype=np.int64)
            lut = _grayscale_values(domain, ds, options)
            out: np.ndarray = lut[arr.astype(np.int64) - lo]
            return out
    return _grayscale_values(arr, ds, options)


def _grayscale_values(arr: np.ndarray, ds: Dataset, options: RenderOptions) -> np.ndarray:
    values = apply_modality_lut(arr, ds)
    if options.window is not None:
        out = window_to_8bit(values, options.window)
    elif "VOILUTSequence" in ds:
        lut = apply_voi(values, ds)
        bits = int(ds.VOILUTSequence[0].LUTDescriptor[2])
        out = np.clip(lut.astype(np.float64) * 255.0 / ((1 << bits) - 1), 0, 255)
        out = np.rint(out).astype(np.uint8)
    elif "WindowCenter" in ds and "WindowWidth" in ds:
        function = str(ds.get("VOILUTFunction", "LINEAR")).lower().replace("_", "-")
        function = function if function in WINDOW_FUNCTIONS else "linear"
        window = Window(_first(ds.WindowCenter), max(_first(ds.WindowWidth), 1.0), function)
        out = window_to_8bit(values, window)
    else:
        lo, hi = float(values.min()), float(values.max())
        out = window_to_8bit(values, Window((lo + hi) / 2, max(hi - lo, 1.0), "linear-exact"))
    inverse = str(ds.get("PresentationLUTShape", "")) == "INVERSE"
    if (str(ds.PhotometricInterpretation) == "MONOCHROME1") != inverse:
        out = 255 - out
    return out


def _colour(arr: np.ndarray, ds: Dataset) -> np.ndarray:
    if str(ds.PhotometricInterpretation) == "PALETTE COLOR":
        rgb = apply_color_lut(arr, ds)
        bits = 16 if rgb.max() > 255 else 8
    else:
        rgb = arr
        bits = int(ds.get("BitsStored", 8))
    if bits > 8:
        rgb = np.rint(rgb.astype(np.float64) * 255.0 / ((1 << bits) - 1))
    out: np.ndarray = np.clip(rgb, 0, 255).astype(np.uint8)
    return out


def to_image(arr: np.ndarray, ds: Dataset, options: RenderOptions) -> Image.Image:
    """One decoded frame (colour already RGB) as an 8-bit PIL image, viewport applied."""
    photometric = str(ds.PhotometricInterpretation)
    if photometric.startswith("MONOCHROME"):
        image = Image.fromarray(_grayscale(arr, ds, options), mode="L")
    else:
        image = Image.fromarray(_colour(arr, ds), mode="RGB")
    return apply_viewport(image, options.viewport)


def apply_viewport(image: Image.Image, viewport: Viewport | None) -> Image.Image:
    if viewport is None:
        return image
    if viewport.sw is not None and viewport.sh is not None:
        sw, sh = viewport.sw or image.width, viewport.sh or image.height
        x0, x1 = sorted((viewport.sx, viewport.sx + sw))
        y0, y1 = sorted((viewport.sy, viewport.sy + sh))
        image = image.crop((x0, y0, x1, y1))
        if sw < 0:
            image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        if sh < 0:
            image = image.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    scale = min(viewport.width / image.width, viewport.height / image.height)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image if size == image.size else image.resize(size, Image.Resampling.BILINEAR)


def encode(images: list[Image.Image], media: str, quality: int) -> bytes:
    """One image as JPEG/PNG, or several frames as an animated GIF."""
    buf = io.BytesIO()
    if media == GIF:
        frames = [im.convert("P") if im.mode == "RGB" else im for im in images]
        frames[0].save(
            buf, "GIF", save_all=len(frames) > 1, append_images=frames[1:], duration=100, loop=0
        )
    elif media == PNG:
        images[0].save(buf, "PNG", compress_level=1)
    else:
        images[0].save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def render_frames(
    store: BlobStore, src: FrameSource, numbers: list[int], options: RenderOptions
) -> list[Image.Image]:
    """Decode and render the given frames (1-based) of one instance."""
    check_frames(src, numbers)
    return [to_image(decode_frame(store, src, n), src.header, options) for n in numbers]


def encapsulated_document(store: BlobStore, inst: StoredInstance) -> tuple[bytes, str] | None:
    """An Encapsulated Document's bytes and MIME type (PS3.3 C.24.2), or None."""
    if inst.pixel_data_vr is not None:
        return None
    with store.open(inst.blob_key) as fh:
        ds = dcmread(fh, specific_tags=["EncapsulatedDocument", "MIMETypeOfEncapsulatedDocument"])
    if "EncapsulatedDocument" not in ds:
        return None
    mime = str(ds.get("MIMETypeOfEncapsulatedDocument", "") or "application/octet-stream")
    data = bytes(ds.EncapsulatedDocument)
    if mime == "application/pdf" and data.endswith(b"\0"):
        data = data.rstrip(b"\0")
    return data, mime
