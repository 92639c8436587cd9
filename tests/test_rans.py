"""Tests of the native rANS coder ``neuralcodec._C`` (csrc/rans/).

Checked against: a pure-Python reference (neuralcodec/entropy/reference.py), CompressAI's coder
(byte-identical streams both ways), and hostile input (truncations, bit flips, forged
streams, fuzzing) that must only ever raise RansDecodeError / RansArgumentError.
"""

import struct
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neuralcodec.entropy import reference as ref

# _C is built by torch's CppExtension and links libc10/libtorch_cpu, which importing torch loads.
torch = pytest.importorskip("torch")
_C = pytest.importorskip(
    "neuralcodec._C", reason="native extension not built (python setup.py build_ext --inplace)"
)

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
# Comparisons with CompressAI avoid two of its bugs: its encoder loops forever once an escaped
# raw value reaches 2**28 (a uint32 shifted by 32 when counting chunks), and dies of SIGFPE on a
# table of length 2 (the escape's frequency 2**16 stored in a uint16 becomes 0, then divides).
COMPRESSAI_SAFE_MAGNITUDE = 2**26
COMPRESSAI_MIN_LENGTH = 3


def random_tables(rng, num_tables=6, min_length=2, max_length=20):
    """Valid CompressAI-layout tables: random cut points give frequencies from 1 to 2**16."""
    cdfs = np.zeros((num_tables, max_length), np.int32)
    lengths = rng.integers(min_length, max_length + 1, num_tables).astype(np.int32)
    for t, length in enumerate(lengths):
        cuts = rng.choice(np.arange(1, 1 << 16), size=length - 2, replace=False)
        cdfs[t, 1 : length - 1] = np.sort(cuts)
        cdfs[t, length - 1] = 1 << 16
    offsets = rng.integers(-10, 10, num_tables).astype(np.int32)
    return cdfs, lengths, offsets


def random_message(rng, tables, count, outlier_magnitude):
    """Symbols mostly inside their table's range, a few just outside, a few far outside."""
    _, lengths, offsets = tables
    indexes = rng.integers(0, len(lengths), count).astype(np.int32)
    symbols = rng.integers(-3, lengths[indexes] + 2) + offsets[indexes]
    far = rng.random(count) < 0.05
    symbols[far] = rng.integers(-outlier_magnitude, outlier_magnitude, far.sum())
    return symbols.astype(np.int32), indexes


@pytest.fixture(scope="module")
def gaussian_model():
    """compressai's GaussianConditional with its default scale table, CDF tables built."""
    entropy_models = pytest.importorskip("compressai.entropy_models")
    from compressai.models.base import get_scale_table

    model = entropy_models.GaussianConditional(None)
    model.update_scale_table(get_scale_table())
    return model


def tables_of(model):
    return model._quantized_cdf.numpy(), model._cdf_length.numpy(), model._offset.numpy()


def gaussian_latent(model, rng, count):
    """A latent as a hyperprior codes it: Gaussian values, each with the table of its scale."""
    scales = np.exp(rng.uniform(np.log(0.11), np.log(20.0), count)).astype(np.float32)
    indexes = model.build_indexes(torch.from_numpy(scales)).numpy().astype(np.int32)
    symbols = np.round(rng.normal(0.0, scales)).astype(np.int32)
    return symbols, indexes


TABLES = random_tables(np.random.default_rng(1234))


@pytest.mark.parametrize("seed", range(8))
def test_round_trip(seed):
    rng = np.random.default_rng(seed)
    tables = random_tables(rng)
    symbols, indexes = random_message(rng, tables, count=2000, outlier_magnitude=2**31)
    data = _C.encode_with_indexes(symbols, indexes, *tables)
    decoded = _C.decode_with_indexes(data, indexes, *tables)
    assert decoded.dtype == np.int32
    np.testing.assert_array_equal(decoded, symbols)


def test_round_trip_empty():
    empty = np.zeros(0, np.int32)
    data = _C.encode_with_indexes(empty, empty, *TABLES)
    assert len(data) == 8
    assert _C.decode_with_indexes(data, empty, *TABLES).shape == (0,)


