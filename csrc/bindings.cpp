// Python bindings of the native code, module `neuralcodec._C`. Only converts
// arguments and maps C++ exceptions; the coding itself lives in rans/.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "rans/rans_coder.hpp"

#ifdef WITH_CUDA
#include <torch/extension.h>  // tensor <-> Python conversion

#include "rans/rans_cuda.hpp"
#endif

namespace py = pybind11;

namespace {

using Int32Array = py::array_t<int32_t, py::array::c_style>;

// Accepts int32 arrays without copying, and any other integer array-like
// (lists, nested lists, other integer dtypes, CPU tensors) whose values fit in
// int32. Nothing is cast silently: floats or out-of-range values are rejected.
Int32Array as_int32_array(py::handle obj, const char* name, py::ssize_t ndim) {
  py::array array = py::array::ensure(obj);
  if (!array) {
    throw rans::InvalidArgument(std::string(name) + " is not convertible to an integer array");
  }
  if (array.ndim() != ndim) {
    throw rans::InvalidArgument(std::string(name) + " must be " + std::to_string(ndim) +
                                "-D, got " + std::to_string(array.ndim()) + "-D");
  }
  if (array.size() == 0 || array.dtype().is(py::dtype::of<int32_t>())) {
    return Int32Array::ensure(array);
  }
  const char kind = array.dtype().kind();
  if (kind != 'i' && kind != 'u') {
    throw rans::InvalidArgument(std::string(name) + " must hold integers, got " +
                                py::str(array.dtype()).cast<std::string>());
  }
  const py::int_ low(array.attr("min")());
  const py::int_ high(array.attr("max")());
  if (low < py::int_(std::numeric_limits<int32_t>::min()) ||
      high > py::int_(std::numeric_limits<int32_t>::max())) {
    throw rans::InvalidArgument(std::string(name) + " has values outside the int32 range");
  }
  return Int32Array::ensure(array.attr("astype")(py::dtype::of<int32_t>()));
}

// Owns the converted table arrays for as long as the coder borrows them.
struct Tables {
  Int32Array cdfs;
  Int32Array lengths;
  Int32Array offsets;

  Tables(py::handle cdfs_obj, py::handle lengths_obj, py::handle offsets_obj)
      : cdfs(as_int32_array(cdfs_obj, "cdfs", 2)),
        lengths(as_int32_array(lengths_obj, "cdf_lengths", 1)),
        offsets(as_int32_array(offsets_obj, "offsets", 1)) {
    const py::ssize_t num_tables = cdfs.shape(0);
    if (lengths.size() != num_tables || offsets.size() != num_tables) {
      throw rans::InvalidArgument(
          "cdf_lengths and offsets need one entry per CDF table: " + std::to_string(num_tables) +
          " tables, " + std::to_string(lengths.size()) + " lengths, " +
          std::to_string(offsets.size()) + " offsets");
    }
  }

