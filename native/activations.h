// SPDX-License-Identifier: MIT
// Element-wise activations over flat float arrays, split over the loop threads once large.
#pragma once

#include <cstdint>

namespace blasnet {

// out = max(0, x): zero where x <= 0, as the course's mask (a NaN passes).
void ReluForward(const float* x, float* out, int64_t n);
// dx = 0 where x <= 0, else dout (the course's mask; NaN passes).
void ReluBackward(const float* x, const float* dout, float* dx, int64_t n);
void SigmoidForward(const float* x, float* out, int64_t n);
// dx = dout * (1 - out) * out.
void SigmoidBackward(const float* out, const float* dout, float* dx, int64_t n);
void TanhForward(const float* x, float* out, int64_t n);
void TanhBackward(const float* out, const float* dout, float* dx, int64_t n);

// The Relu's loops on the calling thread only (out may be x), for kernels that split their
// work over the threads themselves (the fused convolution); the same arithmetic as above.
void ReluRange(const float* x, float* out, int64_t n);
void ReluBackwardRange(const float* x, const float* dout, float* dx, int64_t n);
// The Sigmoid's loops on the calling thread only (out may be x), for the fused affine step.
void SigmoidRange(const float* x, float* out, int64_t n);
void SigmoidBackwardRange(const float* out, const float* dout, float* dx, int64_t n);

}  // namespace blasnet