def test_round_trip_int32_extremes_with_extreme_offsets():
    cdfs, lengths, _ = TABLES
    for offset in (INT32_MIN, -1, 0, INT32_MAX):
        offsets = np.full(len(lengths), offset, np.int32)
        symbols = np.array([INT32_MIN, INT32_MIN + 1, -1, 0, 1, INT32_MAX - 1, INT32_MAX], np.int32)
        indexes = np.arange(len(symbols), dtype=np.int32) % len(lengths)
        data = _C.encode_with_indexes(symbols, indexes, cdfs, lengths, offsets)
        np.testing.assert_array_equal(_C.decode_with_indexes(data, indexes, cdfs, lengths, offsets), symbols)


def test_round_trip_escape_only_table():
    """Length 2: the escape is the only symbol (frequency 2**16), every value is bypass-coded."""
    cdfs, lengths, offsets = (
        np.array([[0, 1 << 16]], np.int32),
        np.array([2], np.int32),
        np.array([3], np.int32),
    )
    symbols = np.array([3, 2, 4, 0, 10**6, -(10**6)], np.int32)
    indexes = np.zeros(len(symbols), np.int32)
    data = _C.encode_with_indexes(symbols, indexes, cdfs, lengths, offsets)
    assert data == ref.encode(symbols, indexes, cdfs, lengths, offsets)
    np.testing.assert_array_equal(_C.decode_with_indexes(data, indexes, cdfs, lengths, offsets), symbols)


def test_round_trip_gaussian_latent(gaussian_model):
    tables = tables_of(gaussian_model)
    symbols, indexes = gaussian_latent(gaussian_model, np.random.default_rng(7), 5000)
    data = _C.encode_with_indexes(symbols, indexes, *tables)
    np.testing.assert_array_equal(_C.decode_with_indexes(data, indexes, *tables), symbols)


def _compressai_coders():
    ans = pytest.importorskip("compressai.ans")
    return ans.RansEncoder(), ans.RansDecoder()


@pytest.mark.parametrize("seed", range(12))
def test_identical_to_compressai_random_tables(seed):
    encoder, decoder = _compressai_coders()
    rng = np.random.default_rng(100 + seed)
    tables = random_tables(rng, min_length=COMPRESSAI_MIN_LENGTH)
    symbols, indexes = random_message(rng, tables, 300, COMPRESSAI_SAFE_MAGNITUDE)
    as_lists = [a.tolist() for a in (symbols, indexes, *tables)]

    ours = _C.encode_with_indexes(symbols, indexes, *tables)
    theirs = encoder.encode_with_indexes(*as_lists)
    assert ours == theirs
    assert decoder.decode_with_indexes(ours, *as_lists[1:]) == symbols.tolist()
    np.testing.assert_array_equal(_C.decode_with_indexes(theirs, indexes, *tables), symbols)


def test_identical_to_compressai_gaussian_latent(gaussian_model):
    encoder, decoder = _compressai_coders()
    tables = tables_of(gaussian_model)
    rng = np.random.default_rng(11)
    symbols, indexes = gaussian_latent(gaussian_model, rng, 3000)
    outliers = rng.random(symbols.size) < 0.02
    symbols[outliers] = rng.integers(-COMPRESSAI_SAFE_MAGNITUDE, COMPRESSAI_SAFE_MAGNITUDE, outliers.sum())
    as_lists = [a.tolist() for a in (symbols, indexes, *tables)]

    ours = _C.encode_with_indexes(symbols, indexes, *tables)
    assert ours == encoder.encode_with_indexes(*as_lists)
    assert decoder.decode_with_indexes(ours, *as_lists[1:]) == symbols.tolist()


def test_accepts_compressai_style_arguments():
    rng = np.random.default_rng(3)
    symbols, indexes = random_message(rng, TABLES, 200, 1000)
    expected = _C.encode_with_indexes(symbols, indexes, *TABLES)

    lists = [a.tolist() for a in (symbols, indexes, *TABLES)]
    assert _C.encode_with_indexes(*lists) == expected
    int64 = [a.astype(np.int64) for a in (symbols, indexes, *TABLES)]
    assert _C.encode_with_indexes(*int64) == expected
    strided = np.repeat(symbols, 2)[::2]
    assert _C.encode_with_indexes(strided, indexes, *TABLES) == expected

    for data in (bytearray(expected), memoryview(expected), np.frombuffer(expected, np.uint8)):
        np.testing.assert_array_equal(_C.decode_with_indexes(data, *lists[1:]), symbols)


