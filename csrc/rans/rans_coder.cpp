#include "rans_coder.hpp"

#include <atomic>
#include <exception>
#include <limits>
#include <string>
#include <system_error>
#include <thread>
#include <utility>

namespace rans {
namespace {

constexpr int32_t CDF_TOTAL = int32_t{1} << CDF_PRECISION_BITS;
constexpr uint32_t BYPASS_CHUNK_MASK = (1u << BYPASS_CHUNK_BITS) - 1;

// A bypass chunk is a symbol of frequency 1 out of 2^BYPASS_CHUNK_BITS.
constexpr uint32_t BYPASS_FREQ = 1;

static_assert(MAX_BYPASS_CHUNKS < static_cast<int>(BYPASS_CHUNK_MASK),
              "the bypass chunk count must fit in a single chunk");

const int32_t* cdf_row(const CdfTables& tables, int32_t t) {
  return tables.cdfs + static_cast<std::size_t>(t) * tables.max_length;
}

// Checks indexes[0, count) and marks the tables they use.
void mark_used_tables(const int32_t* indexes, std::size_t count, const CdfTables& tables,
                      std::vector<bool>& used) {
  for (std::size_t i = 0; i < count; ++i) {
    const int32_t t = indexes[i];
    if (t < 0 || static_cast<std::size_t>(t) >= tables.num_tables) {
      throw InvalidArgument("index " + std::to_string(t) + " at position " + std::to_string(i) +
                            " is outside [0, " + std::to_string(tables.num_tables) + ")");
    }
    used[t] = true;
  }
}

// Checks every marked table; returns the used tables.
std::vector<int32_t> check_used_tables(const std::vector<bool>& used, const CdfTables& tables) {
  std::vector<int32_t> used_tables;
  for (std::size_t t = 0; t < tables.num_tables; ++t) {
    if (used[t]) {
      used_tables.push_back(static_cast<int32_t>(t));
    }
  }
  for (const int32_t t : used_tables) {
    const auto fail = [t](const std::string& problem) {
      return InvalidArgument("CDF table " + std::to_string(t) + " " + problem);
    };
    const int32_t length = tables.lengths[t];
    if (length < 2 || static_cast<std::size_t>(length) > tables.max_length) {
      throw fail("has length " + std::to_string(length) + ", outside [2, " +
                 std::to_string(tables.max_length) + "]");
    }
    const int32_t* cdf = cdf_row(tables, t);
    if (cdf[0] != 0) {
      throw fail("does not start at 0");
    }
    for (int32_t j = 1; j < length; ++j) {
      if (cdf[j] <= cdf[j - 1]) {
        throw fail("is not strictly increasing at entry " + std::to_string(j));
      }
    }
    if (cdf[length - 1] != CDF_TOTAL) {
      throw fail("does not end at 2^" + std::to_string(CDF_PRECISION_BITS));
    }
  }
  return used_tables;
}

// Checks every index and every table an index uses; returns the used tables.
std::vector<int32_t> check_tables(const int32_t* indexes, std::size_t count,
                                  const CdfTables& tables) {
  std::vector<bool> used(tables.num_tables, false);
  mark_used_tables(indexes, count, tables, used);
  return check_used_tables(used, tables);
}

class Encoder {
 public:
  // Codes the interval [start, start + freq) of a distribution over
  // 2^ScaleBits, emitting one word first if the state would overflow.
  template <int ScaleBits>
  void put(uint32_t start, uint32_t freq) {
    const uint64_t limit = ((STATE_LOWER_BOUND >> ScaleBits) << 32) * freq;
    if (state_ >= limit) {
      words_.push_back(static_cast<uint32_t>(state_));
      state_ >>= 32;
    }
    state_ = ((state_ / freq) << ScaleBits) + state_ % freq + start;
  }

  // The decoder consumes words in reverse order of emission, after the state.
  std::vector<uint8_t> finish() const {
    std::vector<uint8_t> out((words_.size() + 2) * BYTES_PER_WORD);
    uint8_t* p = out.data();
    p = write_word(p, static_cast<uint32_t>(state_));
    p = write_word(p, static_cast<uint32_t>(state_ >> 32));
    for (auto it = words_.rbegin(); it != words_.rend(); ++it) {
      p = write_word(p, *it);
    }
    return out;
  }

