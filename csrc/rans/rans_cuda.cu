// GPU decoder of multi-lane rANS streams; see rans_cuda.hpp. The arithmetic,
// the checks and their order mirror Decoder / decode_checked in
// rans_coder.cpp; a kernel cannot throw, so each lane writes a status code
// that the host turns into the same exceptions.
#include "rans_cuda.hpp"

// c10's stream header rather than ATen/cuda/CUDAContext.h, which pulls in the
// cuSPARSE/cuBLAS headers that a bare nvcc toolkit does not ship.
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <cstdint>
#include <string>
#include <vector>

#include "lanes.hpp"
#include "rans_coder.hpp"

namespace rans {
namespace cuda {
namespace {

constexpr int THREADS_PER_BLOCK = 128;
constexpr int32_t CDF_TOTAL = int32_t{1} << CDF_PRECISION_BITS;
constexpr uint32_t BYPASS_MASK = (1u << BYPASS_CHUNK_BITS) - 1;

// Per-lane outcome; kBadIndex and kBadTable are the caller's fault.
enum Status : int32_t {
  kOk = 0,
  kHeaderTruncated,
  kHeaderLongVarint,
  kHeaderNonMinimal,
  kLaneNotWords,
  kLaneTooShort,
  kImpossibleState,
  kTruncated,
  kTooManyChunks,
  kLeadingZero,
  kOutsideInt32,
  kUnreadBytes,
  kWrongFinalState,
  kBadIndex,
  kBadTable,
};

const char* status_message(int32_t status) {
  switch (status) {
    case kHeaderTruncated:
      return "lane lengths run past the end of the stream (truncated)";
    case kHeaderLongVarint:
      return "a lane length varint is too long";
    case kHeaderNonMinimal:
      return "a lane length varint is not minimal";
    case kLaneNotWords:
      return "rANS stream length is not a multiple of 4 bytes";
    case kLaneTooShort:
      return "rANS stream is shorter than its 8-byte state";
    case kImpossibleState:
      return "rANS stream starts with an impossible state";
    case kTruncated:
      return "rANS stream is truncated";
    case kTooManyChunks:
      return "rANS bypass value has more chunks than any int32 symbol needs";
    case kLeadingZero:
      return "rANS bypass value has a leading zero chunk";
    case kOutsideInt32:
      return "rANS stream decodes to a symbol outside int32";
    case kUnreadBytes:
      return "rANS stream has unread bytes after the last symbol";
    case kWrongFinalState:
      return "rANS stream ends in a wrong state (corrupt data)";
    case kBadIndex:
      return "an index is outside the CDF tables";
    case kBadTable:
      return "an index uses an invalid CDF table";
    default:
      return "unknown error";
  }
}

// Same rules as check_used_tables, for every table: the decode kernel only
// fails on a bad table that an index actually uses.
__global__ void check_tables_kernel(const int32_t* cdfs, const int32_t* lengths, int64_t num_tables,
                                    int64_t max_length, uint8_t* table_ok) {
  const int64_t t = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (t >= num_tables) {
    return;
  }
  const int32_t length = lengths[t];
  bool ok = length >= 2 && length <= max_length;
  if (ok) {
    const int32_t* cdf = cdfs + t * max_length;
    ok = cdf[0] == 0 && cdf[length - 1] == CDF_TOTAL;
    for (int32_t j = 1; ok && j < length; ++j) {
      ok = cdf[j] > cdf[j - 1];
    }
  }
  table_ok[t] = ok ? 1 : 0;
}

struct LaneReader {
  const uint8_t* next;
  const uint8_t* end;
  uint64_t state;

  __device__ bool read_word(uint32_t* word) {
    if (end - next < static_cast<std::ptrdiff_t>(BYTES_PER_WORD)) {
      return false;
    }
    *word = uint32_t{next[0]} | uint32_t{next[1]} << 8 | uint32_t{next[2]} << 16 |
            uint32_t{next[3]} << 24;
    next += BYTES_PER_WORD;
    return true;
  }

