"""Slow, obviously-correct pure-Python model of the rANS coder in csrc/rans/.

Written from the format description, not from the C++: a symbol becomes a list of
coding steps (interval ``start, freq`` out of ``2**scale_bits``), the steps of the whole
message are coded last-to-first with an unbounded Python-int state, and the stream is
the final state followed by the renormalisation words in reverse order of emission::

    symbol s, table t:  value = s - offsets[t],  escape = lengths[t] - 2
      0 <= value < escape:  [cdf step of value]
      otherwise:            [cdf step of escape, count, chunk_0, ..., chunk_{count-1}]
                            raw = -2*value - 1 if value < 0 else 2*(value - escape)
                            chunk_j = 4-bit digit j of raw (least significant first)

    bytes = state as two little-endian uint32 (low, high) + words, little-endian uint32

Decoding errors raise ``ValueError``.
"""

from __future__ import annotations

import struct
from itertools import pairwise

PRECISION = 16
BYPASS_BITS = 4
LOWER_BOUND = 1 << 31
UPPER_BOUND = 1 << 63
WORD = 1 << 32
MAX_BYPASS_CHUNKS = 9  # enough for any int32 symbol

Step = tuple[int, int, int]  # (start, freq, scale_bits): interval [start, start+freq) of 2**scale_bits


def symbol_steps(symbol: int, cdf: list[int], length: int, offset: int) -> list[Step]:
    escape = length - 2
    value = symbol - offset
    if 0 <= value < escape:
        return [(cdf[value], cdf[value + 1] - cdf[value], PRECISION)]
    raw = -2 * value - 1 if value < 0 else 2 * (value - escape)
    digits = []
    while raw:
        digits.append(raw % (1 << BYPASS_BITS))
        raw //= 1 << BYPASS_BITS
    escape_step = (cdf[escape], cdf[escape + 1] - cdf[escape], PRECISION)
    return [escape_step] + [(d, 1, BYPASS_BITS) for d in [len(digits)] + digits]