_SYMBOL = st.one_of(st.integers(-20, 20), st.integers(INT32_MIN, INT32_MAX))


@settings(max_examples=150, deadline=None)
@given(message=st.lists(st.tuples(_SYMBOL, st.integers(0, len(TABLES[1]) - 1)), max_size=12))
def test_matches_reference(message):
    symbols = np.array([s for s, _ in message], np.int32)
    indexes = np.array([t for _, t in message], np.int32)
    data = _C.encode_with_indexes(symbols, indexes, *TABLES)
    assert data == ref.encode(symbols, indexes, *TABLES)
    assert ref.decode(data, indexes, *TABLES) == symbols.tolist()
    np.testing.assert_array_equal(_C.decode_with_indexes(data, indexes, *TABLES), symbols)


@pytest.fixture(scope="module")
def small_stream():
    """A 52-byte stream of 40 symbols, 19 of them escaped (bypass-coded), some by ~10**6."""
    rng = np.random.default_rng(5)
    symbols, indexes = random_message(rng, TABLES, 40, 10**6)
    return _C.encode_with_indexes(symbols, indexes, *TABLES), symbols, indexes


def test_every_truncation_raises(small_stream):
    data, _, indexes = small_stream
    for cut in range(len(data)):
        with pytest.raises(_C.RansDecodeError):
            _C.decode_with_indexes(data[:cut], indexes, *TABLES)


@pytest.mark.parametrize("extra", [b"\0", b"\0" * 4, b"\xff" * 8])
def test_trailing_bytes_raise(small_stream, extra):
    data, _, indexes = small_stream
    with pytest.raises(_C.RansDecodeError):
        _C.decode_with_indexes(data + extra, indexes, *TABLES)


def test_wrong_symbol_count_raises(small_stream):
    data, _, indexes = small_stream
    for count in (0, len(indexes) - 1, len(indexes) + 1):
        with pytest.raises(_C.RansDecodeError):
            _C.decode_with_indexes(data, np.resize(indexes, count), *TABLES)


