"""The .nfc container: layout, and hostile input of every kind -> a named NfcError."""

from __future__ import annotations

import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neuralcodec.container import NfcFile, RoiBlock, pack, spec, unpack
from neuralcodec.errors import (
    ChecksumMismatch,
    CorruptHeader,
    LimitExceeded,
    NfcError,
    NotAnNfcFile,
    TruncatedFile,
    UnsupportedVersion,
)

SAMPLE = NfcFile(model_hash=0xBEEF, quality=3, width=128, height=128, streams=(b"\x01" * 20, b"\x02" * 150))
ROI = RoiBlock(left=2, top=1, width=4, height=5, inside_quarter_steps=8, outside_quarter_steps=-3)
SAMPLE_ROI = NfcFile(0xBEEF, 3, 128, 128, (b"\x01" * 20, b"\x02" * 150), roi=ROI)


def with_crc(body: bytes) -> bytes:
    return body + zlib.crc32(body).to_bytes(4, "big")


@pytest.mark.parametrize("f", [SAMPLE, SAMPLE_ROI])
def test_round_trip_preserves_every_field(f):
    assert unpack(pack(f)) == f


def test_header_of_a_face_is_16_bytes_and_the_roi_block_6_more():
    assert len(pack(SAMPLE)) - SAMPLE.payload_bytes == 16
    assert len(pack(SAMPLE_ROI)) - SAMPLE_ROI.payload_bytes == 22


@pytest.mark.parametrize(
    "roi",
    [
        RoiBlock(0, 0, 1, 1, -128, 127),
        RoiBlock(200, 300, 5000, 1, 0, 0),
        RoiBlock(0, 0, 2**21 - 1, 2**21 - 1, 4, -4),
    ],
)
def test_roi_blocks_round_trip(roi):
    f = NfcFile(1, 1, 4096, 3000, (b"", b"x"), roi=roi)
    assert unpack(pack(f)) == f


@pytest.mark.parametrize("width,height", [(1, 1), (97, 131), (4096, 3000), (524_288, 64)])
def test_sizes_round_trip(width, height):
    f = NfcFile(1, 1, width, height, (b"", b"x"))
    assert unpack(pack(f)) == f


def test_layout_matches_the_spec():
    data = pack(SAMPLE)
    assert data[:3] == b"NFC" and data[3] == 2
    assert data[4:6] == b"\xbe\xef" and data[6] == 3
    assert data[7] == 0  # flags: no ROI block
    assert data[8] == 127 and data[9] == 127  # width - 1, height - 1
    assert data[10] == 2 and data[11] == 20  # stream count, first stream's length
    assert int.from_bytes(data[-4:], "big") == zlib.crc32(data[:-4])


def test_roi_layout_matches_the_spec():
    data = pack(SAMPLE_ROI)
    assert data[7] == spec.FLAG_ROI
    assert data[8:14] == bytes([2, 1, 4, 5, 8, 0xFD])  # left, top, width, height, +8, -3 quarters
    assert data[14] == 127 and data[15] == 127 and data[16] == 2


@pytest.mark.parametrize("flags", [0x02, 0x80, 0xFF, 0xFE])
def test_unknown_flags_with_valid_crc(flags):
    body = bytearray(pack(SAMPLE)[:-4])
    body[7] = flags
    with pytest.raises(CorruptHeader, match="flags"):
        unpack(with_crc(bytes(body)))


@pytest.mark.parametrize("size", [b"\x00\x01", b"\x01\x00"])
def test_empty_roi_rectangle_with_valid_crc(size):
    body = b"NFC\x02\xbe\xef\x03\x01\x00\x00" + size + b"\x04\x00\x7f\x7f\x01" + b"\x00" * 4
    with pytest.raises(CorruptHeader, match="ROI"):
        unpack(with_crc(body))


def test_roi_block_cut_short_with_valid_crc():
    body = b"NFC\x02\xbe\xef\x03\x01\x00\x00\x04"
    with pytest.raises(TruncatedFile, match="ROI"):
        unpack(with_crc(body))


@pytest.mark.parametrize("f", [SAMPLE, SAMPLE_ROI])
def test_every_truncation_is_refused(f):
    data = pack(f)
    for n in range(len(data)):
        with pytest.raises((TruncatedFile, ChecksumMismatch)):
            unpack(data[:n])