  rans::CdfTables view() const {
    return {cdfs.data(), lengths.data(), offsets.data(), static_cast<std::size_t>(cdfs.shape(0)),
            static_cast<std::size_t>(cdfs.shape(1))};
  }
};

// A bytes-like object as a byte span; the view lives as long as the result.
py::buffer_info byte_view(const py::buffer& data) {
  py::buffer_info view = data.request();
  if (view.ndim != 1 || view.itemsize != 1 || view.strides[0] != 1) {
    throw rans::InvalidArgument("data must be a contiguous bytes-like object");
  }
  return view;
}

unsigned thread_count(int threads) {
  if (threads < 0) {
    throw rans::InvalidArgument("threads must be >= 0 (0: one per core), got " +
                                std::to_string(threads));
  }
  return static_cast<unsigned>(threads);
}

py::bytes to_bytes(const std::vector<uint8_t>& encoded) {
  return py::bytes(reinterpret_cast<const char*>(encoded.data()), encoded.size());
}

std::vector<Int32Array> int32_arrays(const py::sequence& items, const char* name) {
  std::vector<Int32Array> arrays;
  arrays.reserve(items.size());
  for (const py::handle item : items) {
    arrays.push_back(as_int32_array(item, name, 1));
  }
  return arrays;
}

py::bytes encode_with_indexes(py::handle symbols_obj, py::handle indexes_obj, py::handle cdfs,
                              py::handle cdf_lengths, py::handle offsets) {
  const Int32Array symbols = as_int32_array(symbols_obj, "symbols", 1);
  const Int32Array indexes = as_int32_array(indexes_obj, "indexes", 1);
  const Tables tables(cdfs, cdf_lengths, offsets);
  if (symbols.size() != indexes.size()) {
    throw rans::InvalidArgument(
        "symbols and indexes differ in length: " + std::to_string(symbols.size()) + " vs " +
        std::to_string(indexes.size()));
  }
  std::vector<uint8_t> encoded;
  {
    py::gil_scoped_release no_gil;
    encoded = rans::encode_with_indexes(symbols.data(), indexes.data(),
                                        static_cast<std::size_t>(symbols.size()), tables.view());
  }
  return to_bytes(encoded);
}

py::list encode_lanes_batch(const py::sequence& symbols_list, const py::sequence& indexes_list,
                            py::handle cdfs, py::handle cdf_lengths, py::handle offsets,
                            int threads) {
  const std::vector<Int32Array> symbols = int32_arrays(symbols_list, "symbols");
  const std::vector<Int32Array> indexes = int32_arrays(indexes_list, "indexes");
  const Tables tables(cdfs, cdf_lengths, offsets);
  if (symbols.size() != indexes.size()) {
    throw rans::InvalidArgument("got " + std::to_string(symbols.size()) + " symbol arrays but " +
                                std::to_string(indexes.size()) + " index arrays");
  }
  std::vector<rans::SymbolMessage> messages;
  for (std::size_t m = 0; m < symbols.size(); ++m) {
    if (symbols[m].size() != indexes[m].size()) {
      throw rans::InvalidArgument(
          "message " + std::to_string(m) + ": symbols and indexes differ in length: " +
          std::to_string(symbols[m].size()) + " vs " + std::to_string(indexes[m].size()));
    }
    messages.push_back(
        {symbols[m].data(), indexes[m].data(), static_cast<std::size_t>(symbols[m].size())});
  }
  const unsigned thread_limit = thread_count(threads);
  std::vector<std::vector<uint8_t>> encoded;
  {
    py::gil_scoped_release no_gil;
    encoded = rans::encode_lanes_batch(messages, tables.view(), thread_limit);
  }
  py::list streams;
  for (const std::vector<uint8_t>& stream : encoded) {
    streams.append(to_bytes(stream));
  }
  return streams;
}

py::list decode_lanes_batch(const py::sequence& data_list, const py::sequence& indexes_list,
                            py::handle cdfs, py::handle cdf_lengths, py::handle offsets,
                            int threads) {
  std::vector<py::buffer_info> views;
  views.reserve(data_list.size());
  for (const py::handle item : data_list) {
    if (!PyObject_CheckBuffer(item.ptr())) {
      throw rans::InvalidArgument("every stream must be a bytes-like object");
    }
    views.push_back(byte_view(py::reinterpret_borrow<py::buffer>(item)));
  }
  const std::vector<Int32Array> indexes = int32_arrays(indexes_list, "indexes");
  const Tables tables(cdfs, cdf_lengths, offsets);
  if (views.size() != indexes.size()) {
    throw rans::InvalidArgument("got " + std::to_string(views.size()) + " streams but " +
                                std::to_string(indexes.size()) + " index arrays");
  }
  std::vector<Int32Array> decoded;
  std::vector<rans::StreamMessage> messages;
  for (std::size_t m = 0; m < views.size(); ++m) {
    decoded.emplace_back(indexes[m].size());
    messages.push_back({static_cast<const uint8_t*>(views[m].ptr),
                        static_cast<std::size_t>(views[m].size), indexes[m].data(),
                        static_cast<std::size_t>(indexes[m].size()),
                        decoded.back().mutable_data()});
  }
  const unsigned thread_limit = thread_count(threads);
  {
    py::gil_scoped_release no_gil;
    rans::decode_lanes_batch(messages, tables.view(), thread_limit);
  }
  py::list out;
  for (const Int32Array& array : decoded) {
    out.append(array);
  }
  return out;
}

py::bytes encode_lanes(py::handle symbols, py::handle indexes, py::handle cdfs,
                       py::handle cdf_lengths, py::handle offsets, int threads) {
  py::list one_symbols, one_indexes;
  one_symbols.append(symbols);
  one_indexes.append(indexes);
  return encode_lanes_batch(one_symbols, one_indexes, cdfs, cdf_lengths, offsets, threads)[0];
}

py::object decode_lanes(py::handle data, py::handle indexes, py::handle cdfs,
                        py::handle cdf_lengths, py::handle offsets, int threads) {
  py::list one_data, one_indexes;
  one_data.append(data);
  one_indexes.append(indexes);
  return decode_lanes_batch(one_data, one_indexes, cdfs, cdf_lengths, offsets, threads)[0];
}

Int32Array decode_with_indexes(const py::buffer& data, py::handle indexes_obj, py::handle cdfs,
                               py::handle cdf_lengths, py::handle offsets) {
  const py::buffer_info stream = byte_view(data);
  const Int32Array indexes = as_int32_array(indexes_obj, "indexes", 1);
  const Tables tables(cdfs, cdf_lengths, offsets);
  Int32Array decoded(indexes.size());
  int32_t* out = decoded.mutable_data();
  {
    py::gil_scoped_release no_gil;
    rans::decode_with_indexes(static_cast<const uint8_t*>(stream.ptr),
                              static_cast<std::size_t>(stream.size), indexes.data(),
                              static_cast<std::size_t>(indexes.size()), tables.view(), out);
  }
  return decoded;
}

}  // namespace

