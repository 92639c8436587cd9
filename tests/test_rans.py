"""Tests of the native rANS coder ``neuralcodec._C`` (csrc/rans/).

Checked against: a pure-Python reference (tests/rans_reference.py), CompressAI's coder
(byte-identical streams both ways), and hostile input (truncations, bit flips, forged
streams, fuzzing) that must only ever raise RansDecodeError / RansArgumentError.
"""

import numpy as np
import pytest
import rans_reference as ref
from hypothesis import given, settings
from hypothesis import strategies as st

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
