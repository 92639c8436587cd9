// CPU implementation of neuralcodec::deconv_igdn: ATen's transposed
// convolution (oneDNN), then one pass that adds the bias and applies inverse
// GDN in place, a block of pixels at a time. The only full-size tensor is the
// output; per thread there is one [C, kPixels] scratch block of squares.
//
// Determinism: blocks are fixed (kPixels pixels of one image, the last one
// zero-padded) and every pixel goes through the same instructions in the same
// order, so the result does not depend on the number of threads.
#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/conv_transpose2d.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/zeros.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "deconv_igdn.h"

namespace neuralcodec {

namespace {

// GCC/Clang vector extension: 8 floats, lowered to AVX or pairs of SSE ops.
typedef float Vec8 __attribute__((vector_size(32)));

constexpr int64_t kLanes = 8;
constexpr int64_t kPixels = 64;             // pixels per block (one scratch row)
constexpr int64_t kChannelTile = 4;         // output channels per register tile
constexpr int64_t kPixelTile = 2 * kLanes;  // pixels per register tile

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
// One AVX2+FMA clone and a portable one, picked once at load time.
#define NEURALCODEC_MULTIVERSION __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define NEURALCODEC_MULTIVERSION
#endif

// IGDN of one block, in place. t points at pixel p0 of channel 0 of one image
// (channel stride `plane`); `count` <= kPixels pixels are valid. `square` is
// scratch of [channels, kPixels]. gamma_t is gamma transposed ([j, i]) and
// beta_padded is beta, both padded to a multiple of kChannelTile channels (with
// zeros and ones), so the inner loop needs no bounds checks.
NEURALCODEC_MULTIVERSION
void bias_igdn_block(float* t, int64_t plane, int64_t count, int64_t channels, const float* bias,
                     const float* beta_padded, const float* gamma_t, float* square) {
  const int64_t padded = (channels + kChannelTile - 1) / kChannelTile * kChannelTile;
  for (int64_t j = 0; j < channels; ++j) {
    const float* row = t + j * plane;
    float* sq = square + j * kPixels;
    for (int64_t p = 0; p < kPixels; ++p) {
      const float v = p < count ? row[p] + bias[j] : 0.0f;
      sq[p] = v * v;
    }
  }
  float norm[kChannelTile][kPixelTile];
  for (int64_t i0 = 0; i0 < channels; i0 += kChannelTile) {
    const int64_t tile = std::min(kChannelTile, channels - i0);
    for (int64_t p0 = 0; p0 < kPixels; p0 += kPixelTile) {
      // Eight independent accumulators hide the FMA latency.
      Vec8 acc[kChannelTile][2];
      for (int64_t c = 0; c < kChannelTile; ++c) {
        const float b = beta_padded[i0 + c];
        const Vec8 start = {b, b, b, b, b, b, b, b};
        acc[c][0] = start;
        acc[c][1] = start;
      }
      for (int64_t j = 0; j < channels; ++j) {
        // memcpy, not a cast: unaligned loads without aliasing trouble (and no
        // Vec8 passed by value, whose ABI differs between the two clones).
        Vec8 s0, s1;
        std::memcpy(&s0, square + j * kPixels + p0, sizeof(Vec8));
        std::memcpy(&s1, square + j * kPixels + p0 + kLanes, sizeof(Vec8));
        const float* g = gamma_t + j * padded + i0;
        for (int64_t c = 0; c < kChannelTile; ++c) {
          acc[c][0] += g[c] * s0;
          acc[c][1] += g[c] * s1;
        }
      }
      for (int64_t c = 0; c < kChannelTile; ++c) {
        std::memcpy(norm[c], &acc[c], sizeof(acc[c]));
      }
      const int64_t valid = std::min(kPixelTile, count - p0);
      for (int64_t c = 0; c < tile; ++c) {
        float* out = t + (i0 + c) * plane + p0;
        const float b = bias[i0 + c];
        for (int64_t p = 0; p < valid; ++p) {
          out[p] = (out[p] + b) * std::sqrt(norm[c][p]);
        }
      }
    }
  }
}

}  // namespace

at::Tensor deconv_igdn_cpu(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                           const at::Tensor& beta, const at::Tensor& gamma, at::IntArrayRef stride,
                           at::IntArrayRef padding, at::IntArrayRef output_padding) {
  check_deconv_igdn_args(x, weight, bias, beta, gamma, stride, padding, output_padding);
  // A contiguous input keeps oneDNN's output in NCHW, so .contiguous() below
  // does not copy.
  at::Tensor out = at::conv_transpose2d(x.contiguous(), weight, {}, stride, padding, output_padding)
                       .contiguous();
  const int64_t batch = out.size(0);
  const int64_t channels = out.size(1);
  const int64_t padded = (channels + kChannelTile - 1) / kChannelTile * kChannelTile;
  const at::Tensor bias_c = bias.contiguous();
  const at::Tensor beta_c = at::ones({padded}, beta.options());
  beta_c.narrow(0, 0, channels).copy_(beta);
  const at::Tensor gamma_t = at::zeros({channels, padded}, gamma.options());
  gamma_t.narrow(1, 0, channels).copy_(gamma.t());

  const int64_t plane = out.size(2) * out.size(3);
  const int64_t blocks_per_image = (plane + kPixels - 1) / kPixels;
  float* data = out.data_ptr<float>();
  const float* bias_p = bias_c.data_ptr<float>();
  const float* beta_p = beta_c.data_ptr<float>();
  const float* gamma_p = gamma_t.data_ptr<float>();

  // Grain: enough blocks per task that small images stay on one thread.
  const int64_t grain = std::max<int64_t>(1, 16384 / (kPixels * channels));
  at::parallel_for(0, batch * blocks_per_image, grain, [&](int64_t begin, int64_t end) {
    std::vector<float> square(channels * kPixels);
    for (int64_t b = begin; b < end; ++b) {
      const int64_t n = b / blocks_per_image;
      const int64_t p0 = (b % blocks_per_image) * kPixels;
      bias_igdn_block(data + n * channels * plane + p0, plane, std::min(kPixels, plane - p0),
                      channels, bias_p, beta_p, gamma_p, square.data());
    }
  });
  return out;
}

TORCH_LIBRARY_IMPL(neuralcodec, CPU, m) { m.impl("deconv_igdn", &deconv_igdn_cpu); }

}  // namespace neuralcodec
