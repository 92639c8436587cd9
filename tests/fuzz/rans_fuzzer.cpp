// libFuzzer target for the torch-free rANS lane decoder (csrc/rans/), built with
// ASan + UBSan by `python -m tools.fuzz_rans --driver libfuzzer` (see docs/fuzzing.md).
//
// An input is a 4-byte header choosing the decoder's arguments, then the stream:
//
//   byte 0   bits 0-1: table set (small random / sparse / long CDFs / mixed)
//            bit 2:    decode with 2 threads (else 1)
//            bit 3:    lane framing: a stream of 2 + param % 31 lanes (below)
//            bit 4:    also decode with the other thread count: same result or error
//   byte 1-2 param (little-endian): count = 1 + param % 300 symbols
//   byte 3   seed of the table index of each symbol
//   byte 4.. the rANS stream
//
// Single-lane inputs go through rans::decode_lanes. It must either throw
// rans::DecodeError or return symbols whose re-encoding is exactly the input
// stream: every accepted stream is the one canonical encoding of what it decodes
// to. Anything else aborts (a finding).
//
// Lane-framing inputs: a real multi-lane stream needs more than SYMBOLS_PER_LANE
// (65,536) symbols, far too slow to fuzz under ASan, so the framing is fuzzed
// with short lanes: rans::find_lane (the parser decode_lanes_batch and the CUDA
// decoder use) must agree with a reference parse of the varints, give the same
// status for every lane and, when it accepts, spans that tile the stream; each
// span is then decoded as a lane of `count` symbols, and if every lane decodes,
// the re-framed re-encoding must be the input again.
//
// Built with -DRANS_FUZZ_SEED_WRITER instead of libFuzzer, the same file is a
// program that writes valid inputs (the seed corpus) into the folder it is given.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "rans_coder.hpp"

namespace {

constexpr std::size_t HEADER_BYTES = 4;
constexpr std::size_t MAX_COUNT = 300;
constexpr std::size_t MIN_FRAMED_LANES = 2;
constexpr int32_t CDF_TOTAL = int32_t{1} << rans::CDF_PRECISION_BITS;

// Small deterministic generator: the tables must be the same in every run.
struct Lcg {
  uint64_t state;
  uint32_t next() {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<uint32_t>(state >> 33);
  }
  uint32_t below(uint32_t n) { return next() % n; }
};

struct TableSet {
  std::vector<int32_t> cdfs;
  std::vector<int32_t> lengths;
  std::vector<int32_t> offsets;
  std::size_t max_length = 0;

  rans::CdfTables view() const {
    return {cdfs.data(), lengths.data(), offsets.data(), lengths.size(), max_length};
  }

  // Adds a table from symbol frequencies summing to CDF_TOTAL (each >= 1).
  void add(const std::vector<int32_t>& freqs, int32_t offset) {
    std::vector<int32_t> cdf{0};
    for (const int32_t f : freqs) {
      cdf.push_back(cdf.back() + f);
    }
    if (cdf.back() != CDF_TOTAL) {
      std::fprintf(stderr, "fuzzer bug: frequencies sum to %d\n", cdf.back());
      std::abort();
    }
    rows.push_back(cdf);
    lengths.push_back(static_cast<int32_t>(cdf.size()));
    offsets.push_back(offset);
  }

  // Pads the rows into the [num_tables, max_length] layout the coder reads.
  void finish() {
    for (const auto& row : rows) {
      max_length = row.size() > max_length ? row.size() : max_length;
    }
    for (const auto& row : rows) {
      cdfs.insert(cdfs.end(), row.begin(), row.end());
      cdfs.insert(cdfs.end(), max_length - row.size(), 0);
    }
    rows.clear();
  }

