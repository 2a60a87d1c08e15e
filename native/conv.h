// SPDX-License-Identifier: MIT
// Convolution through im2col + sgemm, output NCHW.
#pragma once

#include "im2col.h"

namespace blasnet {

// x (N,C,H,W), W (FN, C*FH*FW), b (FN) -> col (N*OH*OW, C*FH*FW) kept for backward,
// out (N, FN, OH, OW). Per sample: out_n (FN, OH*OW) = W col_n^T + b.
void ConvForward(const ConvGeom& g, int64_t FN, const float* x, const float* W, const float* b,
                 float* col, float* out);

// dout (N, FN, OH, OW), col from the forward pass -> dW (FN, C*FH*FW), db (FN) and,
// when dx is not null, dx (N,C,H,W) through dcol (N*OH*OW, C*FH*FW) and col2im.
void ConvBackward(const ConvGeom& g, int64_t FN, const float* dout, const float* col,
                  const float* W, float* dW, float* db, float* dcol, float* dx);

}  // namespace blasnet
