"""The .nfc file format, version 2: constants and byte layout (human spec: docs/format.md).

All multi-byte integers are big-endian; ``varint`` is unsigned LEB128 (7 bits per byte,
least significant group first, high bit = "more"), at most :data:`MAX_VARINT_BYTES` bytes.

=======  ========  ===========================================================
offset   size      field
=======  ========  ===========================================================
0        3         magic ``b"NFC"``
3        1         format version (2)
4        2         model id: low 16 bits of CRC32 of the model's stable string id
6        1         quality level, 1..255
7        varint    width - 1 (so 0 x 0 cannot be expressed)
.        varint    height - 1
.        1         stream count S, 1..MAX_STREAMS
.        varint    byte length of each stream except the last (S - 1 varints)
.        ...       the S streams, back to back; the last runs up to the checksum;
                   each is a multi-lane rANS stream (docs/format.md, "Lanes")
end - 4  4         CRC32 (zlib) of every byte before it
=======  ========  ===========================================================

A 128 x 128 face coded by a two-stream model has a 15-byte overhead when its first stream
is shorter than 128 bytes: 3 + 1 + 2 + 1 + 1 + 1 + 1 + 1 + 4.
"""

MAGIC = b"NFC"
#: 2: streams are multi-lane rANS streams (one lane, i.e. version 1's bytes, up to 65,536
#: symbols). Version 1 coded every stream as a single lane; it is refused, not guessed at.
VERSION = 2
SUPPORTED_VERSIONS = frozenset({2})

MAX_VARINT_BYTES = 3  # 21 bits: sides up to 2,097,152 px, streams up to 2 MiB each
MAX_STREAMS = 8
CHECKSUM_BYTES = 4

#: Largest image, in pixels, the codec accepts or decodes (about 8K x 4K): checked before
#: anything of that size is allocated, against decompression bombs.
MAX_PIXELS = 33_554_432

#: Smallest possible file: fixed fields, two 1-byte varints, stream count, checksum.
MIN_FILE_BYTES = len(MAGIC) + 1 + 2 + 1 + 1 + 1 + 1 + CHECKSUM_BYTES
