"""Images in and out: what the codec accepts, how it is normalised, and padding to the stride.

Input rules (also in docs/format.md, "Input images"):

* EXIF orientation is applied, so the coded image is upright as viewers show it.
* Greyscale (1-bit, 8-bit, 16-bit) is replicated to RGB; palette and CMYK are converted to RGB.
* 16-bit samples are scaled to 8 bits with rounding (v * 255 / 65535).
* Transparency (RGBA, LA, palette with transparency) is flattened onto white, with a
  :class:`UserWarning`: the codec stores no alpha.
* Floating-point images are refused (:class:`InvalidImage`): their range is ambiguous.
* An embedded ICC profile is applied: the pixels are converted to sRGB with Pillow's ImageCms
  (perceptual intent), so a Display-P3 photo keeps its colours. A profile that names sRGB is
  taken as is; one that LittleCMS cannot use is ignored with a :class:`UserWarning`.
* Images of several frames (animated GIF, APNG or WebP, multi-page TIFF) are refused
  (:class:`InvalidImage`): .nfc holds one picture, and coding frame 0 alone would lose the
  rest without a word. MPO (a JPEG photo with previews or depth maps) codes its first, main image.
* Images whose canvas (padded to multiples of 64) is over
  :data:`~neuralcodec.container.spec.MAX_PIXELS` are refused before decoding.

The decoder always returns 8-bit RGB at the original width and height.
"""

from __future__ import annotations

import errno
import io
import os
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from neuralcodec.container.spec import MAX_PIXELS, canvas_pixels, over_cap
from neuralcodec.errors import InvalidImage, InvalidOption, LimitExceeded
from neuralcodec.files import read_regular

ImageInput = Image.Image | np.ndarray | str | os.PathLike | bytes | bytearray | memoryview


def _check_size(width: int, height: int) -> None:
    if width < 1 or height < 1:
        raise InvalidImage(f"image is empty ({width}x{height})")
    if canvas_pixels(width, height) > MAX_PIXELS:
        raise LimitExceeded(over_cap(width, height))


def _check_frames(img: Image.Image) -> None:
    frames = getattr(img, "n_frames", 1)
    if frames > 1 and img.format != "MPO":
        raise InvalidImage(
            f"{img.format or 'the'} image has {frames} frames; .nfc holds one: save the frame to "
            "code as its own image first"
        )


def read_file(path: str | os.PathLike) -> bytes:
    """The bytes of an input file (an image or an .nfc file) named by path: a regular file of
    at most :data:`~neuralcodec.files.MAX_INPUT_BYTES`, read without blocking on a FIFO.
    InvalidImage (missing, a folder, a FIFO, device or socket, unreadable) or LimitExceeded,
    naming the file."""
    name = os.fspath(path)
    try:
        return read_regular(name)
    except FileNotFoundError:
        raise InvalidImage(f"{name}: no such file") from None
    except IsADirectoryError:
        raise InvalidImage(f"{name}: is a directory") from None
    except LimitExceeded as exc:
        raise LimitExceeded(f"{name}: {exc}") from None
    except OSError as exc:
        if exc.errno == errno.EINVAL:
            raise InvalidImage(f"{name}: {exc.strerror}") from None
        raise InvalidImage(f"{name}: cannot read ({exc.strerror})") from None


def _open(source: str | os.PathLike | bytes) -> Image.Image:
    """Open and fully decode an image file or its bytes, checking the size before decoding.

    Errors name the file of a path; those of bytes name nothing (the caller knows their source).
    """
    name = "" if isinstance(source, bytes) else f"{os.fspath(source)}: "
    data = source if isinstance(source, bytes) else read_file(source)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            _check_size(*img.size)  # from the header, before any pixel is decoded
            img.load()
    except Image.DecompressionBombError as exc:  # Pillow's own cap, Image.MAX_IMAGE_PIXELS
        raise LimitExceeded(f"{name}{exc} (Pillow's cap, Image.MAX_IMAGE_PIXELS)") from None
    except UnidentifiedImageError:
        raise InvalidImage(f"{name}not an image file Pillow can read") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise InvalidImage(f"{name}cannot decode image ({exc})") from None
    return img


def _flatten_alpha(rgba: np.ndarray) -> np.ndarray:
    warnings.warn("image has transparency; flattening it onto white (.nfc stores no alpha)", stacklevel=4)
    alpha = rgba[..., 3:4].astype(np.float32) / 255.0
    rgb = rgba[..., :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
    return np.round(rgb).astype(np.uint8)


def _sixteen_to_eight(wide: np.ndarray) -> np.ndarray:
    """16-bit samples (any integer dtype, clipped to 0..65535) -> uint8, v * 255 / 65535 rounded."""
    return np.round(np.clip(wide, 0, 65535) * (255.0 / 65535.0)).astype(np.uint8)


def _to_srgb(img: Image.Image) -> Image.Image:
    """``img`` converted from its embedded ICC profile to sRGB (RGB, or RGBA with alpha)."""
    icc = img.info.get("icc_profile")
    if not icc:
        return img
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if "srgb" in ImageCms.getProfileDescription(profile).lower().replace(" ", ""):
            return img
        if img.mode in ("P", "PA", "1"):
            img = img.convert("RGBA" if img.mode == "PA" or "transparency" in img.info else "RGB")
        out_mode = "RGBA" if img.mode in ("RGBA", "LA", "PA") else "RGB"
        converted = ImageCms.profileToProfile(
            img, profile, _SRGB_PROFILE, ImageCms.Intent.PERCEPTUAL, outputMode=out_mode
        )
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError) as exc:
        message = f"cannot apply the image's ICC profile ({exc}); coding its values as sRGB"
        warnings.warn(message, stacklevel=4)
        return img
    assert converted is not None  # profileToProfile returns the image unless inPlace
    return converted