  std::vector<std::vector<int32_t>> rows;
};

// n >= 1 frequencies summing to CDF_TOTAL, each >= 1, shaped by `weight`.
template <typename Weight>
std::vector<int32_t> frequencies(std::size_t n, const Weight& weight) {
  std::vector<double> w(n);
  double total = 0;
  for (std::size_t i = 0; i < n; ++i) {
    w[i] = weight(i);
    total += w[i];
  }
  std::vector<int32_t> freqs(n, 1);
  int32_t left = CDF_TOTAL - static_cast<int32_t>(n);
  int32_t given = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const int32_t extra = static_cast<int32_t>(w[i] / total * left);
    freqs[i] += extra;
    given += extra;
  }
  freqs[0] += left - given;
  return freqs;
}

TableSet small_tables(Lcg& rng) {
  TableSet set;
  for (int t = 0; t < 6; ++t) {
    const std::size_t symbols = 1 + rng.below(19);  // lengths 2..20; 1 symbol: escape only
    set.add(frequencies(symbols, [&](std::size_t) { return 1.0 + rng.below(1000); }),
            static_cast<int32_t>(rng.below(21)) - 10);
  }
  set.finish();
  return set;
}

TableSet sparse_tables() {
  TableSet set;
  set.add({CDF_TOTAL - 1, 1}, 0);  // symbol 0 almost always; the escape almost never
  set.finish();
  return set;
}

// Long, peaked CDFs like the Gaussian conditional's (thousands of entries).
TableSet long_tables() {
  TableSet set;
  const std::size_t sizes[] = {3000, 700, 41};
  for (const std::size_t n : sizes) {
    set.add(frequencies(n,
                        [n](std::size_t i) {
                          const double d = static_cast<double>(i) - static_cast<double>(n) / 2;
                          return 1.0 / (1.0 + d * d / (n / 50.0 + 1));
                        }),
            -static_cast<int32_t>(n / 2));
  }
  set.finish();
  return set;
}

TableSet mixed_tables(Lcg& rng) {
  TableSet set;
  set.add({CDF_TOTAL}, 0);
  set.add({CDF_TOTAL / 2, CDF_TOTAL / 2}, -1);
  set.add(frequencies(1200, [&](std::size_t) { return 1.0 + rng.below(50); }), -600);
  set.add({1, CDF_TOTAL - 2, 1}, 5);
  set.finish();
  return set;
}

const std::vector<TableSet>& table_sets() {
  static const std::vector<TableSet> sets = [] {
    Lcg rng{12345};
    std::vector<TableSet> s;
    s.push_back(small_tables(rng));
    s.push_back(sparse_tables());
    s.push_back(long_tables());
    s.push_back(mixed_tables(rng));
    return s;
  }();
  return sets;
}

struct Arguments {
  const TableSet* tables;
  std::vector<int32_t> indexes;
  unsigned threads;
  bool cross_check;
  std::size_t framed_lanes;  // 0: a single-lane input for decode_lanes
};

Arguments arguments(const uint8_t* header) {
  const TableSet& tables = table_sets()[header[0] & 3];
  const std::size_t param = header[1] | std::size_t{header[2]} << 8;
  const std::size_t count = 1 + param % MAX_COUNT;
  Lcg rng{header[3]};
  std::vector<int32_t> indexes(count);
  const uint32_t num_tables = static_cast<uint32_t>(tables.lengths.size());
  for (int32_t& index : indexes) {
    index = static_cast<int32_t>(rng.below(num_tables));
  }
  const std::size_t lanes =
      header[0] & 8 ? MIN_FRAMED_LANES + param % (rans::MAX_LANES - MIN_FRAMED_LANES + 1) : 0;
  return {&tables, std::move(indexes), header[0] & 4 ? 2u : 1u, (header[0] & 16) != 0, lanes};
}

[[noreturn]] void finding(const std::string& what) {
  std::fprintf(stderr, "rans_fuzzer finding: %s\n", what.c_str());
  std::abort();
}

// The decoded symbols, or the DecodeError's message (and no symbols).
struct Outcome {
  std::vector<int32_t> symbols;
  std::string error;
};