 private:
  static uint8_t* write_word(uint8_t* p, uint32_t word) {
    for (std::size_t k = 0; k < BYTES_PER_WORD; ++k) {
      p[k] = static_cast<uint8_t>(word >> (8 * k));
    }
    return p + BYTES_PER_WORD;
  }

  uint64_t state_ = STATE_LOWER_BOUND;
  std::vector<uint32_t> words_;
};

class Decoder {
 public:
  Decoder(const uint8_t* data, std::size_t size) : next_(data), end_(data + size) {
    if (size % BYTES_PER_WORD != 0) {
      throw DecodeError("rANS stream length " + std::to_string(size) +
                        " is not a multiple of 4 bytes");
    }
    if (size < 2 * BYTES_PER_WORD) {
      throw DecodeError("rANS stream of " + std::to_string(size) +
                        " bytes is shorter than its 8-byte state");
    }
    const uint64_t low = read_word();
    state_ = low | (uint64_t{read_word()} << 32);
    if (state_ < STATE_LOWER_BOUND || state_ >= STATE_UPPER_BOUND) {
      throw DecodeError("rANS stream starts with an impossible state");
    }
  }

  template <int ScaleBits>
  uint32_t peek() const {
    return static_cast<uint32_t>(state_) & ((1u << ScaleBits) - 1);
  }

  // Inverse of Encoder::put. The state stays >= 2^15 here for any input, so
  // one word always brings it back above STATE_LOWER_BOUND.
  template <int ScaleBits>
  void advance(uint32_t start, uint32_t freq) {
    state_ = freq * (state_ >> ScaleBits) + peek<ScaleBits>() - start;
    if (state_ < STATE_LOWER_BOUND) {
      state_ = (state_ << 32) | read_word();
    }
  }

  uint32_t get_bypass_chunk() {
    const uint32_t chunk = peek<BYPASS_CHUNK_BITS>();
    advance<BYPASS_CHUNK_BITS>(chunk, BYPASS_FREQ);
    return chunk;
  }

  // A valid stream ends exactly where the encoder started: initial state,
  // every word consumed. Most corruption breaks one of the two.
  void finish() const {
    if (next_ != end_) {
      throw DecodeError("rANS stream has " + std::to_string(end_ - next_) +
                        " unread bytes after the last symbol");
    }
    if (state_ != STATE_LOWER_BOUND) {
      throw DecodeError("rANS stream ends in a wrong state (corrupt data)");
    }
  }

 private:
  uint32_t read_word() {
    if (static_cast<std::size_t>(end_ - next_) < BYTES_PER_WORD) {
      throw DecodeError("rANS stream is truncated");
    }
    uint32_t word = 0;
    for (std::size_t k = 0; k < BYTES_PER_WORD; ++k) {
      word |= uint32_t{next_[k]} << (8 * k);
    }
    next_ += BYTES_PER_WORD;
    return word;
  }

  const uint8_t* next_;
  const uint8_t* end_;
  uint64_t state_ = 0;
};

// Maps a cumulative frequency back to its symbol. A coarse inverse CDF per
// table narrows the search to the few symbols of one bucket of 2^BUCKET_SHIFT
// frequencies; a plain binary search over long tables (Gaussian CDFs reach
// thousands of entries) made decoding several times slower than encoding.
class SymbolFinder {
 public:
  SymbolFinder(const CdfTables& tables, const std::vector<int32_t>& used_tables)
      : tables_(tables), bucket_first_(tables.num_tables * (BUCKETS + 1)) {
    for (const int32_t t : used_tables) {
      const int32_t* cdf = cdf_row(tables, t);
      uint16_t* first = first_symbols(t);
      int32_t s = 0;
      for (int32_t b = 0; b < BUCKETS; ++b) {
        while (cdf[s + 1] <= (b << BUCKET_SHIFT)) {
          ++s;
        }
        first[b] = static_cast<uint16_t>(s);
      }
      first[BUCKETS] = static_cast<uint16_t>(tables.lengths[t] - 2);
    }
  }