_SRGB_PROFILE = ImageCms.createProfile("sRGB")


def _from_pil(img: Image.Image) -> np.ndarray:
    # Pillow reports malformed EXIF or unusual modes with assorted exception types.
    _check_frames(img)
    try:
        img = _to_srgb(ImageOps.exif_transpose(img))
        mode = img.mode
        if mode == "F":
            raise InvalidImage("floating-point images are not supported")
        if mode in ("I", "I;16", "I;16B", "I;16L", "I;16N"):
            gray = _sixteen_to_eight(np.asarray(img, dtype=np.int64))
            return np.repeat(gray[..., None], 3, axis=2)
        has_alpha = mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in img.info)
        if has_alpha:
            return _flatten_alpha(np.asarray(img.convert("RGBA")))
        # An RGB image is read as it is: convert() would copy it first (100 MB at 24 Mpx).
        return np.asarray(img if mode == "RGB" else img.convert("RGB"))
    except (OSError, ValueError, SyntaxError, KeyError, TypeError) as exc:
        raise InvalidImage(f"cannot convert {img.mode} image to RGB ({exc})") from None


def _from_array(arr: np.ndarray) -> np.ndarray:
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
        raise InvalidImage(f"array image must be HxW, HxWx1, HxWx3 or HxWx4, not {arr.shape}")
    _check_size(arr.shape[1], arr.shape[0])
    if arr.dtype == np.uint16:
        arr = _sixteen_to_eight(arr)
    if arr.dtype != np.uint8:
        raise InvalidImage(f"array images must be uint8 or uint16, not {arr.dtype}")
    if arr.shape[2] == 1:
        return np.repeat(arr, 3, axis=2)
    if arr.shape[2] == 4:
        return _flatten_alpha(arr)
    return np.ascontiguousarray(arr)


def load_rgb(image: ImageInput) -> np.ndarray:
    """Any accepted input -> uint8 [H, W, 3], following the rules in the module docstring."""
    if isinstance(image, np.ndarray):
        return _from_array(image)
    if isinstance(image, Image.Image):
        _check_size(*image.size)
        return _from_pil(image)
    if isinstance(image, (bytearray, memoryview)):
        image = bytes(image)
    if isinstance(image, (str, os.PathLike, bytes)):
        return _from_pil(_open(image))
    raise TypeError(f"expected a PIL image, a numpy array, a path or bytes, not {type(image).__name__}")


def to_padded_tensor(rgb: np.ndarray, stride: int) -> torch.Tensor:
    """uint8 [H, W, 3] -> float [1, 3, H', W'] in [0, 1], H' and W' rounded up to ``stride``.

    Padding repeats the last row / column: flat borders cost almost no bits.
    """
    x = torch.tensor(rgb).permute(2, 0, 1)[None].float().div_(255.0)
    h, w = rgb.shape[:2]
    pad_h, pad_w = -h % stride, -w % stride
    if pad_h or pad_w:
        x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
    return x


def to_image(x_hat: torch.Tensor, width: int, height: int) -> Image.Image:
    """float [1, 3, H', W'] in [0, 1] -> RGB PIL image cropped to width x height."""
    crop = x_hat[0, :, :height, :width]
    arr = crop.mul(255.0).round_().clamp_(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
    return Image.fromarray(np.ascontiguousarray(arr), mode="RGB")


def encode_image_file(img: Image.Image, path: Path | str) -> bytes:
    """Bytes of ``img`` in the format ``path``'s extension names (PNG when it names none)."""
    fmt = Image.registered_extensions().get(Path(path).suffix.lower(), "PNG")
    buf = io.BytesIO()
    try:
        img.save(buf, format=fmt)
    except (KeyError, OSError, ValueError) as exc:
        raise InvalidImage(f"cannot write {fmt} image: {exc}") from None
    return buf.getvalue()


#: Suffixes of the images of a data folder (:func:`image_files`).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".tif", ".tiff", ".webp")
#: The lossless ones: what a benchmark may use as a source.
LOSSLESS_SUFFIXES = (".png", ".bmp", ".ppm", ".tif", ".tiff")


def image_files(folder: Path | str, suffixes: tuple[str, ...] = IMAGE_SUFFIXES) -> list[Path]:
    """The images directly in ``folder`` (by suffix, case-insensitive), sorted by name.

    InvalidOption (a ValueError) if ``folder`` is not a folder or holds none.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InvalidOption(f"{folder} is not a folder")
    paths = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in suffixes)
    if not paths:
        raise InvalidOption(f"no {'/'.join(suffixes)} images in {folder}")
    return paths