def _flip_every_bit(data, indexes, tables):
    """Decodes every single-bit corruption of ``data``; returns the fraction rejected."""
    detected = 0
    for bit in range(8 * len(data)):
        corrupted = bytearray(data)
        corrupted[bit // 8] ^= 1 << (bit % 8)
        try:
            decoded = _C.decode_with_indexes(bytes(corrupted), indexes, *tables)
        except _C.RansDecodeError:
            detected += 1
        else:
            assert decoded.dtype == np.int32 and decoded.shape == indexes.shape
    return detected / (8 * len(data))


# Bypass chunks are raw bits that decoding shifts out of the state, so a flip that lands in an
# escaped value's digits silently changes just that value. Other flips are caught by the
# final-state and full-consumption checks, bar rare collisions. Bounds sit below observed rates.


def test_bit_flips_escape_heavy_stream(small_stream):
    data, _, indexes = small_stream
    assert _flip_every_bit(data, indexes, TABLES) > 0.8  # observed 0.87 (19 of 40 escaped)


def test_bit_flips_gaussian_latent(gaussian_model):
    tables = tables_of(gaussian_model)
    symbols, indexes = gaussian_latent(gaussian_model, np.random.default_rng(0), 256)
    data = _C.encode_with_indexes(symbols, indexes, *tables)
    assert _flip_every_bit(data, indexes, tables) > 0.98  # observed 0.995


def _forged(bypass_chunks):
    """A stream holding table 0's escape symbol followed by the given bypass chunks."""
    cdfs, lengths, _ = TABLES
    escape = int(lengths[0]) - 2
    low, high = int(cdfs[0, escape]), int(cdfs[0, escape + 1])
    steps = [(low, high - low, ref.PRECISION)] + [(c, 1, ref.BYPASS_BITS) for c in bypass_chunks]
    return ref.encode_steps(steps)


@pytest.mark.parametrize(
    ("bypass_chunks", "reason"),
    [
        ([15] + [1] * 15, "15 chunks"),  # CompressAI's count continuation: never needed
        ([10] + [1] * 10, "10 chunks"),  # more chunks than any int32 value needs
        ([2, 5, 0], "leading zero"),  # non-canonical
        ([9] + [15] * 9, "outside int32"),  # 36-bit raw value
        ([3, 1], "truncated"),  # count says 3 chunks, the stream ends after 1
    ],
)
def test_forged_bypass_values_raise(bypass_chunks, reason):
    data = _forged(bypass_chunks)
    with pytest.raises(_C.RansDecodeError, match=reason):
        _C.decode_with_indexes(data, np.zeros(1, np.int32), *TABLES)
    with pytest.raises(ValueError):
        ref.decode(data, [0], *TABLES)


def test_forged_initial_state_raises():
    empty = np.zeros(0, np.int32)
    for state in (0, ref.LOWER_BOUND - 1):
        data = state.to_bytes(8, "little")
        with pytest.raises(_C.RansDecodeError, match="impossible state"):
            _C.decode_with_indexes(data, empty, *TABLES)


def _second_encoding(steps):
    """``ref.encode_steps`` except that the last step coded skips its renormalisation, which
    leaves the state in [2**63, 2**64): one word shorter, and it decodes to the same steps."""
    state, words = ref.LOWER_BOUND, []
    for k, (start, freq, scale_bits) in enumerate(reversed(steps)):
        if state >= (ref.LOWER_BOUND >> scale_bits) * ref.WORD * freq and k < len(steps) - 1:
            words.append(state % ref.WORD)
            state //= ref.WORD
        state = (state // freq) * (1 << scale_bits) + state % freq + start
    if not ref.UPPER_BOUND <= state < 2**64:
        return None
    out = [state % ref.WORD, state // ref.WORD] + words[::-1]
    return struct.pack(f"<{len(out)}I", *out)


def test_a_second_encoding_with_an_initial_state_above_2_63_raises():
    """Found with the libFuzzer target's canonicity oracle (tests/fuzz/rans_fuzzer.cpp): the
    decoders accepted initial states the encoder never writes, so two streams decoded to the
    same symbols. tests/fuzz/corpus/rans/regression-noncanonical-state is such a stream."""
    cdfs, lengths, offsets = TABLES
    rng = np.random.default_rng(5)
    forged = 0
    for _ in range(600):
        symbols, indexes = random_message(rng, TABLES, int(rng.integers(20, 60)), 1000)
        steps = [
            step
            for symbol, t in zip(symbols.tolist(), indexes.tolist(), strict=True)
            for step in ref.symbol_steps(symbol, ref._cdf(cdfs, lengths, t), int(lengths[t]), int(offsets[t]))
        ]
        data = _second_encoding(steps)
        if data is None:
            continue
        forged += 1
        assert data != _C.encode_with_indexes(symbols, indexes, *TABLES)
        with pytest.raises(_C.RansDecodeError, match="impossible state"):
            _C.decode_with_indexes(data, indexes, *TABLES)
        with pytest.raises(ValueError, match="impossible initial state"):
            ref.decode(data, indexes.tolist(), *TABLES)
    assert forged >= 5


def test_symbol_overflowing_int32_raises():
    cdfs, lengths, offsets = TABLES
    table = int(np.argmax(lengths))
    indexes = np.array([table], np.int32)
    data = _C.encode_with_indexes(np.array([offsets[table] + 1], np.int32), indexes, *TABLES)
    shifted = np.full_like(offsets, INT32_MAX)
    with pytest.raises(_C.RansDecodeError, match="outside int32"):
        _C.decode_with_indexes(data, indexes, cdfs, lengths, shifted)


_FUZZ_SYMBOLS, _FUZZ_INDEXES = random_message(np.random.default_rng(9), TABLES, 24, 1000)
_FUZZ_STREAM = _C.encode_with_indexes(_FUZZ_SYMBOLS, _FUZZ_INDEXES, *TABLES)


@st.composite
def corrupted_streams(draw):
    """A valid stream with a few bytes overwritten, then cut or extended."""
    data = bytearray(_FUZZ_STREAM)
    for _ in range(draw(st.integers(1, 4))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data[: draw(st.integers(0, len(data)))]) + draw(st.binary(max_size=8))


@settings(max_examples=400, deadline=None)
@given(
    data=st.one_of(st.binary(max_size=80), corrupted_streams()),
    indexes=st.one_of(
        st.just(_FUZZ_INDEXES.tolist()),
        st.lists(st.integers(-1, len(TABLES[1])), max_size=24),
    ),
)
def test_fuzz_decode_only_raises_rans_errors(data, indexes):
    indexes = np.array(indexes, np.int32)
    try:
        decoded = _C.decode_with_indexes(data, indexes, *TABLES)
    except (_C.RansDecodeError, _C.RansArgumentError):
        return
    assert decoded.dtype == np.int32 and decoded.shape == indexes.shape


SYMBOLS, INDEXES, CDFS, LENGTHS, OFFSETS = range(5)


def _valid_arguments():
    """A small valid message whose tables both have length 5, so every mutation below applies."""
    cdfs = np.array([[0, 100, 30000, 65000, 65536, 0], [0, 1, 2, 3, 65536, 0]], np.int32)
    lengths = np.array([5, 5], np.int32)
    offsets = np.array([-1, 2], np.int32)
    symbols = np.array([0, 1, 7, -5], np.int32)
    indexes = np.array([0, 1, 0, 1], np.int32)
    return [symbols, indexes, cdfs, lengths, offsets]


def _with(position, make):
    """A mutation replacing argument ``position`` by ``make(argument)``."""

    def mutate(args):
        args[position] = make(args[position])

    return mutate


def _with_entry(position, where, value):
    """A mutation setting one entry of argument ``position``."""

    def make(array):
        array = array.copy()
        array[where] = value
        return array

    return _with(position, make)


BAD_TABLES_OR_INDEXES = {
    "cdf does not start at 0": _with_entry(CDFS, (0, 0), 1),
    "cdf not increasing": _with_entry(CDFS, (0, 2), 100),
    "cdf not ending at 2**16": _with_entry(CDFS, (1, 4), 65535),
    "cdf above 2**16": _with_entry(CDFS, (1, 3), 70000),
    "length below 2": _with_entry(LENGTHS, 1, 1),
    "length beyond row": _with_entry(LENGTHS, 0, 7),
    "negative index": _with_entry(INDEXES, 2, -1),
    "index past tables": _with_entry(INDEXES, 3, 2),
    "index far past tables": _with_entry(INDEXES, 0, INT32_MAX),
    "index beyond int32": _with(INDEXES, lambda a: [0, 1, 0, 2**32]),
    "float indexes": _with(INDEXES, lambda a: a.astype(np.float32)),
    "too few lengths": _with(LENGTHS, lambda a: a[:1]),
    "too many offsets": _with(OFFSETS, lambda a: np.zeros(3, np.int32)),
    "cdfs 1-D": _with(CDFS, np.ravel),
    "float cdfs": _with(CDFS, lambda a: a.astype(np.float64)),
    "ragged cdfs": _with(CDFS, lambda a: [[0, 65536], [0, 1, 65536]]),
    "offsets not array-like": _with(OFFSETS, lambda a: object()),
}


@pytest.mark.parametrize("operation", ["encode", "decode"])
@pytest.mark.parametrize("case", sorted(BAD_TABLES_OR_INDEXES))
def test_bad_tables_or_indexes_raise(case, operation):
    args = _valid_arguments()
    data = _C.encode_with_indexes(*args)
    BAD_TABLES_OR_INDEXES[case](args)
    with pytest.raises(_C.RansArgumentError):
        if operation == "encode":
            _C.encode_with_indexes(*args)
        else:
            _C.decode_with_indexes(data, *args[INDEXES:])


BAD_SYMBOLS = {
    "fewer symbols than indexes": _with(SYMBOLS, lambda a: a[:-1]),
    "float symbols": _with(SYMBOLS, lambda a: a + 0.5),
    "symbol beyond int32": _with(SYMBOLS, lambda a: [0, 1, 2, INT32_MAX + 1]),
}


@pytest.mark.parametrize("case", sorted(BAD_SYMBOLS))
def test_bad_symbols_raise(case):
    args = _valid_arguments()
    BAD_SYMBOLS[case](args)
    with pytest.raises(_C.RansArgumentError):
        _C.encode_with_indexes(*args)


def test_unused_broken_table_is_ignored():
    symbols, indexes, cdfs, lengths, offsets = _valid_arguments()
    cdfs = np.concatenate([cdfs, np.full((1, cdfs.shape[1]), -7, np.int32)])
    lengths, offsets = np.append(lengths, 0), np.append(offsets, 0)
    data = _C.encode_with_indexes(symbols, indexes, cdfs, lengths, offsets)
    np.testing.assert_array_equal(_C.decode_with_indexes(data, indexes, cdfs, lengths, offsets), symbols)


def test_errors_are_value_errors():
    assert issubclass(_C.RansDecodeError, ValueError)
    assert issubclass(_C.RansArgumentError, ValueError)


# --- lanes: multi-lane streams (docs/format.md, "Lanes") --------------------------------------

PER_LANE = ref.SYMBOLS_PER_LANE
THREAD_COUNTS = (0, 1, 2, 3, 8)


def test_lane_layout_matches_reference():
    assert (_C.SYMBOLS_PER_LANE, _C.MAX_LANES) == (ref.SYMBOLS_PER_LANE, ref.MAX_LANES)
    for n in (0, 1, 8 * 8 * 128, PER_LANE, PER_LANE + 1, 192 * 32 * 48, 32 * PER_LANE, 33 * PER_LANE, 10**9):
        assert _C.lane_count(n) == ref.lane_count(n)
    assert _C.lane_count(8 * 8 * 128) == 1  # a 128x128 face latent
    assert _C.lane_count(192 * 32 * 48) == 5  # a Kodak-sized latent


def test_one_lane_is_exactly_compressai_layout():
    """Up to SYMBOLS_PER_LANE symbols the multi-lane stream is the plain stream."""
    rng = np.random.default_rng(21)
    for count in (0, 1, 8 * 8 * 128, PER_LANE):
        symbols, indexes = random_message(rng, TABLES, count, 1000)
        plain = _C.encode_with_indexes(symbols, indexes, *TABLES)
        assert _C.encode_lanes(symbols, indexes, *TABLES) == plain
        np.testing.assert_array_equal(_C.decode_lanes(plain, indexes, *TABLES), symbols)


@pytest.fixture(scope="module")
def three_lanes():
    """A 3-lane message with escapes and extreme values in every lane, its reference stream."""
    rng = np.random.default_rng(22)
    symbols, indexes = random_message(rng, TABLES, 2 * PER_LANE + 17, 2**31)
    return symbols, indexes, ref.encode_lanes(symbols, indexes, *TABLES)


def test_multi_lane_stream_matches_reference(three_lanes):
    symbols, indexes, expected = three_lanes
    data = _C.encode_lanes(symbols, indexes, *TABLES, threads=1)
    assert data == expected
    np.testing.assert_array_equal(_C.decode_lanes(data, indexes, *TABLES), symbols)


@pytest.mark.slow
def test_reference_decodes_multi_lane_stream(three_lanes):
    symbols, indexes, data = three_lanes
    assert ref.decode_lanes(data, indexes, *TABLES) == symbols.tolist()


def test_lanes_are_independent_plain_streams(three_lanes):
    """Each lane is encode_with_indexes of its slice, preceded by the other lanes' lengths."""
    symbols, indexes, data = three_lanes
    bounds = ref.lane_bounds(len(symbols))
    lanes = [_C.encode_with_indexes(symbols[a:b], indexes[a:b], *TABLES) for a, b in pairwise(bounds)]
    assert data == ref.varint(len(lanes[0])) + ref.varint(len(lanes[1])) + b"".join(lanes)


def test_bytes_and_symbols_do_not_depend_on_threads(gaussian_model):
    tables = tables_of(gaussian_model)
    symbols, indexes = gaussian_latent(gaussian_model, np.random.default_rng(23), 192 * 32 * 48)
    streams = {_C.encode_lanes(symbols, indexes, *tables, threads=t) for t in THREAD_COUNTS}
    assert len(streams) == 1
    (data,) = streams
    for threads in THREAD_COUNTS:
        np.testing.assert_array_equal(_C.decode_lanes(data, indexes, *tables, threads=threads), symbols)


def test_multi_lane_stream_is_compact(gaussian_model):
    """A Kodak-sized latent: lanes cost well under 0.5 % over CompressAI's single stream."""
    tables = tables_of(gaussian_model)
    symbols, indexes = gaussian_latent(gaussian_model, np.random.default_rng(24), 192 * 32 * 48)
    single = len(_C.encode_with_indexes(symbols, indexes, *tables))
    lanes = len(_C.encode_lanes(symbols, indexes, *tables))
    assert single < lanes < single * 1.005


def test_negative_thread_count_raises():
    with pytest.raises(_C.RansArgumentError, match="threads"):
        _C.encode_lanes([0], [0], *TABLES, threads=-1)


# --- batches ------------------------------------------------------------------------------------


def _batch(rng, sizes, tables=TABLES):
    messages = [random_message(rng, tables, n, 1000) for n in sizes]
    return [m[0] for m in messages], [m[1] for m in messages]


BATCH_SIZES = (0, 5, 8 * 8 * 128, PER_LANE + 3, 1, 3 * PER_LANE)


def test_batch_equals_one_by_one():
    symbols, indexes = _batch(np.random.default_rng(25), BATCH_SIZES)
    singles = [_C.encode_lanes(s, i, *TABLES) for s, i in zip(symbols, indexes, strict=True)]
    for threads in THREAD_COUNTS:
        assert _C.encode_lanes_batch(symbols, indexes, *TABLES, threads=threads) == singles
        decoded = _C.decode_lanes_batch(singles, indexes, *TABLES, threads=threads)
        assert len(decoded) == len(symbols)
        for got, expected in zip(decoded, symbols, strict=True):
            np.testing.assert_array_equal(got, expected)


def test_empty_batch():
    assert _C.encode_lanes_batch([], [], *TABLES) == []
    assert _C.decode_lanes_batch([], [], *TABLES) == []


def test_batch_error_names_the_first_bad_stream():
    symbols, indexes = _batch(np.random.default_rng(26), (50, 3 * PER_LANE, 50, 50))
    streams = _C.encode_lanes_batch(symbols, indexes, *TABLES)
    streams[1] = streams[1][:-1]
    streams[3] = streams[3][:-4]
    for threads in (1, 2):
        with pytest.raises(
            _C.RansDecodeError, match=r"^stream 1, lane 2 of 3: .*truncated|^stream 1, lane 2"
        ):
            _C.decode_lanes_batch(streams, indexes, *TABLES, threads=threads)


@pytest.mark.parametrize(
    "call",
    [
        lambda: _C.encode_lanes_batch([[0]], [[0], [1]], *TABLES),
        lambda: _C.encode_lanes_batch([[0, 1]], [[0]], *TABLES),
        lambda: _C.decode_lanes_batch([b"\0" * 8], [[0], [1]], *TABLES),
        lambda: _C.decode_lanes_batch(["not bytes"], [[0]], *TABLES),
        lambda: _C.decode_lanes_batch([b"\0" * 8, b"\0" * 8], [[0], [99]], *TABLES),
    ],
)
def test_bad_batch_arguments_raise(call):
    with pytest.raises(_C.RansArgumentError):
        call()


# --- hostile multi-lane streams -----------------------------------------------------------------


def _sparse_tables():
    """Table 0 almost always codes 0 (freq 65535 of 65536): long messages make short streams."""
    cdfs = np.array([[0, 65535, 65536], [0, 1, 65536]], np.int32)
    return cdfs, np.array([3, 3], np.int32), np.array([0, 0], np.int32)


SPARSE = _sparse_tables()


@pytest.fixture(scope="module")
def short_multi_lane_stream():
    """3 lanes of ~65k symbols each in about 150 bytes: a few escapes per lane."""
    rng = np.random.default_rng(27)
    count = 2 * PER_LANE + 17
    symbols = np.zeros(count, np.int32)
    where = rng.choice(count, 24, replace=False)
    symbols[where] = rng.integers(-(10**6), 10**6, where.size)
    indexes = np.zeros(count, np.int32)
    data = _C.encode_lanes(symbols, indexes, *SPARSE)
    assert data == ref.encode_lanes(symbols, indexes, *SPARSE)
    return data, symbols, indexes


def test_multi_lane_every_truncation_raises(short_multi_lane_stream):
    data, _, indexes = short_multi_lane_stream
    for cut in range(len(data)):
        with pytest.raises(_C.RansDecodeError):
            _C.decode_lanes(data[:cut], indexes, *SPARSE, threads=2)


@pytest.mark.parametrize("extra", [b"\0", b"\0" * 4, b"\xff" * 8])
def test_multi_lane_trailing_bytes_raise(short_multi_lane_stream, extra):
    data, _, indexes = short_multi_lane_stream
    with pytest.raises(_C.RansDecodeError):
        _C.decode_lanes(data + extra, indexes, *SPARSE)


def test_multi_lane_bit_flips(short_multi_lane_stream):
    data, _, indexes = short_multi_lane_stream
    detected = 0
    for bit in range(8 * len(data)):
        corrupted = bytearray(data)
        corrupted[bit // 8] ^= 1 << (bit % 8)
        try:
            decoded = _C.decode_lanes(bytes(corrupted), indexes, *SPARSE, threads=2)
        except _C.RansDecodeError:
            detected += 1
        else:
            assert decoded.dtype == np.int32 and decoded.shape == indexes.shape
    # Flips in the escapes' raw bypass digits go unnoticed, as in a single lane.
    assert detected / (8 * len(data)) > 0.5


def _zero_lanes(count):
    """The lanes of ``count`` zeros under table 0 of SPARSE: 8 bytes each below ~90k symbols."""
    bounds = ref.lane_bounds(count)
    zeros = np.zeros(count, np.int32)
    return [_C.encode_with_indexes(zeros[a:b], zeros[a:b], *SPARSE) for a, b in pairwise(bounds)]


@pytest.mark.parametrize(
    ("stream", "reason"),
    [
        (b"", "truncated"),
        (b"\x80", "truncated"),  # a varint cut short
        (b"\x88\x00\x08", "not minimal"),  # 8 written as 88 00
        (b"\x80\x80\x80\x80\x80\x01\x08", "longer than 5"),
        (b"\xff\xff\x03\x08", "truncated"),  # a lane longer than the stream
        (b"\x08\x00", "lane 1 of 3: .*shorter than its 8-byte state"),  # an empty middle lane
        (b"\x08\x09", "lane 1 of 3: .*multiple of 4"),
        (b"\x10\x08", "lane 0 of 3: .*unread bytes"),  # lanes 0 and 1 read as one
    ],
)
def test_forged_lane_headers_raise(stream, reason):
    count = 2 * PER_LANE + 1
    lanes = _zero_lanes(count)
    assert [len(lane) for lane in lanes] == [8, 8, 8]
    indexes = np.zeros(count, np.int32)
    np.testing.assert_array_equal(_C.decode_lanes(b"\x08\x08" + b"".join(lanes), indexes, *SPARSE), 0)
    data = stream + b"".join(lanes) if len(stream) > 1 else stream
    with pytest.raises(_C.RansDecodeError, match=reason):
        _C.decode_lanes(data, indexes, *SPARSE)
    with pytest.raises(ValueError):
        ref.decode_lanes(data, indexes.tolist(), *SPARSE)


@st.composite
def corrupted_lane_streams(draw, stream):
    """A valid multi-lane stream with a few bytes overwritten, then cut or extended."""
    data = bytearray(stream)
    for _ in range(draw(st.integers(1, 4))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data[: draw(st.integers(0, len(data)))]) + draw(st.binary(max_size=8))


@st.composite
def forged_lane_streams(draw):
    """Arbitrary lane lengths (valid varints or not) followed by arbitrary lanes."""
    lengths = draw(st.lists(st.integers(0, 40), min_size=0, max_size=3))
    header = b"".join(ref.varint(n) for n in lengths) if draw(st.booleans()) else draw(st.binary(max_size=6))
    return header + draw(st.binary(max_size=60))


_SPARSE_COUNT = 2 * PER_LANE + 17
_SPARSE_INDEXES = np.zeros(_SPARSE_COUNT, np.int32)
_SPARSE_SYMBOLS = np.zeros(_SPARSE_COUNT, np.int32)
_SPARSE_SYMBOLS[:: PER_LANE // 3] = 77
_SPARSE_STREAM = _C.encode_lanes(_SPARSE_SYMBOLS, _SPARSE_INDEXES, *SPARSE)


@settings(max_examples=300, deadline=None)
@given(
    data=st.one_of(corrupted_lane_streams(_SPARSE_STREAM), forged_lane_streams()),
    threads=st.sampled_from([1, 2]),
)
def test_fuzz_lane_decoder_only_raises_rans_errors(data, threads):
    try:
        decoded = _C.decode_lanes(data, _SPARSE_INDEXES, *SPARSE, threads=threads)
    except (_C.RansDecodeError, _C.RansArgumentError):
        return
    assert decoded.dtype == np.int32 and decoded.shape == _SPARSE_INDEXES.shape