  // The symbol s of table t with cdf[s] <= target < cdf[s + 1].
  int32_t find(int32_t t, int32_t target) const {
    const int32_t* cdf = cdf_row(tables_, t);
    const uint16_t* bucket = first_symbols(t) + (target >> BUCKET_SHIFT);
    // The answer lies in [bucket[0], bucket[1]]. Branch-free binary search:
    // decoded symbols are data-dependent, so branches would mispredict.
    const int32_t* first = cdf + bucket[0];  // invariant: first[0] <= target
    int32_t candidates = bucket[1] - bucket[0] + 1;
    while (candidates > 1) {
      const int32_t half = candidates / 2;
      first = first[half] <= target ? first + half : first;
      candidates -= half;
    }
    return static_cast<int32_t>(first - cdf);
  }

 private:
  static constexpr int BUCKET_SHIFT = 8;
  static constexpr int32_t BUCKETS = CDF_TOTAL >> BUCKET_SHIFT;

  // A strictly increasing CDF over 2^16 has at most 2^16 symbols: uint16 fits.
  uint16_t* first_symbols(int32_t t) {
    return bucket_first_.data() + static_cast<std::size_t>(t) * (BUCKETS + 1);
  }
  const uint16_t* first_symbols(int32_t t) const {
    return bucket_first_.data() + static_cast<std::size_t>(t) * (BUCKETS + 1);
  }