  // Decoder::advance; false when the stream is truncated.
  __device__ bool advance(uint32_t start, uint32_t freq, int scale_bits) {
    const uint32_t low = static_cast<uint32_t>(state) & ((1u << scale_bits) - 1);
    state = freq * (state >> scale_bits) + low - start;
    if (state < STATE_LOWER_BOUND) {
      uint32_t word;
      if (!read_word(&word)) {
        return false;
      }
      state = (state << 32) | word;
    }
    return true;
  }

  __device__ bool bypass_chunk(uint32_t* chunk) {
    *chunk = static_cast<uint32_t>(state) & BYPASS_MASK;
    return advance(*chunk, 1, BYPASS_CHUNK_BITS);
  }
};

// unit u decodes lane meta[u].lane of the message whose stream is
// data[stream_begin, stream_end) and whose indexes are
// indexes[symbol_begin, symbol_end).
struct UnitMeta {
  int64_t stream_begin;
  int64_t stream_end;
  int64_t symbol_begin;
  int64_t symbol_end;
  int64_t lane;
};

__device__ int32_t decode_lane(const uint8_t* data, const UnitMeta& unit, const int32_t* indexes,
                               const int32_t* cdfs, const int32_t* lengths, const int32_t* offsets,
                               const uint8_t* table_ok, int64_t num_tables, int64_t max_length,
                               int32_t* out) {
  const std::size_t count = unit.symbol_end - unit.symbol_begin;
  const std::size_t lanes = lane_count(count);
  const std::size_t lane = unit.lane;
  LaneSpan span{};
  switch (find_lane(data + unit.stream_begin, unit.stream_end - unit.stream_begin, lanes, lane,
                    &span)) {
    case LaneHeaderStatus::kOk:
      break;
    case LaneHeaderStatus::kTruncated:
      return kHeaderTruncated;
    case LaneHeaderStatus::kLongVarint:
      return kHeaderLongVarint;
    case LaneHeaderStatus::kNonMinimal:
      return kHeaderNonMinimal;
  }
  if (span.size % BYTES_PER_WORD != 0) {
    return kLaneNotWords;
  }
  if (span.size < 2 * BYTES_PER_WORD) {
    return kLaneTooShort;
  }
  LaneReader reader{data + unit.stream_begin + span.offset,
                    data + unit.stream_begin + span.offset + span.size, 0};
  uint32_t low_word, high_word;
  reader.read_word(&low_word);
  reader.read_word(&high_word);
  reader.state = low_word | uint64_t{high_word} << 32;
  if (reader.state < STATE_LOWER_BOUND || reader.state >= STATE_UPPER_BOUND) {
    return kImpossibleState;
  }

  const int64_t begin = unit.symbol_begin + lane_begin(count, lane);
  const int64_t end = unit.symbol_begin + lane_begin(count, lane + 1);
  for (int64_t i = begin; i < end; ++i) {
    const int32_t t = indexes[i];
    if (t < 0 || t >= num_tables) {
      return kBadIndex;
    }
    if (!table_ok[t]) {
      return kBadTable;
    }
    const int32_t* cdf = cdfs + t * max_length;
    const int32_t escape = lengths[t] - 2;
    const int32_t target = static_cast<int32_t>(reader.state & (CDF_TOTAL - 1));
    // Largest s with cdf[s] <= target; cdf[escape + 1] == 2^16 > target.
    int32_t s = 0;
    int32_t above = escape + 1;
    while (above - s > 1) {
      const int32_t mid = (s + above) / 2;
      if (cdf[mid] <= target) {
        s = mid;
      } else {
        above = mid;
      }
    }
    if (!reader.advance(cdf[s], cdf[s + 1] - cdf[s], CDF_PRECISION_BITS)) {
      return kTruncated;
    }
    int64_t value = s;
    if (s == escape) {
      uint32_t chunks;
      if (!reader.bypass_chunk(&chunks)) {
        return kTruncated;
      }
      if (chunks > static_cast<uint32_t>(MAX_BYPASS_CHUNKS)) {
        return kTooManyChunks;
      }
      uint64_t raw = 0;
      uint32_t chunk = 0;
      for (uint32_t j = 0; j < chunks; ++j) {
        if (!reader.bypass_chunk(&chunk)) {
          return kTruncated;
        }
        raw |= uint64_t{chunk} << (j * BYPASS_CHUNK_BITS);
      }
      if (chunks > 0 && chunk == 0) {
        return kLeadingZero;
      }
      const int64_t half = static_cast<int64_t>(raw >> 1);
      value = (raw & 1) ? -half - 1 : half + escape;
    }
    const int64_t symbol = value + offsets[t];
    if (symbol < INT32_MIN || symbol > INT32_MAX) {
      return kOutsideInt32;
    }
    out[i] = static_cast<int32_t>(symbol);
  }
  if (reader.next != reader.end) {
    return kUnreadBytes;
  }
  if (reader.state != STATE_LOWER_BOUND) {
    return kWrongFinalState;
  }
  return kOk;
}

__global__ void decode_lanes_kernel(const uint8_t* data, const UnitMeta* units, int64_t num_units,
                                    const int32_t* indexes, const int32_t* cdfs,
                                    const int32_t* lengths, const int32_t* offsets,
                                    const uint8_t* table_ok, int64_t num_tables, int64_t max_length,
                                    int32_t* out, int32_t* status) {
  const int64_t u = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (u >= num_units) {
    return;
  }
  status[u] = decode_lane(data, units[u], indexes, cdfs, lengths, offsets, table_ok, num_tables,
                          max_length, out);
}

void expect(bool condition, const std::string& problem) {
  if (!condition) {
    throw InvalidArgument(problem);
  }
}

void expect_int32_cuda(const at::Tensor& tensor, const char* name, int64_t dim,
                       const at::Device& device) {
  expect(tensor.device() == device, std::string(name) + " must be on " + device.str());
  expect(tensor.scalar_type() == at::kInt, std::string(name) + " must be int32");
  expect(tensor.dim() == dim, std::string(name) + " must be " + std::to_string(dim) + "-D");
}

// Host copy of an int64[S] CPU tensor of non-decreasing ends within limit.
std::vector<int64_t> ends_of(const at::Tensor& ends, const char* name, int64_t limit) {
  expect(ends.device().is_cpu() && ends.scalar_type() == at::kLong && ends.dim() == 1,
         std::string(name) + " must be a 1-D int64 CPU tensor");
  const at::Tensor contiguous = ends.contiguous();
  std::vector<int64_t> values(contiguous.data_ptr<int64_t>(),
                              contiguous.data_ptr<int64_t>() + contiguous.numel());
  int64_t previous = 0;
  for (const int64_t end : values) {
    expect(end >= previous && end <= limit, std::string(name) +
                                                " must be non-decreasing and within [0, " +
                                                std::to_string(limit) + "]");
    previous = end;
  }
  expect(values.empty() || values.back() == limit,
         std::string(name) + " must end at " + std::to_string(limit));
  return values;
}

}  // namespace

at::Tensor decode_lanes_batch_cuda(const at::Tensor& data, const at::Tensor& stream_ends,
                                   const at::Tensor& indexes, const at::Tensor& symbol_ends,
                                   const at::Tensor& cdfs, const at::Tensor& cdf_lengths,
                                   const at::Tensor& offsets) {
  expect(indexes.is_cuda(), "indexes must be a CUDA tensor");
  const at::Device device = indexes.device();
  expect_int32_cuda(indexes, "indexes", 1, device);
  expect_int32_cuda(cdfs, "cdfs", 2, device);
  expect_int32_cuda(cdf_lengths, "cdf_lengths", 1, device);
  expect_int32_cuda(offsets, "offsets", 1, device);
  expect(data.scalar_type() == at::kByte && data.dim() == 1, "data must be a 1-D uint8 tensor");
  const int64_t num_tables = cdfs.size(0);
  const int64_t max_length = cdfs.size(1);
  expect(cdf_lengths.numel() == num_tables && offsets.numel() == num_tables,
         "cdf_lengths and offsets need one entry per CDF table");
  const std::vector<int64_t> byte_ends = ends_of(stream_ends, "stream_ends", data.numel());
  const std::vector<int64_t> message_ends = ends_of(symbol_ends, "symbol_ends", indexes.numel());
  expect(byte_ends.size() == message_ends.size(), "stream_ends and symbol_ends differ in length");

  std::vector<UnitMeta> units;
  std::vector<std::size_t> unit_message;
  for (std::size_t m = 0; m < byte_ends.size(); ++m) {
    const int64_t stream_begin = m == 0 ? 0 : byte_ends[m - 1];
    const int64_t symbol_begin = m == 0 ? 0 : message_ends[m - 1];
    const std::size_t lanes = lane_count(message_ends[m] - symbol_begin);
    for (std::size_t k = 0; k < lanes; ++k) {
      units.push_back(
          {stream_begin, byte_ends[m], symbol_begin, message_ends[m], static_cast<int64_t>(k)});
      unit_message.push_back(m);
    }
  }

  const c10::cuda::CUDAGuard guard(device);
  at::Tensor out = at::empty({indexes.numel()}, indexes.options());
  if (units.empty()) {
    return out;
  }
  const auto on_device = at::TensorOptions().device(device);
  const at::Tensor indexes_c = indexes.contiguous();
  const at::Tensor cdfs_c = cdfs.contiguous();
  const at::Tensor lengths_c = cdf_lengths.contiguous();
  const at::Tensor offsets_c = offsets.contiguous();
  const at::Tensor data_d = data.contiguous().to(device);
  const at::Tensor units_d =
      at::from_blob(units.data(), {static_cast<int64_t>(units.size() * sizeof(UnitMeta))},
                    at::TensorOptions().dtype(at::kByte))
          .to(device);
  at::Tensor table_ok = at::zeros({num_tables}, on_device.dtype(at::kByte));
  at::Tensor status = at::zeros({static_cast<int64_t>(units.size())}, on_device.dtype(at::kInt));

  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  if (num_tables > 0) {
    const int64_t blocks = (num_tables + THREADS_PER_BLOCK - 1) / THREADS_PER_BLOCK;
    check_tables_kernel<<<blocks, THREADS_PER_BLOCK, 0, stream>>>(
        cdfs_c.data_ptr<int32_t>(), lengths_c.data_ptr<int32_t>(), num_tables, max_length,
        table_ok.data_ptr<uint8_t>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  }
  const int64_t num_units = static_cast<int64_t>(units.size());
  const int64_t blocks = (num_units + THREADS_PER_BLOCK - 1) / THREADS_PER_BLOCK;
  decode_lanes_kernel<<<blocks, THREADS_PER_BLOCK, 0, stream>>>(
      data_d.data_ptr<uint8_t>(), reinterpret_cast<const UnitMeta*>(units_d.data_ptr<uint8_t>()),
      num_units, indexes_c.data_ptr<int32_t>(), cdfs_c.data_ptr<int32_t>(),
      lengths_c.data_ptr<int32_t>(), offsets_c.data_ptr<int32_t>(), table_ok.data_ptr<uint8_t>(),
      num_tables, max_length, out.data_ptr<int32_t>(), status.data_ptr<int32_t>());
  C10_CUDA_KERNEL_LAUNCH_CHECK();

  // The copy waits for the kernels; their arguments stay alive until then.
  const at::Tensor status_h = status.cpu();
  const int32_t* codes = status_h.data_ptr<int32_t>();
  for (int64_t u = 0; u < num_units; ++u) {
    if (codes[u] == kBadIndex || codes[u] == kBadTable) {
      throw InvalidArgument(status_message(codes[u]));
    }
  }
  for (int64_t u = 0; u < num_units; ++u) {
    if (codes[u] != kOk) {
      throw DecodeError("stream " + std::to_string(unit_message[u]) + ", lane " +
                        std::to_string(units[u].lane) + ": " + status_message(codes[u]));
    }
  }
  return out;
}

}  // namespace cuda
}  // namespace rans
