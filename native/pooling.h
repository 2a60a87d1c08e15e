// SPDX-License-Identifier: MIT
// Max and average pooling over (N, C, H, W), windows PH x PW, zero padding as
// the course's im2col gives it (a padded zero takes part in the max and the mean).
#pragma once

#include <cstdint>

#include "im2col.h"

namespace blasnet {

// The window is FH x FW (the pool height and width).
using PoolGeom = ConvGeom;

// out (N,C,OH,OW); argmax holds, per output, the index h*W+w of the winner in its
// (H,W) plane, or -1 when a padded zero won.
void MaxPoolForward(const PoolGeom& g, const float* x, float* out, int32_t* argmax);
void MaxPoolBackward(const PoolGeom& g, const float* dout, const int32_t* argmax, float* dx);
void AvgPoolForward(const PoolGeom& g, const float* x, float* out);
void AvgPoolBackward(const PoolGeom& g, const float* dout, float* dx);

}  // namespace blasnet
