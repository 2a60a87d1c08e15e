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
// One (H,W) plane of MaxPoolForward (g.N and g.C are not used).
void MaxPoolPlane(const PoolGeom& g, const float* xp, float* op, int32_t* ap);
// One plane of MaxPoolBackward (overwrites dp). With relu_pooled (the pooled output of a Relu'd
// plane), d[i] is dropped where relu_pooled[i] <= 0: the Relu's backward folded in.
void MaxPoolPlaneBackward(const PoolGeom& g, const float* d, const int32_t* a, float* dp,
                          const float* relu_pooled);
void MaxPoolBackward(const PoolGeom& g, const float* dout, const int32_t* argmax, float* dx);
void AvgPoolForward(const PoolGeom& g, const float* x, float* out);
void AvgPoolBackward(const PoolGeom& g, const float* dout, float* dx);

}  // namespace blasnet