  const CdfTables& tables_;
  // Per table: first_symbols(t)[b] is the symbol holding frequency
  // b << BUCKET_SHIFT; entry BUCKETS is the escape symbol.
  std::vector<uint16_t> bucket_first_;
};

// Number of bypass chunks needed for `raw`, with a non-zero top chunk.
int bypass_chunk_count(uint64_t raw) {
  int chunks = 0;
  while ((raw >> (chunks * BYPASS_CHUNK_BITS)) != 0) {
    ++chunks;
  }
  return chunks;
}

// Inverse of the escape mapping in encode_with_indexes; see the header.
int64_t read_escaped_value(Decoder& decoder, int32_t escape) {
  const uint32_t chunks = decoder.get_bypass_chunk();
  if (chunks > static_cast<uint32_t>(MAX_BYPASS_CHUNKS)) {
    throw DecodeError("rANS bypass value has " + std::to_string(chunks) +
                      " chunks, more than any int32 symbol needs");
  }
  uint64_t raw = 0;
  uint32_t chunk = 0;
  for (uint32_t j = 0; j < chunks; ++j) {
    chunk = decoder.get_bypass_chunk();
    raw |= uint64_t{chunk} << (j * BYPASS_CHUNK_BITS);
  }
  if (chunks > 0 && chunk == 0) {
    throw DecodeError("rANS bypass value has a leading zero chunk");
  }
  const int64_t half = static_cast<int64_t>(raw >> 1);
  return (raw & 1) ? -half - 1 : half + escape;
}

// encode_with_indexes for checked indexes and tables.
std::vector<uint8_t> encode_checked(const int32_t* symbols, const int32_t* indexes,
                                    std::size_t count, const CdfTables& tables) {
  Encoder encoder;
  for (std::size_t i = count; i-- > 0;) {
    const int32_t t = indexes[i];
    const int32_t* cdf = cdf_row(tables, t);
    const int32_t escape = tables.lengths[t] - 2;
    // 64-bit so that no int32 symbol/offset pair can overflow.
    int64_t value = int64_t{symbols[i]} - tables.offsets[t];
    if (value < 0 || value >= escape) {
      const uint64_t raw = value < 0 ? static_cast<uint64_t>(-2 * value - 1)
                                     : static_cast<uint64_t>(2 * (value - escape));
      const int chunks = bypass_chunk_count(raw);
      for (int j = chunks - 1; j >= 0; --j) {
        const uint32_t chunk =
            static_cast<uint32_t>(raw >> (j * BYPASS_CHUNK_BITS)) & BYPASS_CHUNK_MASK;
        encoder.put<BYPASS_CHUNK_BITS>(chunk, BYPASS_FREQ);
      }
      encoder.put<BYPASS_CHUNK_BITS>(static_cast<uint32_t>(chunks), BYPASS_FREQ);
      value = escape;
    }
    encoder.put<CDF_PRECISION_BITS>(static_cast<uint32_t>(cdf[value]),
                                    static_cast<uint32_t>(cdf[value + 1] - cdf[value]));
  }
  return encoder.finish();
}

// decode_with_indexes for checked indexes and tables.
void decode_checked(const uint8_t* data, std::size_t size, const int32_t* indexes,
                    std::size_t count, const CdfTables& tables, const SymbolFinder& finder,
                    int32_t* out) {
  Decoder decoder(data, size);
  for (std::size_t i = 0; i < count; ++i) {
    const int32_t t = indexes[i];
    const int32_t* cdf = cdf_row(tables, t);
    const int32_t escape = tables.lengths[t] - 2;

    const int32_t s = finder.find(t, static_cast<int32_t>(decoder.peek<CDF_PRECISION_BITS>()));
    decoder.advance<CDF_PRECISION_BITS>(static_cast<uint32_t>(cdf[s]),
                                        static_cast<uint32_t>(cdf[s + 1] - cdf[s]));

    const int64_t value = s == escape ? read_escaped_value(decoder, escape) : s;
    const int64_t symbol = value + tables.offsets[t];
    if (symbol < std::numeric_limits<int32_t>::min() ||
        symbol > std::numeric_limits<int32_t>::max()) {
      throw DecodeError("rANS stream decodes to a symbol outside int32");
    }
    out[i] = static_cast<int32_t>(symbol);
  }
  decoder.finish();
}

unsigned effective_threads(unsigned requested, std::size_t units) {
  unsigned threads = requested != 0 ? requested : std::thread::hardware_concurrency();
  if (threads == 0) {
    threads = 1;
  }
  return units < threads ? static_cast<unsigned>(units) : threads;
}

// Runs work(u) for every u in [0, units) on up to `threads` threads. When
// several units throw, the lowest unit's exception is rethrown, so errors do
// not depend on the thread count or on scheduling.
template <typename Work>
void run_units(std::size_t units, unsigned threads, const Work& work) {
  threads = effective_threads(threads, units);
  if (threads <= 1) {
    for (std::size_t u = 0; u < units; ++u) {
      work(u);
    }
    return;
  }
  std::atomic<std::size_t> next{0};
  std::vector<std::exception_ptr> errors(units);
  const auto drain = [&] {
    for (std::size_t u; (u = next.fetch_add(1)) < units;) {
      try {
        work(u);
      } catch (...) {
        errors[u] = std::current_exception();
      }
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(threads - 1);
  for (unsigned j = 1; j < threads; ++j) {
    try {
      pool.emplace_back(drain);
    } catch (const std::system_error&) {
      break;  // fewer threads than asked for: the others share the work
    }
  }
  drain();
  for (std::thread& thread : pool) {
    thread.join();
  }
  for (const std::exception_ptr& error : errors) {
    if (error) {
      std::rethrow_exception(error);
    }
  }
}

// Unit u of a batch: lane `lane` of message `message`.
struct LaneUnit {
  std::size_t message;
  std::size_t lane;
};

template <typename Message>
std::vector<LaneUnit> lane_units(const std::vector<Message>& messages) {
  std::vector<LaneUnit> units;
  for (std::size_t m = 0; m < messages.size(); ++m) {
    const std::size_t lanes = lane_count(messages[m].count);
    for (std::size_t k = 0; k < lanes; ++k) {
      units.push_back({m, k});
    }
  }
  return units;
}

template <typename Message>
std::vector<int32_t> check_batch_tables(const std::vector<Message>& messages,
                                        const CdfTables& tables) {
  std::vector<bool> used(tables.num_tables, false);
  for (std::size_t m = 0; m < messages.size(); ++m) {
    try {
      mark_used_tables(messages[m].indexes, messages[m].count, tables, used);
    } catch (const InvalidArgument& error) {
      throw messages.size() == 1
          ? error
          : InvalidArgument("message " + std::to_string(m) + ": " + error.what());
    }
  }
  return check_used_tables(used, tables);
}

std::string lane_header_problem(LaneHeaderStatus status) {
  switch (status) {
    case LaneHeaderStatus::kTruncated:
      return "lane lengths run past the end of the stream (truncated)";
    case LaneHeaderStatus::kLongVarint:
      return "a lane length varint is longer than " + std::to_string(MAX_LANE_VARINT_BYTES) +
             " bytes";
    case LaneHeaderStatus::kNonMinimal:
      return "a lane length varint is not minimal";
    case LaneHeaderStatus::kOk:
      break;
  }
  return "ok";
}

}  // namespace

std::vector<uint8_t> encode_with_indexes(const int32_t* symbols, const int32_t* indexes,
                                         std::size_t count, const CdfTables& tables) {
  check_tables(indexes, count, tables);
  return encode_checked(symbols, indexes, count, tables);
}

void decode_with_indexes(const uint8_t* data, std::size_t size, const int32_t* indexes,
                         std::size_t count, const CdfTables& tables, int32_t* out) {
  const SymbolFinder finder(tables, check_tables(indexes, count, tables));
  decode_checked(data, size, indexes, count, tables, finder, out);
}

std::vector<std::vector<uint8_t>> encode_lanes_batch(const std::vector<SymbolMessage>& messages,
                                                     const CdfTables& tables, unsigned threads) {
  check_batch_tables(messages, tables);
  const std::vector<LaneUnit> units = lane_units(messages);
  std::vector<std::vector<uint8_t>> lanes(units.size());
  run_units(units.size(), threads, [&](std::size_t u) {
    const SymbolMessage& message = messages[units[u].message];
    const std::size_t begin = lane_begin(message.count, units[u].lane);
    const std::size_t end = lane_begin(message.count, units[u].lane + 1);
    lanes[u] =
        encode_checked(message.symbols + begin, message.indexes + begin, end - begin, tables);
  });

  std::vector<std::vector<uint8_t>> streams(messages.size());
  for (std::size_t u = 0; u < units.size();) {
    const std::size_t lane_total = lane_count(messages[units[u].message].count);
    std::vector<uint8_t>& stream = streams[units[u].message];
    for (std::size_t k = 0; k + 1 < lane_total; ++k) {
      for (std::size_t value = lanes[u + k].size();; value >>= 7) {
        if (value < 0x80) {
          stream.push_back(static_cast<uint8_t>(value));
          break;
        }
        stream.push_back(static_cast<uint8_t>(0x80 | (value & 0x7f)));
      }
    }
    for (std::size_t k = 0; k < lane_total; ++k, ++u) {
      stream.insert(stream.end(), lanes[u].begin(), lanes[u].end());
    }
  }
  return streams;
}

void decode_lanes_batch(const std::vector<StreamMessage>& messages, const CdfTables& tables,
                        unsigned threads) {
  const SymbolFinder finder(tables, check_batch_tables(messages, tables));
  const std::vector<LaneUnit> units = lane_units(messages);
  run_units(units.size(), threads, [&](std::size_t u) {
    const StreamMessage& message = messages[units[u].message];
    const std::size_t lanes = lane_count(message.count);
    const std::size_t lane = units[u].lane;
    const auto where = [&] {
      std::string prefix;
      if (messages.size() > 1) {
        prefix += "stream " + std::to_string(units[u].message) + ", ";
      }
      if (lanes > 1) {
        prefix += "lane " + std::to_string(lane) + " of " + std::to_string(lanes) + ", ";
      }
      return prefix.empty() ? prefix : prefix.substr(0, prefix.size() - 2) + ": ";
    };
    LaneSpan span{};
    const LaneHeaderStatus status = find_lane(message.data, message.size, lanes, lane, &span);
    if (status != LaneHeaderStatus::kOk) {
      throw DecodeError(where() + lane_header_problem(status));
    }
    const std::size_t begin = lane_begin(message.count, lane);
    const std::size_t end = lane_begin(message.count, lane + 1);
    try {
      decode_checked(message.data + span.offset, span.size, message.indexes + begin, end - begin,
                     tables, finder, message.out + begin);
    } catch (const DecodeError& error) {
      throw DecodeError(where() + error.what());
    }
  });
}

std::vector<uint8_t> encode_lanes(const int32_t* symbols, const int32_t* indexes, std::size_t count,
                                  const CdfTables& tables, unsigned threads) {
  return std::move(encode_lanes_batch({{symbols, indexes, count}}, tables, threads)[0]);
}

void decode_lanes(const uint8_t* data, std::size_t size, const int32_t* indexes, std::size_t count,
                  const CdfTables& tables, int32_t* out, unsigned threads) {
  decode_lanes_batch({{data, size, indexes, count, out}}, tables, threads);
}

}  // namespace rans
