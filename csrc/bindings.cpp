// Python bindings of the native code, module `neuralcodec._C`. Only converts
// arguments and maps C++ exceptions; the coding itself lives in rans/.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <limits>
#include <string>

#include "rans/rans_coder.hpp"

namespace py = pybind11;

namespace {

using Int32Array = py::array_t<int32_t, py::array::c_style>;

// Accepts int32 arrays without copying, and any other integer array-like
// (lists, nested lists, other integer dtypes, CPU tensors) whose values fit in
// int32. Nothing is cast silently: floats or out-of-range values are rejected.
Int32Array as_int32_array(py::handle obj, const char* name, py::ssize_t ndim) {
  py::array array = py::array::ensure(obj);
  if (!array) {
    throw rans::InvalidArgument(std::string(name) +
                                " is not convertible to an integer array");
  }
  if (array.ndim() != ndim) {
    throw rans::InvalidArgument(std::string(name) + " must be " +
                                std::to_string(ndim) + "-D, got " +
                                std::to_string(array.ndim()) + "-D");
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
    throw rans::InvalidArgument(std::string(name) +
                                " has values outside the int32 range");
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
          "cdf_lengths and offsets need one entry per CDF table: " +
          std::to_string(num_tables) + " tables, " +
          std::to_string(lengths.size()) + " lengths, " +
          std::to_string(offsets.size()) + " offsets");
    }
  }

  rans::CdfTables view() const {
    return {cdfs.data(), lengths.data(), offsets.data(),
            static_cast<std::size_t>(cdfs.shape(0)),
            static_cast<std::size_t>(cdfs.shape(1))};
  }
};

py::bytes encode_with_indexes(py::handle symbols_obj, py::handle indexes_obj,
                              py::handle cdfs, py::handle cdf_lengths,
                              py::handle offsets) {
  const Int32Array symbols = as_int32_array(symbols_obj, "symbols", 1);
  const Int32Array indexes = as_int32_array(indexes_obj, "indexes", 1);
  const Tables tables(cdfs, cdf_lengths, offsets);
  if (symbols.size() != indexes.size()) {
    throw rans::InvalidArgument("symbols and indexes differ in length: " +
                                std::to_string(symbols.size()) + " vs " +
                                std::to_string(indexes.size()));
  }
  std::vector<uint8_t> encoded;
  {
    py::gil_scoped_release no_gil;
    encoded = rans::encode_with_indexes(
        symbols.data(), indexes.data(),
        static_cast<std::size_t>(symbols.size()), tables.view());
  }
  return py::bytes(reinterpret_cast<const char*>(encoded.data()),
                   encoded.size());
}

Int32Array decode_with_indexes(const py::buffer& data, py::handle indexes_obj,
                               py::handle cdfs, py::handle cdf_lengths,
                               py::handle offsets) {
  const py::buffer_info stream = data.request();
  if (stream.ndim != 1 || stream.itemsize != 1 || stream.strides[0] != 1) {
    throw rans::InvalidArgument("data must be a contiguous bytes-like object");
  }
  const Int32Array indexes = as_int32_array(indexes_obj, "indexes", 1);
  const Tables tables(cdfs, cdf_lengths, offsets);
  Int32Array decoded(indexes.size());
  int32_t* out = decoded.mutable_data();
  {
    py::gil_scoped_release no_gil;
    rans::decode_with_indexes(static_cast<const uint8_t*>(stream.ptr),
                              static_cast<std::size_t>(stream.size),
                              indexes.data(),
                              static_cast<std::size_t>(indexes.size()),
                              tables.view(), out);
  }
  return decoded;
}

}  // namespace

PYBIND11_MODULE(_C, m) {
  m.doc() = "Native kernels of neuralcodec: the rANS entropy coder.";

  py::register_exception<rans::DecodeError>(m, "RansDecodeError",
                                            PyExc_ValueError);
  py::register_exception<rans::InvalidArgument>(m, "RansArgumentError",
                                                PyExc_ValueError);
  m.attr("CDF_PRECISION_BITS") = rans::CDF_PRECISION_BITS;

  m.def("encode_with_indexes", &encode_with_indexes, py::arg("symbols"),
        py::arg("indexes"), py::arg("cdfs"), py::arg("cdf_lengths"),
        py::arg("offsets"),
        R"doc(Entropy-code symbols[i] with CDF table indexes[i].

symbols, indexes: int32[N]; cdfs: int32[K, L], row t valid up to
cdf_lengths[t] (a CDF over 2**16 ending in an escape symbol); offsets: int32[K].
Lists and other integer dtypes are accepted when their values fit in int32.
Any int32 symbol can be coded; values outside a table's range are escaped.
Returns the stream as bytes, byte-identical to compressai.ans.RansEncoder
wherever that encoder works (it hangs once an escaped value reaches about
2**27 and crashes on tables of length 2).
Raises RansArgumentError on invalid tables, indexes or sizes.)doc");

  m.def("decode_with_indexes", &decode_with_indexes, py::arg("data"),
        py::arg("indexes"), py::arg("cdfs"), py::arg("cdf_lengths"),
        py::arg("offsets"),
        R"doc(Decode len(indexes) symbols from a stream made by encode_with_indexes.

data: bytes-like; indexes, cdfs, cdf_lengths, offsets as for encoding.
Returns int32[N]. Raises RansDecodeError if the stream is truncated, corrupt
or not fully consumed, RansArgumentError on invalid tables, indexes or sizes.)doc");
}