@pytest.mark.parametrize("f", [SAMPLE, SAMPLE_ROI])
def test_every_single_bit_flip_is_refused(f):
    data = pack(f)
    for i in range(len(data) * 8):
        flipped = bytearray(data)
        flipped[i // 8] ^= 1 << (i % 8)
        with pytest.raises(NfcError):
            unpack(bytes(flipped))


def test_appended_bytes_are_refused():
    with pytest.raises(ChecksumMismatch):
        unpack(pack(SAMPLE) + b"\x00")


def test_wrong_magic():
    with pytest.raises(NotAnNfcFile):
        unpack(b"\x89PNG\r\n\x1a\n" + bytes(20))


def test_unknown_version_is_named():
    data = bytearray(pack(SAMPLE))
    data[3] = 3
    with pytest.raises(UnsupportedVersion, match="version 3"):
        unpack(with_crc(bytes(data[:-4])))


def test_version_1_file_must_be_re_encoded():
    """Version 1 coded every stream as a single rANS lane; v2 decoders refuse it by name."""
    data = bytearray(pack(SAMPLE))
    assert data[3] == 2
    data[3] = 1
    with pytest.raises(UnsupportedVersion, match="older .nfc format.*re-encode"):
        unpack(with_crc(bytes(data[:-4])))


def test_stream_length_past_the_end_with_valid_crc():
    body = b"NFC\x02\xbe\xef\x03\x00\x7f\x7f\x02\x7f" + b"\x00" * 10
    with pytest.raises(TruncatedFile):
        unpack(with_crc(body))


def test_overlong_varint_with_valid_crc():
    body = b"NFC\x02\xbe\xef\x03\x00\xff\xff\xff\xff\x7f\x02\x01" + b"\x00" * 10
    with pytest.raises(LimitExceeded):
        unpack(with_crc(body))


def test_pixel_cap_is_checked_before_anything_is_allocated():
    body = b"NFC\x02\xbe\xef\x03\x00\xff\xff\x7f\xff\xff\x7f\x02\x01" + b"\x00" * 4
    with pytest.raises(LimitExceeded):
        unpack(with_crc(body))


@pytest.mark.parametrize("count", [0, spec.MAX_STREAMS + 1])
def test_bad_stream_count_with_valid_crc(count):
    with pytest.raises(CorruptHeader):
        unpack(with_crc(b"NFC\x02\xbe\xef\x03\x00\x7f\x7f" + bytes([count]) + b"\x00" * 8))


@pytest.mark.parametrize(
    "bad",
    [
        NfcFile(0x1_0000, 1, 1, 1, (b"",)),
        NfcFile(1, 0, 1, 1, (b"",)),
        NfcFile(1, 1, 0, 1, (b"",)),
        NfcFile(1, 1, 1, 1, ()),
        NfcFile(1, 1, 100_000, 100_000, (b"",)),
        NfcFile(1, 1, 1, 1, (b"",), roi=RoiBlock(0, 0, 0, 1, 0, 0)),
        NfcFile(1, 1, 1, 1, (b"",), roi=RoiBlock(-1, 0, 1, 1, 0, 0)),
        NfcFile(1, 1, 1, 1, (b"",), roi=RoiBlock(0, 0, 1, 1, 128, 0)),
        NfcFile(1, 1, 1, 1, (b"",), roi=RoiBlock(0, 0, 1, 1, 0, -129)),
    ],
)
def test_pack_refuses_what_the_format_cannot_hold(bad):
    with pytest.raises((ValueError, LimitExceeded)):
        pack(bad)


@pytest.mark.parametrize(("width", "height"), [(1, 2_097_152), (2_097_152, 1), (8100, 4097)])
def test_pixel_cap_counts_the_padded_canvas(width, height):
    """1 x 2,097,152 has 2 Mpx but a 64 x 2,097,152 canvas (4x the cap): refused both ways."""
    assert width * height <= spec.MAX_PIXELS < spec.canvas_pixels(width, height)
    with pytest.raises(LimitExceeded, match="canvas"):
        pack(NfcFile(1, 1, width, height, (b"", b"")))
    header = b"NFC\x02\xbe\xef\x03\x00" + _varint(width - 1) + _varint(height - 1)
    with pytest.raises(LimitExceeded, match="canvas"):
        unpack(with_crc(header + b"\x02\x01" + b"\x00" * 4))


def test_the_largest_canvas_is_accepted():
    f = NfcFile(1, 1, 8192, 4096, (b"\x01", b"\x02"))
    assert unpack(pack(f)) == f


def test_the_last_stream_may_exceed_the_varint_range():
    """Its length is not stored (it runs to the checksum), so 2 MiB and more fit: a 4096^2
    detailed image at quality 11 has such a latent stream."""
    f = NfcFile(1, 11, 4096, 4096, (b"\x01" * 100, b"\x02" * (3 << 20)))
    assert unpack(pack(f)) == f


def test_a_stored_stream_length_over_the_varint_range_is_limit_exceeded():
    with pytest.raises(LimitExceeded, match="stream 1"):
        pack(NfcFile(1, 11, 64, 64, (b"\x01" * (1 << 21), b"\x02")))


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    return bytes(out + bytes([value]))


@pytest.mark.parametrize(
    ("field", "body"),
    [
        ("width", b"NFC\x02\xbe\xef\x03\x00\xff\x00\x7f\x02\x01"),  # FF 00 = 127
        ("height", b"NFC\x02\xbe\xef\x03\x00\x7f\x80\x80\x00\x02\x01"),
        ("stream length", b"NFC\x02\xbe\xef\x03\x00\x7f\x7f\x02\x81\x00"),
        ("ROI left", b"NFC\x02\xbe\xef\x03\x01\x82\x00\x00\x01\x01\x00\x00\x7f\x7f\x02\x01"),
    ],
)
def test_non_minimal_varints_are_corrupt(field, body):
    """One value, one encoding: FF 00 (127 with a needless 00 group) is refused, as lanes are."""
    with pytest.raises(CorruptHeader, match=f"{field} is not minimally encoded"):
        unpack(with_crc(body + b"\x00" * 8))


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=64))
def test_fuzz_random_bytes_only_raise_nfc_errors(blob):
    for candidate in (blob, b"NFC\x02" + blob, with_crc(b"NFC\x02" + blob)):
        try:
            unpack(candidate)
        except NfcError:
            pass


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_fuzz_mutated_files_only_raise_nfc_errors(data):
    blob = bytearray(pack(data.draw(st.sampled_from([SAMPLE, SAMPLE_ROI]))))
    for _ in range(data.draw(st.integers(1, 4))):
        blob[data.draw(st.integers(0, len(blob) - 1))] = data.draw(st.integers(0, 255))
    for candidate in (bytes(blob), with_crc(bytes(blob[:-4]))):
        try:
            unpack(candidate)
        except NfcError:
            pass
