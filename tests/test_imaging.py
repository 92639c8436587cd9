"""Input rules of neuralcodec.imaging: modes, orientation, caps and broken files."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageCms

from neuralcodec.errors import InvalidImage, LimitExceeded
from neuralcodec.imaging import encode_image_file, load_rgb, to_image, to_padded_tensor


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def test_rgb_passes_through_unchanged(face):
    assert np.array_equal(load_rgb(Image.fromarray(face)), face)
    assert np.array_equal(load_rgb(png_bytes(Image.fromarray(face))), face)


def test_path_input(face, tmp_path):
    p = tmp_path / "f.png"
    Image.fromarray(face).save(p)
    assert np.array_equal(load_rgb(p), face)
    assert np.array_equal(load_rgb(str(p)), face)


def test_greyscale_is_replicated():
    grey = np.arange(64, dtype=np.uint8).reshape(8, 8)
    out = load_rgb(Image.fromarray(grey, mode="L"))
    assert out.shape == (8, 8, 3) and all(np.array_equal(out[..., c], grey) for c in range(3))
    assert np.array_equal(load_rgb(grey), out)


def test_sixteen_bit_is_scaled_with_rounding():
    wide = np.array([[0, 257, 65535, 32896]], dtype=np.uint16)
    expected = np.array([0, 1, 255, 128], dtype=np.uint8)
    assert np.array_equal(load_rgb(Image.fromarray(wide))[0, :, 0], expected)
    assert np.array_equal(load_rgb(wide)[0, :, 1], expected)


def test_palette_is_converted(face):
    pal = Image.fromarray(face).convert("P")
    assert np.array_equal(load_rgb(pal), np.asarray(pal.convert("RGB")))


def test_alpha_is_flattened_on_white_with_a_warning():
    rgba = np.zeros((2, 2, 4), dtype=np.uint8)
    rgba[0, 0] = (0, 0, 0, 0)  # transparent -> white
    rgba[0, 1] = (10, 20, 30, 255)  # opaque -> itself
    rgba[1, 0] = (0, 0, 0, 128)  # half -> mid grey
    with pytest.warns(UserWarning, match="transparency"):
        out = load_rgb(Image.fromarray(rgba, mode="RGBA"))
    assert tuple(out[0, 0]) == (255, 255, 255)
    assert tuple(out[0, 1]) == (10, 20, 30)
    assert tuple(out[1, 0]) == (127, 127, 127)


def test_exif_orientation_is_applied():
    img = Image.new("RGB", (4, 2), (0, 0, 0))
    img.putpixel((0, 0), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    buf = io.BytesIO()
    img.save(buf, format="PNG", exif=exif)
    out = load_rgb(buf.getvalue())
    assert out.shape == (4, 2, 3)
    assert tuple(out[0, 1]) == (255, 0, 0)


def test_cmyk_is_converted():
    cmyk = Image.new("CMYK", (3, 3), (0, 255, 255, 0))
    assert tuple(load_rgb(cmyk)[1, 1]) == (255, 0, 0)


def test_float_images_are_refused():
    with pytest.raises(InvalidImage, match="floating-point"):
        load_rgb(Image.new("F", (2, 2)))
    with pytest.raises(InvalidImage):
        load_rgb(np.zeros((2, 2, 3), dtype=np.float32))


@pytest.mark.parametrize("shape", [(0, 0, 3), (0, 5, 3), (5, 0)])
def test_empty_images_are_refused(shape):
    with pytest.raises(InvalidImage, match="empty"):
        load_rgb(np.zeros(shape, dtype=np.uint8))


@pytest.mark.parametrize("shape", [(4, 4, 2), (4, 4, 5), (4,), (2, 2, 2, 3)])
def test_bad_array_shapes_are_refused(shape):
    with pytest.raises(InvalidImage):
        load_rgb(np.zeros(shape, dtype=np.uint8))


def test_missing_file(tmp_path):
    with pytest.raises(InvalidImage, match="no such file"):
        load_rgb(tmp_path / "nope.png")


def test_not_an_image():
    with pytest.raises(InvalidImage, match="not an image"):
        load_rgb(b"hello, world" * 10)


def test_truncated_png_is_refused(face):
    data = png_bytes(Image.fromarray(face))
    for n in (len(data) // 4, len(data) // 2, len(data) * 3 // 4):
        with pytest.raises(InvalidImage):
            load_rgb(data[:n])


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 16))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("side", [6000, 20000, 60000])
def test_decompression_bomb_is_refused_before_decoding(side):
    with pytest.raises(LimitExceeded):
        load_rgb(_png_header_only(side, side))


@pytest.mark.parametrize("shape", [(2_097_152, 1, 3), (1, 2_097_152, 3)])
def test_the_pixel_cap_counts_the_padded_canvas(shape):
    """2 Mpx in a line would be coded on a 64 x 2,097,152 canvas, 4x the cap: refused at once."""
    with pytest.raises(LimitExceeded, match="canvas"):
        load_rgb(np.zeros(shape, np.uint8))


def test_wrong_input_type():
    with pytest.raises(TypeError):
        load_rgb(12)


@pytest.mark.parametrize("h,w", [(1, 1), (97, 131), (128, 128), (64, 200)])
def test_pad_then_crop_is_identity(h, w):
    rgb = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
    x = to_padded_tensor(rgb, 64)
    assert x.shape[2] % 64 == 0 and x.shape[3] % 64 == 0
    assert x.shape[2] - h < 64 and x.shape[3] - w < 64
    assert np.array_equal(np.asarray(to_image(x, w, h)), rgb)


def test_output_format_follows_the_extension(face):
    img = Image.fromarray(face)
    assert encode_image_file(img, "x.png")[:4] == b"\x89PNG"
    assert encode_image_file(img, "x.jpg")[:2] == b"\xff\xd8"
    assert encode_image_file(img, "x.unknownext")[:4] == b"\x89PNG"


@pytest.mark.parametrize("mode", ["LAB", "HSV", "YCbCr", "I;16B", "1", "RGBa", "RGBX"])
def test_other_pillow_modes_convert_to_rgb(mode):
    assert load_rgb(Image.new(mode, (2, 2))).shape == (2, 2, 3)


def test_mode_pillow_cannot_convert_is_an_invalid_image():
    with pytest.raises(InvalidImage, match="La"):
        load_rgb(Image.new("La", (2, 2)))


# --- colour profiles ----------------------------------------------------------

#: Display P3's primaries adapted to D50 (as in Apple's profile), the white point D50, and
#: sRGB's primaries the same way: P3-like profile = these with a plain 2.2 gamma.
P3_D50 = np.array([[0.5151, 0.2920, 0.1571], [0.2412, 0.6922, 0.0666], [-0.0011, 0.0419, 0.7841]])
SRGB_D50 = np.array([[0.4361, 0.3851, 0.1431], [0.2225, 0.7169, 0.0606], [0.0139, 0.0971, 0.7141]])
GAMMA = 2.2


def _s15f16(v: float) -> bytes:
    return struct.pack(">i", round(v * 65536))


def _icc_rgb_profile(matrix: np.ndarray, gamma: float, name: str) -> bytes:
    """A minimal ICC v2 RGB display profile: colorants (columns of ``matrix``), one gamma."""
    xyz = lambda v: b"XYZ \0\0\0\0" + b"".join(_s15f16(c) for c in v)  # noqa: E731
    text = name.encode() + b"\0"
    tags = {
        b"desc": b"desc\0\0\0\0" + struct.pack(">I", len(text)) + text + bytes(4 + 4 + 2 + 1 + 67),
        b"wtpt": xyz((0.9642, 1.0, 0.8249)),
        b"rXYZ": xyz(matrix[:, 0]),
        b"gXYZ": xyz(matrix[:, 1]),
        b"bXYZ": xyz(matrix[:, 2]),
        b"rTRC": b"curv\0\0\0\0" + struct.pack(">IH", 1, round(gamma * 256)) + b"\0\0",
        b"cprt": b"text\0\0\0\0" + b"none\0",
    }
    tags[b"gTRC"] = tags[b"bTRC"] = tags[b"rTRC"]
    offset = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for sig, body in tags.items():
        table += sig + struct.pack(">II", offset + len(data), len(body))
        data += body + bytes(-len(body) % 4)
    size = offset + len(data)
    header = struct.pack(">I4sI4s4s4s", size, b"\0\0\0\0", 0x02100000, b"mntr", b"RGB ", b"XYZ ")
    header += bytes(12) + b"acsp" + bytes(4 + 4 + 4 + 4 + 8 + 4)
    header += _s15f16(0.9642) + _s15f16(1.0) + _s15f16(0.8249)
    header += bytes(128 - len(header))
    return header + struct.pack(">I", len(tags)) + table + data


def _p3_to_srgb(rgb: np.ndarray) -> np.ndarray:
    """The conversion worked by hand: decode the gamma, P3 -> XYZ (D50) -> linear sRGB, encode."""
    linear = (rgb / 255.0) ** GAMMA
    srgb = np.clip(linear @ (np.linalg.inv(SRGB_D50) @ P3_D50).T, 0, 1)
    encoded = np.where(srgb <= 0.0031308, 12.92 * srgb, 1.055 * srgb ** (1 / 2.4) - 0.055)
    return np.round(encoded * 255)


@pytest.fixture(scope="module")
def p3_image() -> Image.Image:
    """Muted colours (inside both gamuts) tagged with the P3-like profile."""
    colours = np.array([[150, 120, 100], [90, 140, 110], [120, 110, 170], [200, 90, 80], [128, 128, 128]])
    arr = np.repeat(colours[:, None, :], 8, axis=1).astype(np.uint8)
    img = Image.fromarray(arr)
    img.info["icc_profile"] = _icc_rgb_profile(P3_D50, GAMMA, "P3-like test profile")
    return img


def test_an_icc_profile_is_converted_to_srgb(p3_image):
    untagged = np.asarray(p3_image)
    got = load_rgb(p3_image).astype(np.int64)
    expected = _p3_to_srgb(untagged.astype(np.float64))
    assert np.abs(got - expected).max() <= 2
    assert np.abs(got - untagged).max() >= 15  # the profile mattered


def test_the_profile_travels_in_a_png_file(p3_image, tmp_path):
    path = tmp_path / "p3.png"
    p3_image.save(path, icc_profile=p3_image.info["icc_profile"])
    np.testing.assert_array_equal(load_rgb(path), load_rgb(p3_image))


def test_an_srgb_profile_changes_nothing(face):
    img = Image.fromarray(face)
    img.info["icc_profile"] = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    np.testing.assert_array_equal(load_rgb(img), face)


def test_an_unusable_profile_is_ignored_with_a_warning(face):
    img = Image.fromarray(face)
    img.info["icc_profile"] = b"not a profile"
    with pytest.warns(UserWarning, match="ICC profile"):
        np.testing.assert_array_equal(load_rgb(img), face)


# --- several frames ------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["GIF", "PNG", "TIFF"])
def test_images_of_several_frames_are_refused(face, fmt):
    frames = [Image.fromarray(face), Image.fromarray(np.ascontiguousarray(face[::-1]))]
    buf = io.BytesIO()
    frames[0].save(buf, format=fmt, save_all=True, append_images=frames[1:])
    with pytest.raises(InvalidImage, match="2 frames"):
        load_rgb(buf.getvalue())
    with pytest.raises(InvalidImage, match="2 frames"):
        load_rgb(Image.open(io.BytesIO(buf.getvalue())))
    one = io.BytesIO()
    frames[0].save(one, format=fmt)
    assert load_rgb(one.getvalue()).shape == face.shape


def test_bytes_like_inputs(face):
    buf = io.BytesIO()
    Image.fromarray(face).save(buf, format="PNG")
    for data in (buf.getvalue(), bytearray(buf.getvalue()), memoryview(buf.getvalue())):
        np.testing.assert_array_equal(load_rgb(data), face)
