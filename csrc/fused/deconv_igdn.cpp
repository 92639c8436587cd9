// Schema and argument checks of neuralcodec::deconv_igdn (see deconv_igdn.h).
#include "deconv_igdn.h"

#include <torch/library.h>

namespace neuralcodec {

namespace {

void check_float32(const at::Tensor& t, const char* name) {
  TORCH_CHECK_TYPE(t.scalar_type() == at::kFloat, "deconv_igdn: ", name, " must be float32, got ",
                   t.scalar_type());
}

void check_shape(const at::Tensor& t, const char* name, at::IntArrayRef expected) {
  TORCH_CHECK_VALUE(t.sizes() == expected, "deconv_igdn: ", name, " must have shape ", expected,
                    ", got ", t.sizes());
}

void check_pair(at::IntArrayRef values, const char* name, int64_t low) {
  TORCH_CHECK_VALUE(values.size() == 2, "deconv_igdn: ", name, " must have 2 values, got ",
                    values.size());
  for (const int64_t v : values) {
    TORCH_CHECK_VALUE(v >= low, "deconv_igdn: ", name, " must be >= ", low, ", got ", values);
  }
}

}  // namespace

void check_deconv_igdn_args(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                            const at::Tensor& beta, const at::Tensor& gamma, at::IntArrayRef stride,
                            at::IntArrayRef padding, at::IntArrayRef output_padding) {
  const std::pair<const at::Tensor*, const char*> tensors[] = {
      {&x, "x"}, {&weight, "weight"}, {&bias, "bias"}, {&beta, "beta"}, {&gamma, "gamma"}};
  for (const auto& [t, name] : tensors) {
    check_float32(*t, name);
    TORCH_CHECK_VALUE(t->device() == x.device(), "deconv_igdn: ", name, " is on ", t->device(),
                      " but x is on ", x.device());
  }
  TORCH_CHECK_VALUE(x.dim() == 4, "deconv_igdn: x must be 4-D [N, C_in, H, W], got ", x.dim(),
                    "-D");
  TORCH_CHECK_VALUE(weight.dim() == 4,
                    "deconv_igdn: weight must be 4-D [C_in, C_out, kh, kw], got ", weight.dim(),
                    "-D");
  TORCH_CHECK_VALUE(weight.size(0) == x.size(1), "deconv_igdn: x has ", x.size(1),
                    " channels but weight expects ", weight.size(0));
  const int64_t channels = weight.size(1);
  TORCH_CHECK_VALUE(channels > 0 && weight.size(2) > 0 && weight.size(3) > 0,
                    "deconv_igdn: weight has an empty dimension: ", weight.sizes());
  check_shape(bias, "bias", {channels});
  check_shape(beta, "beta", {channels});
  check_shape(gamma, "gamma", {channels, channels});

  check_pair(stride, "stride", 1);
  check_pair(padding, "padding", 0);
  check_pair(output_padding, "output_padding", 0);
  for (int d = 0; d < 2; ++d) {
    TORCH_CHECK_VALUE(output_padding[d] < stride[d],
                      "deconv_igdn: output_padding must be smaller than stride, got ",
                      output_padding, " and ", stride);
    const int64_t size =
        (x.size(2 + d) - 1) * stride[d] - 2 * padding[d] + weight.size(2 + d) + output_padding[d];
    TORCH_CHECK_VALUE(x.size(2 + d) > 0 && size > 0, "deconv_igdn: input ", x.sizes(),
                      " gives an empty output");
  }
}

TORCH_LIBRARY_FRAGMENT(neuralcodec, m) {
  m.def(
      "deconv_igdn(Tensor x, Tensor weight, Tensor bias, Tensor beta, "
      "Tensor gamma, int[2] stride, int[2] padding, int[2] output_padding) "
      "-> Tensor");
}

}  // namespace neuralcodec
