// SPDX-License-Identifier: MIT
// Batch normalisation over the rows of x (N, D), the course's formulas.
#pragma once

#include <cstdint>

namespace blasnet {

// Training: batch mean/variance per feature, running = momentum*running + (1-momentum)*batch,
// std = sqrt(var + eps). Test: std = sqrt(runVar + eps), centred on runMean. Both keep
// xc = x - mean, xn = xc / std and write out = gamma * xn + beta.
void BatchNormForward(const float* x, const float* gamma, const float* beta, float* run_mean,
                      float* run_var, float* xc, float* xn, float* std, float* out, int64_t N,
                      int64_t D, double momentum, double eps, bool train);

// The test-mode forward followed by a Relu (when relu) and a multiplication by scale (a
// test-mode Dropout), in one pass: out = scale * relu(gamma * (x - runMean) / std + beta), each
// step rounded as the three layers round it. Keeps nothing for backward.
void BatchNormInfer(const float* x, const float* gamma, const float* beta, const float* run_mean,
                    const float* run_var, float* out, int64_t N, int64_t D, double eps, bool relu,
                    double scale);

// dgamma = sum(xn*dout), dbeta = sum(dout); dx from the training formula, or
// gamma*dout/std after a test-mode forward (the statistics were constants then).
void BatchNormBackward(const float* dout, const float* gamma, const float* xc, const float* xn,
                       const float* std, float* dgamma, float* dbeta, float* dx, int64_t N,
                       int64_t D, bool train);

}  // namespace blasnet
