// SPDX-License-Identifier: MIT
// im2col / col2im in the course's layout: col is (N*OH*OW, C*FH*FW), rows ordered
// (n, oh, ow) and columns ordered (c, fh, fw); padding reads as zero.
#pragma once

#include <cstdint>

namespace blasnet {

struct ConvGeom {
  int64_t N, C, H, W;  // input (N, C, H, W)
  int64_t FH, FW;      // window
  int64_t stride, pad;
  int64_t OH, OW;                                // derived output extent
  int64_t rows() const { return OH * OW; }       // col rows per sample
  int64_t cols() const { return C * FH * FW; }   // col columns
  int64_t in_size() const { return C * H * W; }  // input elements per sample
};

// The window part of a geometry read from JavaScript (WindowGeometry, ConvGeometry and
// ConvPoolGeometry of native/generated/contract.h all have these fields).
template <class G>
ConvGeom WindowOf(const G& g) {
  return ConvGeom{g.N, g.C, g.H, g.W, g.FH, g.FW, g.stride, g.pad, g.OH, g.OW};
}

// One sample: x (C,H,W) -> col (OH*OW, C*FH*FW).
void Im2colOne(const ConvGeom& g, const float* x, float* col);
// One sample: dx (C,H,W) = sum of col's entries over the windows (overwrites dx).
void Col2imOne(const ConvGeom& g, const float* col, float* dx);

// One sample in the transposed layout colT (C*FH*FW, OH*OW): row k = (c, fh, fw) holds that
// tap over every output position. With stride 1 each row is made of plain row copies, so
// this is far cheaper than the course layout, and W (FN x K) * colT is an untransposed gemm.
void Im2colTOne(const ConvGeom& g, const float* x, float* colT);
// The adjoint of Im2colTOne: dx (C,H,W) = sum of colT's entries over the windows (overwrites dx).
void Col2imTOne(const ConvGeom& g, const float* colT, float* dx);

// Whole batch, split over the loop threads.
void Im2col(const ConvGeom& g, const float* x, float* col);
void Col2im(const ConvGeom& g, const float* col, float* dx);

}  // namespace blasnet
