// SPDX-License-Identifier: MIT
// Convolution through im2col + sgemm, output NCHW.
#pragma once

#include "im2col.h"

namespace blasnet {

// x (N,C,H,W), W (FN, C*FH*FW), b (FN) -> out (N, FN, OH, OW); per sample
// out_n (FN, OH*OW) = W col_n^T + b. col (N*OH*OW, C*FH*FW) receives im2col(x) when not
// null; with col null each sample's columns live in a per-thread scratch only.
// relu = true applies max(0, .) to out while it is still in cache (a fused Relu).
void ConvForward(const ConvGeom& g, int64_t FN, const float* x, const float* W, const float* b,
                 float* col, float* out, bool relu = false);

// dout (N, FN, OH, OW) and either the forward pass's col or its input x (col null: the
// columns are recomputed per sample) -> dW (FN, C*FH*FW), db (FN) and, when dx is not
// null, dx (N,C,H,W) through dcol_n = dout_n^T W and col2im (dcol keeps them when not null).
// relu_out, when not null, is the output of a forward pass with relu = true: dout is then
// taken as zero where relu_out <= 0 (the fused Relu's backward).
void ConvBackward(const ConvGeom& g, int64_t FN, const float* dout, const float* x,
                  const float* col, const float* W, float* dW, float* db, float* dcol, float* dx,
                  const float* relu_out = nullptr);

}  // namespace blasnet
