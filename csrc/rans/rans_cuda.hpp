// CUDA decoder of multi-lane rANS streams (lanes.hpp): the GPU twin of
// rans::decode_lanes_batch, bit-identical to it, one CUDA thread per lane.
// Built only with WITH_CUDA (setup.py); bindings.cpp exposes it.
#pragma once

#include <ATen/ATen.h>

namespace rans {
namespace cuda {

// data: uint8[B], the streams back to back (any device; copied to the GPU).
// stream_ends: int64[S] on the CPU, end offset of each stream in data.
// indexes: int32[N] on the GPU, the index arrays of the S messages back to back.
// symbol_ends: int64[S] on the CPU, end offset of each message in indexes.
// cdfs int32[K, L], cdf_lengths int32[K], offsets int32[K] on indexes' GPU.
// Returns the decoded symbols, int32[N] on the GPU. Runs on the current CUDA
// stream and waits for it to report errors: throws InvalidArgument for bad
// arguments, indexes or used tables, DecodeError naming the first bad stream
// and lane for a bad stream.
at::Tensor decode_lanes_batch_cuda(const at::Tensor& data, const at::Tensor& stream_ends,
                                   const at::Tensor& indexes, const at::Tensor& symbol_ends,
                                   const at::Tensor& cdfs, const at::Tensor& cdf_lengths,
                                   const at::Tensor& offsets);

}  // namespace cuda
}  // namespace rans
