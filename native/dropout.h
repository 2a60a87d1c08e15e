// SPDX-License-Identifier: MIT
// Dropout's forward, and the element-wise products the Dropout layer uses for the rest
// (backward: dout * mask; test mode: x * (1 - ratio)).
#pragma once

#include <cstdint>

namespace blasnet {

// out = x * mask where mask[i] = keep if a uniform draw > ratio else 0 (mask kept for
// backward). The draws come from a generator seeded with `seed`.
void DropoutForward(const float* x, float* out, float* mask, int64_t n, double ratio, float keep,
                    uint64_t seed);

// out = a * b element-wise (out may be a or b).
void Multiply(const float* a, const float* b, float* out, int64_t n);
// out = x * s (out may be x).
void Scale(const float* x, float* out, int64_t n, float s);

}  // namespace blasnet