Outcome decode(const uint8_t* data, std::size_t size, const Arguments& args, unsigned threads) {
  Outcome outcome;
  outcome.symbols.assign(args.indexes.size(), 0);
  try {
    rans::decode_lanes(data, size, args.indexes.data(), args.indexes.size(), args.tables->view(),
                       outcome.symbols.data(), threads);
  } catch (const rans::InvalidArgument& error) {
    finding(std::string("InvalidArgument for valid tables and indexes: ") + error.what());
  } catch (const rans::DecodeError& error) {
    outcome.symbols.clear();
    outcome.error = error.what();
  }
  return outcome;
}

// The lane spans of a stream of `lanes` lanes, parsed independently of
// rans::find_lane: false where the framing is not valid (docs/format.md, "Lanes").
bool reference_spans(const uint8_t* data, std::size_t size, std::size_t lanes,
                     std::vector<rans::LaneSpan>* spans) {
  std::size_t pos = 0;
  std::vector<uint64_t> lengths;
  for (std::size_t k = 0; k + 1 < lanes; ++k) {
    uint64_t value = 0;
    for (int bytes = 0;; ++bytes) {
      if (bytes == rans::MAX_LANE_VARINT_BYTES || pos == size) {
        return false;
      }
      const uint8_t byte = data[pos++];
      value |= uint64_t{byte & 0x7fu} << (7 * bytes);
      if (!(byte & 0x80u)) {
        if (byte == 0 && bytes > 0) {
          return false;
        }
        break;
      }
    }
    lengths.push_back(value);
  }
  uint64_t offset = pos;
  for (const uint64_t length : lengths) {
    if (length > size - offset) {
      return false;
    }
    spans->push_back({static_cast<std::size_t>(offset), static_cast<std::size_t>(length)});
    offset += length;
  }
  spans->push_back({static_cast<std::size_t>(offset), size - static_cast<std::size_t>(offset)});
  return true;
}

void append_varint(std::vector<uint8_t>* out, std::size_t value) {
  for (; value >= 0x80; value >>= 7) {
    out->push_back(static_cast<uint8_t>(0x80 | (value & 0x7f)));
  }
  out->push_back(static_cast<uint8_t>(value));
}

void fuzz_single_lane(const uint8_t* stream, std::size_t size, const Arguments& args) {
  const Outcome outcome = decode(stream, size, args, args.threads);
  if (args.cross_check) {
    const Outcome other = decode(stream, size, args, 3 - args.threads);
    if (other.error != outcome.error || other.symbols != outcome.symbols) {
      finding("1 and 2 threads disagree: '" + outcome.error + "' vs '" + other.error + "'");
    }
  }
  if (outcome.error.empty()) {
    const std::vector<uint8_t> again = rans::encode_lanes(
        outcome.symbols.data(), args.indexes.data(), args.indexes.size(), args.tables->view(), 1);
    if (again.size() != size || std::memcmp(again.data(), stream, size) != 0) {
      finding("an accepted stream is not the encoding of its symbols (" + std::to_string(size) +
              " bytes in, " + std::to_string(again.size()) + " bytes re-encoded)");
    }
  }
}

void fuzz_framing(const uint8_t* stream, std::size_t size, const Arguments& args) {
  const std::size_t lanes = args.framed_lanes;
  std::vector<rans::LaneSpan> spans;
  const rans::LaneHeaderStatus status =
      rans::find_lane(stream, size, lanes, 0, &spans.emplace_back());
  for (std::size_t k = 1; k < lanes; ++k) {
    if (rans::find_lane(stream, size, lanes, k, &spans.emplace_back()) != status) {
      finding("find_lane's status depends on the lane asked for");
    }
  }
  std::vector<rans::LaneSpan> expected;
  const bool valid = reference_spans(stream, size, lanes, &expected);
  if (valid != (status == rans::LaneHeaderStatus::kOk)) {
    finding(std::string("find_lane ") + (valid ? "rejects" : "accepts") + " a framing of " +
            std::to_string(lanes) + " lanes that the reference parse " +
            (valid ? "accepts" : "rejects"));
  }
  if (!valid) {
    return;
  }
  std::vector<uint8_t> again;
  std::vector<std::vector<uint8_t>> lane_bytes;
  for (std::size_t k = 0; k < lanes; ++k) {
    if (spans[k].offset != expected[k].offset || spans[k].size != expected[k].size) {
      finding("find_lane's span of lane " + std::to_string(k) + " differs from the reference");
    }
    const Outcome outcome = decode(stream + spans[k].offset, spans[k].size, args, 1);
    if (!outcome.error.empty()) {
      return;
    }
    lane_bytes.push_back(rans::encode_lanes(outcome.symbols.data(), args.indexes.data(),
                                            args.indexes.size(), args.tables->view(), 1));
    if (k + 1 < lanes) {
      append_varint(&again, lane_bytes.back().size());
    }
  }
  for (const auto& lane : lane_bytes) {
    again.insert(again.end(), lane.begin(), lane.end());
  }
  if (again.size() != size || std::memcmp(again.data(), stream, size) != 0) {
    finding("an accepted " + std::to_string(lanes) + "-lane framing is not canonical");
  }
}

}  // namespace

