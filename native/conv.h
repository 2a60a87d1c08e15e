// SPDX-License-Identifier: MIT
// Convolution through im2col + sgemm, output NCHW.
#pragma once

#include <cstdint>

#include "im2col.h"
#include "pooling.h"

namespace blasnet {

// A max pooling fused after the convolution (and its Relu): each sample's output is pooled
// while it is in cache and never written out whole. plane is the pooling geometry over one
// (OH, OW) output plane (its N and C are not used).
struct PoolFuse {
  PoolGeom plane;
  float* pooled = nullptr;          // forward: (N, FN, plane.OH, plane.OW)
  int32_t* argmax = nullptr;        // forward: written; backward: read
  const float* relu_pooled = nullptr;  // backward: the pooled output when the Relu was fused
  int64_t size() const { return plane.OH * plane.OW; }
};

// x (N,C,H,W), W (FN, C*FH*FW), b (FN) -> out (N, FN, OH, OW); per sample
// out_n (FN, OH*OW) = W col_n^T + b. col (N*OH*OW, C*FH*FW) receives im2col(x) when not
// null; with col null each sample's columns live in a per-thread scratch only.
// relu = true applies max(0, .) to out while it is still in cache (a fused Relu).
// With pool the output is pool->pooled and pool->argmax (out is not used).
void ConvForward(const ConvGeom& g, int64_t FN, const float* x, const float* W, const float* b,
                 float* col, float* out, bool relu = false, const PoolFuse* pool = nullptr);

// dout (N, FN, OH, OW) and either the forward pass's col or its input x (col null: the
// columns are recomputed per sample) -> dW (FN, C*FH*FW), db (FN) and, when dx is not
// null, dx (N,C,H,W) through dcol_n = dout_n^T W and col2im (dcol keeps them when not null).
// relu_out, when not null, is the output of a forward pass with relu = true: dout is then
// taken as zero where relu_out <= 0 (the fused Relu's backward).
// With pool (relu_out is then not used), dout is the gradient of the pooled
// output (N, FN, plane.OH, plane.OW), routed back through pool->argmax and, when
// pool->relu_pooled is given, the fused Relu.
void ConvBackward(const ConvGeom& g, int64_t FN, const float* dout, const float* x,
                  const float* col, const float* W, float* dW, float* db, float* dcol, float* dx,
                  const float* relu_out = nullptr, const PoolFuse* pool = nullptr);

}  // namespace blasnet
