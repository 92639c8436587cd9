// Lane layout of a multi-lane rANS stream, shared by the CPU coder
// (rans_coder.cpp) and the CUDA decoder (rans_cuda.cu). Standard C++ (C++20) plus
// __host__ __device__ annotations under nvcc; no Python, no torch.
//
// A message of n symbols is split into L = lane_count(n) lanes: lane k holds
// the symbols [lane_begin(n, k), lane_begin(n, k + 1)), and each lane is one
// independent CompressAI-compatible rANS stream (see rans_coder.hpp). The
// multi-lane stream is
//
//   varint x (L - 1)   byte length of every lane but the last
//   lane 0 .. L - 1    back to back; the last lane ends where the stream ends
//
// With L == 1 there is no varint: the stream is exactly CompressAI's.
// varint: unsigned LEB128, 7 bits per byte, least significant group first,
// high bit set on every byte but the last, at most MAX_LANE_VARINT_BYTES
// bytes, minimal (no final 0x00 group after a continuation byte).
#pragma once

#include <cstddef>
#include <cstdint>

#ifdef __CUDACC__
#define RANS_HOST_DEVICE __host__ __device__
#else
#define RANS_HOST_DEVICE
#endif

namespace rans {

// Part of the format: changing either changes every large stream.
constexpr std::size_t SYMBOLS_PER_LANE = 65536;
constexpr std::size_t MAX_LANES = 32;
// 35 bits: a lane may be up to 32 GiB, far beyond any latent we code.
constexpr int MAX_LANE_VARINT_BYTES = 5;

// ceil(n / SYMBOLS_PER_LANE), at least 1, at most MAX_LANES.
RANS_HOST_DEVICE inline std::size_t lane_count(std::size_t symbol_count) {
  const std::size_t lanes =
      symbol_count / SYMBOLS_PER_LANE + (symbol_count % SYMBOLS_PER_LANE != 0);
  return lanes < 1 ? 1 : (lanes > MAX_LANES ? MAX_LANES : lanes);
}

// First symbol of lane k (k == lane_count(n) gives n). The first n mod L lanes
// hold one symbol more than the others; no lane of a non-empty message is empty.
RANS_HOST_DEVICE inline std::size_t lane_begin(std::size_t symbol_count, std::size_t lane) {
  const std::size_t lanes = lane_count(symbol_count);
  const std::size_t base = symbol_count / lanes;
  const std::size_t extra = symbol_count % lanes;
  return base * lane + (lane < extra ? lane : extra);
}

// Byte range of one lane inside a multi-lane stream.
struct LaneSpan {
  std::size_t offset;
  std::size_t size;
};

enum class LaneHeaderStatus {
  kOk = 0,
  kTruncated,   // a varint or a lane runs past the end of the stream
  kLongVarint,  // a varint longer than MAX_LANE_VARINT_BYTES
  kNonMinimal,  // a varint with a redundant final zero group
};

// Finds lane `lane` of a stream of `size` bytes holding `lanes` lanes. Reads
// at most the lane-length varints, every read bounds-checked.
RANS_HOST_DEVICE inline LaneHeaderStatus find_lane(const uint8_t* data, std::size_t size,
                                                   std::size_t lanes, std::size_t lane,
                                                   LaneSpan* span) {
  std::size_t pos = 0;
  std::size_t before = 0;  // bytes of the lanes before `lane`
  std::size_t total = 0;   // bytes of all lanes but the last
  std::size_t mine = 0;
  for (std::size_t k = 0; k + 1 < lanes; ++k) {
    uint64_t value = 0;
    int bytes = 0;
    for (;;) {
      if (pos >= size) {
        return LaneHeaderStatus::kTruncated;
      }
      if (bytes == MAX_LANE_VARINT_BYTES) {
        return LaneHeaderStatus::kLongVarint;
      }
      const uint8_t byte = data[pos++];
      value |= uint64_t{byte & 0x7fu} << (7 * bytes);
      ++bytes;
      if ((byte & 0x80u) == 0) {
        if (byte == 0 && bytes > 1) {
          return LaneHeaderStatus::kNonMinimal;
        }
        break;
      }
    }
    // Each length is at most the stream size, so the sums cannot overflow.
    if (value > size) {
      return LaneHeaderStatus::kTruncated;
    }
    if (k < lane) {
      before += static_cast<std::size_t>(value);
    }
    if (k == lane) {
      mine = static_cast<std::size_t>(value);
    }
    total += static_cast<std::size_t>(value);
    if (total > size) {
      return LaneHeaderStatus::kTruncated;
    }
  }
  if (total > size - pos) {
    return LaneHeaderStatus::kTruncated;
  }
  span->offset = pos + before;
  span->size = lane + 1 < lanes ? mine : size - pos - total;
  return LaneHeaderStatus::kOk;
}

}  // namespace rans
