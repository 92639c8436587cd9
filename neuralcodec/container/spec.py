"""The .nfc file format, version 2: constants and byte layout (human spec: docs/format.md).

All multi-byte integers are big-endian; ``varint`` is unsigned LEB128 (7 bits per byte,
least significant group first, high bit = "more"), at most :data:`MAX_VARINT_BYTES` bytes.

=======  ========  ===========================================================
offset   size      field
=======  ========  ===========================================================
0        3         magic ``b"NFC"``
3        1         format version (2)
4        2         model id: low 16 bits of CRC32 of the model's stable string id
6        1         quality, 1..255 (1-based; level index = quality - 1)
7        1         flags: bit 0 = ROI block present; bits 1..7 must be 0
.        6+        ROI block, only when flag bit 0 is set (below)
.        varint    width - 1 (so 0 x 0 cannot be expressed)
.        varint    height - 1
.        1         stream count S, 1..MAX_STREAMS
.        varint    byte length of each stream except the last (S - 1 varints)
.        ...       the S streams, back to back; the last runs up to the checksum;
                   each is a multi-lane rANS stream (docs/format.md, "Lanes")
end - 4  4         CRC32 (zlib) of every byte before it
=======  ========  ===========================================================

ROI block (face-aware bit allocation): a rectangle of the model's latent grid and the level
offsets of the latent inside and outside it from the file's quality, in quarter steps (1/4
level; the rate axis's names: :mod:`neuralcodec.models.hyperprior`, "Rate axis")::

    varint  left                   latent cells from the left edge
    varint  top                    latent cells from the top edge
    varint  width                  latent cells, >= 1
    varint  height                 latent cells, >= 1
    int8    inside_quarter_steps   level offset inside the rectangle, in 1/4 levels (two's complement)
    int8    outside_quarter_steps  level offset outside it, in 1/4 levels

Whether the rectangle lies inside the latent grid and the offsets inside the model's level
range is the codec's check (it knows the model), not the container's.

A 128 x 128 face coded by a two-stream model has a 16-byte overhead without ROI when its
first stream is shorter than 128 bytes: 3 + 1 + 2 + 1 + 1 + 1 + 1 + 1 + 1 + 4; the ROI block
adds 6 bytes for grids narrower than 128 cells.
"""

MAGIC = b"NFC"
#: 2: a flags byte (ROI block) after the quality, and streams are multi-lane rANS streams
#: (one lane, i.e. version 1's bytes, up to 65,536 symbols). Version 1 files are refused
#: with UnsupportedVersion, not guessed at.
VERSION = 2
SUPPORTED_VERSIONS = frozenset({2})

#: 21 bits: sides up to 2,097,152 px, streams but the last up to 2 MiB each (the last stream
#: has no length field: it runs up to the checksum, so its size has no limit but the file's).
#: Varints are minimal: no final ``00`` group after the first byte (CorruptHeader otherwise).
MAX_VARINT_BYTES = 3
MAX_STREAMS = 8
CHECKSUM_BYTES = 4

FLAG_ROI = 0x01
KNOWN_FLAGS = FLAG_ROI

#: The ROI block's level offsets count in quarter steps: this many per level.
QUARTER_STEPS_PER_LEVEL = 4
#: The range of an ROI offset's int8 field.
ROI_OFFSET_MIN_QUARTER_STEPS = -128
ROI_OFFSET_MAX_QUARTER_STEPS = 127

#: Largest image the codec accepts or decodes, in pixels of its *canvas* (the image padded
#: to a multiple of :data:`CANVAS_MULTIPLE` on each side, what the codec allocates; 8192 x 4096):
#: checked before anything of that size is allocated, against decompression bombs. A
#: 1 x 2,097,152 image has a 64 x 2,097,152 canvas and is refused.
MAX_PIXELS = 33_554_432
#: Every model pads the image to a multiple of this many pixels on each side before coding
#: (the transforms' total stride, ``neuralcodec.transforms.strides.STRIDE``).
CANVAS_MULTIPLE = 64


def canvas_pixels(width: int, height: int) -> int:
    """Pixels of the canvas a width x height image is coded on (padded to :data:`CANVAS_MULTIPLE`)."""
    m = CANVAS_MULTIPLE
    return -(-width // m) * m * (-(-height // m) * m)


def over_cap(width: int, height: int) -> str:
    """The message of an image over :data:`MAX_PIXELS`."""
    canvas = canvas_pixels(width, height)
    return (
        f"image {width}x{height} exceeds the {MAX_PIXELS}-pixel cap "
        f"(its canvas, padded to multiples of {CANVAS_MULTIPLE}, has {canvas})"
    )


#: Longest header before the stream count: fixed fields, a ROI block of four longest varints
#: and two offsets, width and height.
MAX_HEADER_BYTES = len(MAGIC) + 1 + 2 + 1 + 1 + (4 * MAX_VARINT_BYTES + 2) + 2 * MAX_VARINT_BYTES

#: Smallest possible file: fixed fields, flags, two 1-byte varints, stream count, checksum.
MIN_FILE_BYTES = len(MAGIC) + 1 + 2 + 1 + 1 + 1 + 1 + 1 + CHECKSUM_BYTES
