// SPDX-License-Identifier: MIT
// Winograd F(2x2, 3x3) convolution for 3x3, stride-1 layers whose channel counts fit the vector
// lanes: 2.25x fewer multiplies than im2col + sgemm, and about the same rounding error (the
// transforms of F(2x2, 3x3) have coefficients 0, ±1/2 and ±1). Forward, backward-data (the
// forward of the gradient, zero-padded by 2 - pad, with the rotated filters) and backward-filter
// (the adjoint of the forward's transforms), with a following Relu + 2x2 max pooling applied to
// the output tiles directly. Results do not depend on the thread count: samples are grouped
// into gemm blocks fixed by the shape, and the filter gradient is summed over the fixed
// reduction blocks of threads.h in block order.
#pragma once

#include <cstdint>

#include "conv.h"

namespace blasnet {

// The geometry of a Winograd convolution: tiles, padded and blocked buffer extents.
struct WinoPlan {
  int64_t N, C, H, W, FN, pad;
  int64_t OH, OW;
  int64_t TH, TW, T;  // 2x2 output tiles per sample
  int64_t PH, PW;     // the padded input, blocked: TH·2 + 2, TW·2 + 2
  int64_t YH, YW;     // the tiled output: TH·2, TW·2
  // Backward-data: the gradient padded by pad2 = 2 - pad, tiled over the (H, W) input.
  int64_t pad2, TH2, TW2, T2, PH2, PW2, YH2, YW2;
  int64_t block;  // samples per gemm block
};

// Whether Winograd applies: 3x3, stride 1, pad <= 2, C and FN multiples of 8.
bool WinogradFits(const ConvGeom& g, int64_t FN);

// Whether Winograd is also the faster of the two here (what algorithm 0, auto, runs): it fits,
// and the active instruction-set level (isa.h) has wide enough vectors for the channel counts.
bool WinogradPays(const ConvGeom& g, int64_t FN);

// As ConvForward / ConvBackward (conv.h), for a geometry WinogradFits.
void WinogradForward(const ConvGeom& g, int64_t FN, const float* x, const float* W, const float* b,
                     const ConvOutput& out);
void WinogradBackward(const ConvGeom& g, int64_t FN, const float* x, const float* W,
                      const ConvOutputGrad& dout, float* dW, float* db, float* dx);

}  // namespace blasnet
