// Safe rANS entropy coder, bitstream-compatible with CompressAI's
// `compressai.ans.RansEncoder` / `RansDecoder`. Standard C++ only (built as C++20
// with the extension): no Python, no torch, so it can be fuzzed on its own.
//
// Bitstream layout (a sequence of 32-bit little-endian words):
//
//   word 0, 1   final encoder state, low half then high half (64-bit rANS)
//   word 2..    renormalisation words, in the order the decoder consumes them
//
// Coder: 64-bit state kept in [STATE_LOWER_BOUND, 2^64), renormalised 32 bits
// at a time, symbol frequencies quantised to CDF_PRECISION_BITS. The encoder
// runs over the symbols backwards so that the decoder reads forwards.
//
// Symbol model: table t is `cdfs[t, 0:lengths[t]]`, a CDF with
// cdf[0] == 0, strictly increasing, cdf[lengths[t] - 1] == 2^16. It codes
// lengths[t] - 1 symbols; the last one, `escape = lengths[t] - 2`, is an
// escape. A symbol s is coded as value = s - offsets[t]; if value lies outside
// [0, escape) the escape is coded, followed by bypass chunks of
// BYPASS_CHUNK_BITS raw bits each:
//
//   raw    = value < 0 ? -2 * value - 1 : 2 * (value - escape)
//   count  = number of 4-bit chunks of raw (0 if raw == 0, top chunk != 0)
//   chunks = count, then raw's chunks from least to most significant
//
// CompressAI extends `count` with further chunks while it equals 15; raw
// never exceeds 33 bits for int32 symbols, so count <= 9 and that extension
// never occurs. The decoder rejects any count above MAX_BYPASS_CHUNKS.
//
// Lanes (lanes.hpp): encode_lanes / decode_lanes split a message into
// lane_count(n) independent streams of the layout above, framed as
//
//   varint x (L - 1)   byte length of every lane but the last
//   lane 0 .. L - 1    back to back
//
// so that threads decode the lanes at once. A message of at most
// SYMBOLS_PER_LANE symbols has one lane and no varint: its stream is
// byte-identical to encode_with_indexes. The output never depends on the
// thread count.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "lanes.hpp"

namespace rans {

constexpr int CDF_PRECISION_BITS = 16;
constexpr int BYPASS_CHUNK_BITS = 4;
constexpr uint64_t STATE_LOWER_BOUND = uint64_t{1} << 31;
// Every state the encoder reaches, its final one included, is below this (32-bit
// renormalisation keeps it in [2^31, 2^63)). A stream starting at or above it
// would be a second, non-canonical encoding of the same symbols: the decoders
// refuse it, so every accepted stream is the encoder's own output.
constexpr uint64_t STATE_UPPER_BOUND = uint64_t{1} << 63;
// Enough chunks for the largest raw value an int32 symbol can produce (33 bits).
constexpr int MAX_BYPASS_CHUNKS = 9;
constexpr std::size_t BYTES_PER_WORD = 4;

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Caller's fault: malformed tables, indexes out of range, mismatched sizes,
// a symbol that cannot be represented.
class InvalidArgument : public Error {
 public:
  using Error::Error;
};

// The bitstream is truncated, corrupt, or does not match the tables.
class DecodeError : public Error {
 public:
  using Error::Error;
};

// Borrowed view of CompressAI-style padded CDF tables; the coder never owns
// or copies them.
struct CdfTables {
  const int32_t* cdfs;     // [num_tables, max_length], row-major
  const int32_t* lengths;  // [num_tables], valid entries of each row
  const int32_t* offsets;  // [num_tables], added to decoded values
  std::size_t num_tables;
  std::size_t max_length;
};

// Encodes symbols[i] with table indexes[i], i in [0, count).
// Throws InvalidArgument on bad tables or indexes.
std::vector<uint8_t> encode_with_indexes(const int32_t* symbols, const int32_t* indexes,
                                         std::size_t count, const CdfTables& tables);

// Decodes `count` symbols with tables indexes[i] into out[0, count).
// Throws InvalidArgument on bad tables or indexes, DecodeError when the
// stream is not exactly one valid encoding for these indexes and tables.
void decode_with_indexes(const uint8_t* data, std::size_t size, const int32_t* indexes,
                         std::size_t count, const CdfTables& tables, int32_t* out);

// One message to encode: symbols[i] with table indexes[i], i in [0, count).
struct SymbolMessage {
  const int32_t* symbols;
  const int32_t* indexes;
  std::size_t count;
};

// One multi-lane stream to decode into out[0, count).
struct StreamMessage {
  const uint8_t* data;
  std::size_t size;
  const int32_t* indexes;
  std::size_t count;
  int32_t* out;
};

// threads == 0 means std::thread::hardware_concurrency(). One thread codes
// everything in the calling thread; no thread ever gets less than one lane.

// Encodes each message as a multi-lane stream, all lanes of all messages
// spread over the threads. Throws InvalidArgument as encode_with_indexes.
std::vector<std::vector<uint8_t>> encode_lanes_batch(const std::vector<SymbolMessage>& messages,
                                                     const CdfTables& tables, unsigned threads);

// Decodes each multi-lane stream. Throws InvalidArgument on bad tables or
// indexes, DecodeError naming the first bad stream (and lane) otherwise.
// On error the contents of every out buffer are unspecified.
void decode_lanes_batch(const std::vector<StreamMessage>& messages, const CdfTables& tables,
                        unsigned threads);

// A batch of one.
std::vector<uint8_t> encode_lanes(const int32_t* symbols, const int32_t* indexes, std::size_t count,
                                  const CdfTables& tables, unsigned threads);
void decode_lanes(const uint8_t* data, std::size_t size, const int32_t* indexes, std::size_t count,
                  const CdfTables& tables, int32_t* out, unsigned threads);

}  // namespace rans
