// CUDA implementation of neuralcodec::deconv_igdn: ATen's transposed
// convolution (cuDNN), then one kernel that adds the bias and applies inverse
// GDN in place. Mirrors deconv_igdn_cpu.cpp; the only full-size tensor is the
// output (CompressAI's IGDN makes x^2, the 1x1-conv norm and its sqrt as
// full-size tensors, in four or more kernels).
//
// One thread block owns kPixels consecutive pixels of one image across all
// channels: it stages t^2 for those pixels in shared memory, then each warp
// computes whole output channels, reading gamma rows with warp-uniform loads.
#include <ATen/core/Tensor.h>
#include <ATen/ops/conv_transpose2d.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include <cstdint>
#include <limits>

#include "deconv_igdn.h"

namespace neuralcodec {

namespace {

constexpr int kPixels = 32;  // pixels per block: one per lane of a warp
constexpr int kWarps = 8;    // channel groups per block
constexpr int kThreads = kPixels * kWarps;
constexpr int kChannelsPerPass = 8;          // accumulators per thread
constexpr int64_t kSharedBytes = 48 * 1024;  // no opt-in needed below this
constexpr int64_t kMaxChannels = kSharedBytes / (kPixels * sizeof(float));

// t [N, C, plane] (conv output without bias), in place:
//   t[n, i, p] <- (t + bias[i]) * sqrt(beta[i] + sum_j gamma[i, j] (t + bias[j])^2)
__global__ void bias_igdn_kernel(float* __restrict__ t, const float* __restrict__ bias,
                                 const float* __restrict__ beta, const float* __restrict__ gamma,
                                 int64_t channels, int64_t plane, int64_t blocks_per_image,
                                 bool gamma_rows_aligned) {
  extern __shared__ float square[];  // [channels, kPixels]
  const int64_t n = blockIdx.x / blocks_per_image;
  const int lane = threadIdx.x % kPixels;
  const int warp = threadIdx.x / kPixels;
  const int64_t p = (blockIdx.x % blocks_per_image) * kPixels + lane;
  const bool valid = p < plane;
  float* image = t + n * channels * plane;

  for (int64_t c = warp; c < channels; c += kWarps) {
    const float v = valid ? image[c * plane + p] + __ldg(bias + c) : 0.0f;
    square[c * kPixels + lane] = v * v;
  }
  __syncthreads();
  if (!valid) {
    return;  // no barrier below
  }

  // Same summation order as the CPU kernel: beta, then j = 0, 1, ... with FMA.
  for (int64_t i0 = warp; i0 < channels; i0 += kWarps * kChannelsPerPass) {
    float acc[kChannelsPerPass];
#pragma unroll
    for (int r = 0; r < kChannelsPerPass; ++r) {
      const int64_t i = i0 + r * kWarps;
      acc[r] = i < channels ? __ldg(beta + i) : 1.0f;
    }
    int64_t j = 0;
    if (gamma_rows_aligned) {
      for (; j + 4 <= channels; j += 4) {
        const float s0 = square[j * kPixels + lane];
        const float s1 = square[(j + 1) * kPixels + lane];
        const float s2 = square[(j + 2) * kPixels + lane];
        const float s3 = square[(j + 3) * kPixels + lane];
#pragma unroll
        for (int r = 0; r < kChannelsPerPass; ++r) {
          const int64_t i = i0 + r * kWarps;
          if (i < channels) {
            const float4 g = __ldg(reinterpret_cast<const float4*>(gamma + i * channels + j));
            acc[r] = fmaf(g.x, s0, acc[r]);
            acc[r] = fmaf(g.y, s1, acc[r]);
            acc[r] = fmaf(g.z, s2, acc[r]);
            acc[r] = fmaf(g.w, s3, acc[r]);
          }
        }
      }
    }
    for (; j < channels; ++j) {
      const float s = square[j * kPixels + lane];
#pragma unroll
      for (int r = 0; r < kChannelsPerPass; ++r) {
        const int64_t i = i0 + r * kWarps;
        if (i < channels) {
          acc[r] = fmaf(__ldg(gamma + i * channels + j), s, acc[r]);
        }
      }
    }
#pragma unroll
    for (int r = 0; r < kChannelsPerPass; ++r) {
      const int64_t i = i0 + r * kWarps;
      if (i < channels) {
        float* out = image + i * plane + p;
        *out = (*out + __ldg(bias + i)) * sqrtf(acc[r]);
      }
    }
  }
}

}  // namespace

at::Tensor deconv_igdn_cuda(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                            const at::Tensor& beta, const at::Tensor& gamma, at::IntArrayRef stride,
                            at::IntArrayRef padding, at::IntArrayRef output_padding) {
  check_deconv_igdn_args(x, weight, bias, beta, gamma, stride, padding, output_padding);
  const int64_t channels = weight.size(1);
  TORCH_CHECK_VALUE(channels <= kMaxChannels, "deconv_igdn: the CUDA kernel supports at most ",
                    kMaxChannels, " output channels, got ", channels);
  const c10::cuda::CUDAGuard guard(x.device());
  at::Tensor out = at::conv_transpose2d(x.contiguous(), weight, {}, stride, padding, output_padding)
                       .contiguous();
  const at::Tensor bias_c = bias.contiguous();
  const at::Tensor beta_c = beta.contiguous();
  const at::Tensor gamma_c = gamma.contiguous();

  const int64_t plane = out.size(2) * out.size(3);
  const int64_t blocks_per_image = (plane + kPixels - 1) / kPixels;
  const int64_t blocks = out.size(0) * blocks_per_image;
  TORCH_CHECK_VALUE(blocks <= std::numeric_limits<int>::max(), "deconv_igdn: output ", out.sizes(),
                    " is too large for one launch");
  if (blocks == 0) {
    return out;
  }
  const size_t shared = static_cast<size_t>(channels) * kPixels * sizeof(float);
  // Every gamma row starts on 16 bytes: rows can be read as float4s.
  const bool gamma_rows_aligned =
      channels % 4 == 0 && reinterpret_cast<uintptr_t>(gamma_c.data_ptr<float>()) % 16 == 0;
  bias_igdn_kernel<<<static_cast<unsigned int>(blocks), kThreads, shared,
                     c10::cuda::getCurrentCUDAStream()>>>(
      out.data_ptr<float>(), bias_c.data_ptr<float>(), beta_c.data_ptr<float>(),
      gamma_c.data_ptr<float>(), channels, plane, blocks_per_image, gamma_rows_aligned);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return out;
}

TORCH_LIBRARY_IMPL(neuralcodec, CUDA, m) { m.impl("deconv_igdn", &deconv_igdn_cuda); }

}  // namespace neuralcodec