#ifndef RANS_FUZZ_SEED_WRITER

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* input, std::size_t size) {
  if (size < HEADER_BYTES) {
    return 0;
  }
  const Arguments args = arguments(input);
  if (args.framed_lanes == 0) {
    fuzz_single_lane(input + HEADER_BYTES, size - HEADER_BYTES, args);
  } else {
    fuzz_framing(input + HEADER_BYTES, size - HEADER_BYTES, args);
  }
  return 0;
}

#else

// Symbols for the seeds: mostly in each table's range, some escapes up to the
// int32 limits.
std::vector<int32_t> seed_symbols(const Arguments& args, Lcg& rng) {
  std::vector<int32_t> symbols(args.indexes.size());
  for (std::size_t i = 0; i < symbols.size(); ++i) {
    const int32_t t = args.indexes[i];
    const uint32_t pick = rng.below(8);
    symbols[i] = pick == 0   ? static_cast<int32_t>(rng.next()) - (int32_t{1} << 30)
                 : pick == 1 ? (rng.below(2) ? INT32_MAX : INT32_MIN)
                             : args.tables->offsets[t] +
                                   static_cast<int32_t>(rng.below(args.tables->lengths[t] - 1));
  }
  return symbols;
}

// Writes valid inputs (every table set and mode) into the folder argv[1].
int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTPUT_FOLDER\n", argv[0]);
    return 2;
  }
  Lcg rng{7};
  int written = 0;
  for (int set = 0; set < 4; ++set) {
    for (const int mode : {0, 4, 16, 8}) {
      const uint8_t header[HEADER_BYTES] = {
          static_cast<uint8_t>(set | mode), static_cast<uint8_t>(rng.below(64)),
          static_cast<uint8_t>(rng.below(1)), static_cast<uint8_t>(rng.next())};
      const Arguments args = arguments(header);
      std::vector<uint8_t> input(header, header + HEADER_BYTES);
      std::vector<std::vector<uint8_t>> lanes;
      for (std::size_t k = 0; k < std::max<std::size_t>(args.framed_lanes, 1); ++k) {
        const std::vector<int32_t> symbols = seed_symbols(args, rng);
        lanes.push_back(rans::encode_lanes(symbols.data(), args.indexes.data(), symbols.size(),
                                           args.tables->view(), 1));
        if (k + 1 < args.framed_lanes) {
          append_varint(&input, lanes.back().size());
        }
      }
      for (const auto& lane : lanes) {
        input.insert(input.end(), lane.begin(), lane.end());
      }
      const std::string path =
          std::string(argv[1]) + "/seed-" + std::to_string(set) + "-" + std::to_string(mode);
      std::FILE* file = std::fopen(path.c_str(), "wb");
      if (file == nullptr || std::fwrite(input.data(), 1, input.size(), file) != input.size() ||
          std::fclose(file) != 0) {
        std::perror(path.c_str());
        return 1;
      }
      ++written;
    }
  }
  std::printf("wrote %d seeds to %s\n", written, argv[1]);
  return 0;
}

#endif
