// SPDX-License-Identifier: MIT
// Convolution through im2col + sgemm, output NCHW.
#pragma once

#include "im2col.h"

namespace blasnet {

// x (N,C,H,W), W (FN, C*FH*FW), b (FN) -> out (N, FN, OH, OW); per sample
// out_n (FN, OH*OW) = W col_n^T + b. col (N*OH*OW, C*FH*FW) receives im2col(x) when not
// null; with col null each sample's columns live in a per-thread scratch only.
void ConvForward(const ConvGeom& g, int64_t FN, const float* x, const float* W, const float* b,
                 float* col, float* out);

// dout (N, FN, OH, OW) and either the forward pass's col or its input x (col null: the
// columns are recomputed per sample) -> dW (FN, C*FH*FW), db (FN) and, when dx is not
// null, dx (N,C,H,W) through dcol_n = dout_n^T W and col2im (dcol keeps them when not null).
void ConvBackward(const ConvGeom& g, int64_t FN, const float* dout, const float* x,
                  const float* col, const float* W, float* dW, float* db, float* dcol, float* dx);

}  // namespace blasnet
