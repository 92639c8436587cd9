// Transposed convolution + bias + inverse GDN as one op: the repeating unit of
// the synthesis transform. The op is declared once (deconv_igdn.cpp); the CPU
// (deconv_igdn_cpu.cpp) and CUDA (deconv_igdn_cuda.cu) implementations share
// the signature below and register themselves for their dispatch key.
//
//   x [N, C_in, H, W] --conv_transpose2d(weight [C_in, C, kh, kw], stride,
//   padding, output_padding)--> t [N, C, H', W'];  t += bias[c]
//   out[n, i, p] = t[n, i, p] * sqrt(beta[i] + sum_j gamma[i, j] * t[n, j, p]^2)
//
// beta [C] and gamma [C, C] are the effective (already reparametrised) GDN
// parameters. All tensors are float32 on one device.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/ArrayRef.h>

namespace neuralcodec {

// Throws (TypeError / ValueError in Python) unless the arguments describe a
// valid op call; both implementations rely on what it checks.
void check_deconv_igdn_args(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                            const at::Tensor& beta, const at::Tensor& gamma, at::IntArrayRef stride,
                            at::IntArrayRef padding, at::IntArrayRef output_padding);

at::Tensor deconv_igdn_cpu(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                           const at::Tensor& beta, const at::Tensor& gamma, at::IntArrayRef stride,
                           at::IntArrayRef padding, at::IntArrayRef output_padding);

at::Tensor deconv_igdn_cuda(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                            const at::Tensor& beta, const at::Tensor& gamma, at::IntArrayRef stride,
                            at::IntArrayRef padding, at::IntArrayRef output_padding);

}  // namespace neuralcodec
