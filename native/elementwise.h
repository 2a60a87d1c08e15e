// SPDX-License-Identifier: MIT
// Element-wise activation kernels and optimizer steps over flat float arrays.
#pragma once

#include <cstdint>

namespace blasnet {

void ReluForward(const float* x, float* out, int64_t n);
// dx = 0 where x <= 0, else dout (the course's mask; NaN passes).
void ReluBackward(const float* x, const float* dout, float* dx, int64_t n);
void SigmoidForward(const float* x, float* out, int64_t n);
// dx = dout * (1 - out) * out.
void SigmoidBackward(const float* out, const float* dout, float* dx, int64_t n);
void TanhForward(const float* x, float* out, int64_t n);
void TanhBackward(const float* out, const float* dout, float* dx, int64_t n);

// Optimizer steps, the course's formulas; arithmetic per element in double, stored once.
// kind: 0 SGD, 1 Momentum, 2 Nesterov, 3 AdaGrad, 4 RMSprop, 5 Adam.
// s1/s2 are the state slots (v; v; h; h; m and v), hyper[] the scalars:
// SGD {lr}; Momentum/Nesterov {lr, momentum}; AdaGrad {lr, eps}; RMSprop {lr, decay, eps};
// Adam {lrT, beta1, beta2, eps}.
void OptimizerStep(int kind, float* p, const float* g, float* s1, float* s2, const double* hyper,
                   int64_t n);

}  // namespace blasnet