def encode_steps(steps: list[Step]) -> bytes:
    """Codes ``steps`` so that a decoder meets them in order; exposed to forge hostile streams."""
    state = LOWER_BOUND
    words = []
    for start, freq, scale_bits in reversed(steps):
        # Emit a word when coding would push the state to 2**64 or beyond.
        if state >= (LOWER_BOUND >> scale_bits) * WORD * freq:
            words.append(state % WORD)
            state //= WORD
        state = (state // freq) * (1 << scale_bits) + state % freq + start
    out = [state % WORD, state // WORD] + words[::-1]
    return struct.pack(f"<{len(out)}I", *out)


def _cdf(cdfs, lengths, t) -> list[int]:
    # Python ints: numpy scalars would overflow in the state arithmetic.
    return [int(c) for c in cdfs[t][: int(lengths[t])]]


def encode(symbols, indexes, cdfs, lengths, offsets) -> bytes:
    steps = []
    for symbol, t in zip(symbols, indexes, strict=True):
        steps += symbol_steps(int(symbol), _cdf(cdfs, lengths, t), int(lengths[t]), int(offsets[t]))
    return encode_steps(steps)


class _Reader:
    def __init__(self, data: bytes):
        if len(data) % 4 or len(data) < 8:
            raise ValueError("stream length must be a multiple of 4, at least 8")
        self.words = list(struct.unpack(f"<{len(data) // 4}I", data))
        self.pos = 2
        self.state = self.words[0] + self.words[1] * WORD
        # The encoder's states stay below 2**63: a higher one would be a second encoding.
        if not LOWER_BOUND <= self.state < UPPER_BOUND:
            raise ValueError("impossible initial state")

    def decode(self, cdf: list[int], scale_bits: int) -> int:
        """Decodes one step whose cumulative frequencies are ``cdf``."""
        target = self.state % (1 << scale_bits)
        s = max(i for i in range(len(cdf) - 1) if cdf[i] <= target)
        freq = cdf[s + 1] - cdf[s]
        self.state = freq * (self.state >> scale_bits) + target - cdf[s]
        if self.state < LOWER_BOUND:
            if self.pos == len(self.words):
                raise ValueError("truncated stream")
            self.state = self.state * WORD + self.words[self.pos]
            self.pos += 1
        return s


def decode(data: bytes, indexes, cdfs, lengths, offsets) -> list[int]:
    reader = _Reader(data)
    uniform = list(range((1 << BYPASS_BITS) + 1))
    out = []
    for t in indexes:
        length, offset = int(lengths[t]), int(offsets[t])
        escape = length - 2
        value = reader.decode(_cdf(cdfs, lengths, t), PRECISION)
        if value == escape:
            count = reader.decode(uniform, BYPASS_BITS)
            if count > MAX_BYPASS_CHUNKS:
                raise ValueError("bypass value too long for int32")
            digits = [reader.decode(uniform, BYPASS_BITS) for _ in range(count)]
            if digits and digits[-1] == 0:
                raise ValueError("bypass value has a leading zero digit")
            raw = sum(d << (BYPASS_BITS * j) for j, d in enumerate(digits))
            value = -(raw // 2) - 1 if raw % 2 else raw // 2 + escape
        symbol = value + offset
        if not -(2**31) <= symbol < 2**31:
            raise ValueError("symbol outside int32")
        out.append(symbol)
    if reader.pos != len(reader.words) or reader.state != LOWER_BOUND:
        raise ValueError("stream not fully consumed or wrong final state")
    return out


# --- lanes (docs/format.md, "Lanes") ------------------------------------------------------------
#
#   lanes L = clamp(ceil(n / 65536), 1, 32); lane k holds n // L symbols, plus one if k < n % L
#   stream  = varint(len(lane_0)) ... varint(len(lane_{L-2})) + lane_0 + ... + lane_{L-1}
#   varint  = unsigned LEB128, at most 5 bytes, minimal

SYMBOLS_PER_LANE = 65536
MAX_LANES = 32
MAX_LANE_VARINT_BYTES = 5


def lane_count(n: int) -> int:
    return min(MAX_LANES, max(1, -(-n // SYMBOLS_PER_LANE)))


def lane_bounds(n: int) -> list[int]:
    """[b_0 = 0, b_1, ..., b_L = n]: lane k holds symbols b_k .. b_{k+1} - 1."""
    lanes = lane_count(n)
    sizes = [n // lanes + (k < n % lanes) for k in range(lanes)]
    return [sum(sizes[:k]) for k in range(lanes + 1)]


def varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(0x80 | value & 0x7F)
        value >>= 7
    return bytes(out + bytes([value]))


def encode_lanes(symbols, indexes, cdfs, lengths, offsets) -> bytes:
    bounds = lane_bounds(len(symbols))
    lanes = [encode(symbols[a:b], indexes[a:b], cdfs, lengths, offsets) for a, b in pairwise(bounds)]
    return b"".join(varint(len(lane)) for lane in lanes[:-1]) + b"".join(lanes)


def decode_lanes(data: bytes, indexes, cdfs, lengths, offsets) -> list[int]:
    bounds = lane_bounds(len(indexes))
    sizes, pos = [], 0
    for _ in range(len(bounds) - 2):
        value = 0
        for shift in range(0, 7 * MAX_LANE_VARINT_BYTES, 7):
            if pos == len(data):
                raise ValueError("truncated lane lengths")
            byte = data[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                if byte == 0 and shift:
                    raise ValueError("non-minimal varint")
                break
        else:
            raise ValueError("varint too long")
        sizes.append(value)
    if sum(sizes) > len(data) - pos:
        raise ValueError("lanes run past the end (truncated)")
    sizes.append(len(data) - pos - sum(sizes))
    out = []
    for (a, b), size in zip(pairwise(bounds), sizes, strict=True):
        out += decode(data[pos : pos + size], indexes[a:b], cdfs, lengths, offsets)
        pos += size
    return out