PYBIND11_MODULE(_C, m) {
  m.doc() = "Native kernels of neuralcodec: the rANS entropy coder.";

  py::register_exception<rans::DecodeError>(m, "RansDecodeError", PyExc_ValueError);
  py::register_exception<rans::InvalidArgument>(m, "RansArgumentError", PyExc_ValueError);
  m.attr("CDF_PRECISION_BITS") = rans::CDF_PRECISION_BITS;
  m.attr("SYMBOLS_PER_LANE") = rans::SYMBOLS_PER_LANE;
  m.attr("MAX_LANES") = rans::MAX_LANES;
#ifdef WITH_CUDA
  m.attr("WITH_CUDA") = true;
#else
  m.attr("WITH_CUDA") = false;
#endif

  m.def("lane_count", &rans::lane_count, py::arg("symbol_count"),
        "Lanes of a multi-lane stream of symbol_count symbols (see docs/format.md).");

  m.def("encode_with_indexes", &encode_with_indexes, py::arg("symbols"), py::arg("indexes"),
        py::arg("cdfs"), py::arg("cdf_lengths"), py::arg("offsets"),
        R"doc(Entropy-code symbols[i] with CDF table indexes[i].

symbols, indexes: int32[N]; cdfs: int32[K, L], row t valid up to
cdf_lengths[t] (a CDF over 2**16 ending in an escape symbol); offsets: int32[K].
Lists and other integer dtypes are accepted when their values fit in int32.
Any int32 symbol can be coded; values outside a table's range are escaped.
Returns the stream as bytes, byte-identical to compressai.ans.RansEncoder
wherever that encoder works (it hangs once an escaped value reaches about
2**27 and crashes on tables of length 2).
Raises RansArgumentError on invalid tables, indexes or sizes.)doc");

  m.def("decode_with_indexes", &decode_with_indexes, py::arg("data"), py::arg("indexes"),
        py::arg("cdfs"), py::arg("cdf_lengths"), py::arg("offsets"),
        R"doc(Decode len(indexes) symbols from a stream made by encode_with_indexes.

data: bytes-like; indexes, cdfs, cdf_lengths, offsets as for encoding.
Returns int32[N]. Raises RansDecodeError if the stream is truncated, corrupt
or not fully consumed, RansArgumentError on invalid tables, indexes or sizes.)doc");

  m.def("encode_lanes", &encode_lanes, py::arg("symbols"), py::arg("indexes"), py::arg("cdfs"),
        py::arg("cdf_lengths"), py::arg("offsets"), py::arg("threads") = 0,
        R"doc(Entropy-code a message as a multi-lane stream (docs/format.md, Lanes).

Arguments as for encode_with_indexes; threads: 0 for one per core. Up to
SYMBOLS_PER_LANE symbols give one lane, i.e. exactly encode_with_indexes's
bytes. The output does not depend on threads.)doc");

  m.def("decode_lanes", &decode_lanes, py::arg("data"), py::arg("indexes"), py::arg("cdfs"),
        py::arg("cdf_lengths"), py::arg("offsets"), py::arg("threads") = 0,
        R"doc(Decode a stream made by encode_lanes; returns int32[len(indexes)].

Raises RansDecodeError / RansArgumentError as decode_with_indexes does.)doc");

  m.def("encode_lanes_batch", &encode_lanes_batch, py::arg("symbols"), py::arg("indexes"),
        py::arg("cdfs"), py::arg("cdf_lengths"), py::arg("offsets"), py::arg("threads") = 0,
        R"doc(encode_lanes over many messages sharing one set of tables.

symbols, indexes: sequences of equally long int32 arrays, one pair per message.
Every lane of every message is one unit of work for the threads.
Returns a list of bytes, one stream per message.)doc");

  m.def("decode_lanes_batch", &decode_lanes_batch, py::arg("data"), py::arg("indexes"),
        py::arg("cdfs"), py::arg("cdf_lengths"), py::arg("offsets"), py::arg("threads") = 0,
        R"doc(decode_lanes over many streams sharing one set of tables.

data: sequence of bytes-like streams; indexes: one int32 array per stream.
Returns a list of int32 arrays. Errors name the first bad stream and lane.)doc");

#ifdef WITH_CUDA
  m.def("decode_lanes_batch_cuda", &rans::cuda::decode_lanes_batch_cuda, py::arg("data"),
        py::arg("stream_ends"), py::arg("indexes"), py::arg("symbol_ends"), py::arg("cdfs"),
        py::arg("cdf_lengths"), py::arg("offsets"),
        R"doc(decode_lanes_batch on the current CUDA stream, one thread per lane.

data: uint8[B] the streams back to back (any device; copied to the GPU),
stream_ends: int64[S] (CPU) end of each stream in data, indexes: int32[N]
(CUDA) the index arrays back to back, symbol_ends: int64[S] (CPU) end of each
message in indexes; cdfs, cdf_lengths, offsets: int32 CUDA tensors.
Returns int32[N] on the GPU. Raises RansDecodeError / RansArgumentError.)doc");
#endif
}
