// SPDX-License-Identifier: MIT
// Convolution split over the batch: each loop thread runs im2col and the per-sample gemms of
// its own samples with a single-threaded BLAS, which on these small, thin gemms beats one
// multi-threaded BLAS call per sample.
#include "conv.h"

#include <algorithm>
#include <string>

#include "common.h"
#include "gemm.h"
#include "generated/contract.h"
#include "isa.h"
#include "scratch.h"
#include "threads.h"
#include "winograd.h"

namespace blasnet {
namespace {

// Sum of a row with eight running partial sums: a single accumulator would chain every add
// on the previous one (4 cycles each); eight independent ones vectorise.
BLASNET_INLINE float RowSumImpl(const float* __restrict p, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int j = 0; j < 8; ++j) acc[j] += p[i + j];
  }
  float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; i < n; ++i) s += p[i];
  return s;
}

// dst[i] += src[i]: the block sums added in block order.
BLASNET_INLINE void AddIntoImpl(const float* __restrict src, float* __restrict dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] += src[i];
}

BLASNET_MULTIVERSION(RowSum, RowSumImpl, BLASNET_TARGET_AVX512)
BLASNET_MULTIVERSION(AddInto, AddIntoImpl, BLASNET_TARGET_AVX512)

}  // namespace

void ConvForward(const ConvGeom& g, int64_t FN, const float* x, const float* W, const float* b,
                 const ConvOutput& out) {
  const int64_t S = g.rows(), K = g.cols();
  ParallelFor(g.N, g.N * S * K * FN, [&](int64_t begin, int64_t end) {
    thread_local Scratch<float> col_buf, out_buf;
    for (int64_t n = begin; n < end; ++n) {
      // The course: out = col · W^T + b with col = im2col(x). Here, per sample and
      // transposed so that the weights sit on the left and the result is NCHW directly:
      // y (FN x S) = W (FN x K) · colT (K x S) + b.
      float* y = out.Sample(n);
      if (y == nullptr) y = out_buf.Get(FN * S);
      for (int64_t f = 0; f < FN; ++f) std::fill(y + f * S, y + (f + 1) * S, b[f]);
      float* colT = col_buf.Get(S * K);
      Im2colTOne(g, x + n * g.in_size(), colT);
      Sgemm(false, false, static_cast<int>(FN), static_cast<int>(S), static_cast<int>(K), 1.0f, W,
            colT, 1.0f, y, false);
      out.Done(n, y);
    }
  });
}

void ConvBackward(const ConvGeom& g, int64_t FN, const float* x, const float* W,
                  const ConvOutputGrad& dout, float* dW, float* db, float* dx) {
  const int64_t S = g.rows(), K = g.cols();
  const int iFN = static_cast<int>(FN), iS = static_cast<int>(S), iK = static_cast<int>(K);
  // Each block's sums: dW^T (K x FN, the orientation its gemm runs fastest in) then db (FN).
  const int64_t blocks = ReductionBlocks(g.N), part = K * FN + FN;
  thread_local Scratch<float> partial_buf;
  float* partials = partial_buf.Get(blocks * part);
  ParallelFor(blocks, g.N * S * K * FN * (dx ? 2 : 1), [&](int64_t b0, int64_t b1) {
    thread_local Scratch<float> col_buf, grad_buf;
    for (int64_t blk = b0; blk < b1; ++blk) {
      float* dwT = partials + blk * part;
      float* dbp = dwT + K * FN;
      std::fill(dbp, dbp + FN, 0.0f);
      int64_t first, last;
      BlockRange(g.N, blocks, blk, &first, &last);
      for (int64_t n = first; n < last; ++n) {
        // This sample's gradient of the convolution output (FN x S), the course's dout.
        const float* d = dout.Sample(n, dout.uses_scratch() ? grad_buf.Get(FN * S) : nullptr);
        // db = the sum of dout over the positions (and the batch).
        for (int64_t f = 0; f < FN; ++f) dbp[f] += RowSum(d + f * S, S);
        // dW^T (K x FN) += colT (K x S) · dout_n^T: the course's dW = col^T · dout, transposed.
        float* colT = col_buf.Get(S * K);
        Im2colTOne(g, x + n * g.in_size(), colT);
        Sgemm(false, true, iK, iFN, iS, 1.0f, colT, d, n == first ? 0.0f : 1.0f, dwT, false);
        if (dx != nullptr) {
          // dcolT (K x S) = W^T · dout_n (the course's dcol = dout · W, transposed), then
          // col2im. colT is dead once dW has it: its buffer takes dcolT, so one sample's
          // columns occupy the cache once rather than twice.
          float* dcolT = colT;
          Sgemm(true, false, iK, iS, iFN, 1.0f, W, d, 0.0f, dcolT, false);
          Col2imTOne(g, dcolT, dx + n * g.in_size());
        }
      }
    }
  });
  AddBlockSums(partials, blocks, K, FN, dW, db);
}

void AddBlockSums(float* partials, int64_t blocks, int64_t K, int64_t FN, float* dW, float* db) {
  const int64_t part = K * FN + FN;
  // The block sums added in block order (each element on its own: any cut of the range over
  // the threads gives the same result), into block 0's; then dW^T transposed into dW.
  ParallelFor(part, part * blocks, [&](int64_t e0, int64_t e1) {
    for (int64_t blk = 1; blk < blocks; ++blk)
      AddInto(partials + blk * part + e0, partials + e0, e1 - e0);
  });
  for (int64_t f = 0; f < FN; ++f) {
    for (int64_t k = 0; k < K; ++k) dW[f * K + k] = partials[k * FN + f];
  }
  std::copy(partials + K * FN, partials + part, db);
}

ConvAlgorithm ChooseAlgorithm(const ConvGeom& g, int64_t FN, int64_t algorithm, Pass pass) {
  switch (static_cast<ConvAlgorithm>(algorithm)) {
    case ConvAlgorithm::kIm2col:
      return ConvAlgorithm::kIm2col;
    case ConvAlgorithm::kDirect:
      if (!DirectFits(g)) {
        throw Refusal(
            "algorithm 3 (direct) needs stride 1 and C·FH·FW <= " + std::to_string(kDirectMaxTaps) +
            "; got stride " + std::to_string(g.stride) + ", C·FH·FW " + std::to_string(g.cols()));
      }
      return ConvAlgorithm::kDirect;
    case ConvAlgorithm::kWinograd:
      if (!WinogradFits(g, FN)) {
        throw Refusal(
            "algorithm 2 (Winograd) needs a 3x3 window, stride 1, pad <= 2, and C and FN "
            "multiples of 8; got " +
            std::to_string(g.FH) + "x" + std::to_string(g.FW) + ", stride " +
            std::to_string(g.stride) + ", pad " + std::to_string(g.pad) + ", C " +
            std::to_string(g.C) + ", FN " + std::to_string(FN));
      }
      return ConvAlgorithm::kWinograd;
    default:
      if (WinogradPays(g, FN)) return ConvAlgorithm::kWinograd;
      return DirectPays(g, pass) ? ConvAlgorithm::kDirect : ConvAlgorithm::kIm2col;
  }
}

void ConvForwardWith(ConvAlgorithm algorithm, const ConvGeom& g, int64_t FN, const float* x,
                     const float* W, const float* b, const ConvOutput& out) {
  if (algorithm == ConvAlgorithm::kWinograd) {
    WinogradForward(g, FN, x, W, b, out);
  } else if (algorithm == ConvAlgorithm::kDirect) {
    DirectForward(g, FN, x, W, b, out);
  } else {
    ConvForward(g, FN, x, W, b, out);
  }
}

void ConvBackwardWith(ConvAlgorithm algorithm, const ConvGeom& g, int64_t FN, const float* x,
                      const float* W, const ConvOutputGrad& dout, float* dW, float* db, float* dx) {
  if (algorithm == ConvAlgorithm::kWinograd) {
    WinogradBackward(g, FN, x, W, dout, dW, db, dx);
  } else if (algorithm == ConvAlgorithm::kDirect) {
    DirectBackward(g, FN, x, W, dout, dW, db, dx);
  } else {
    ConvBackward(g, FN, x, W, dout, dW, db, dx);
  }
}

// ---- Bindings: convForward, convBackward (lib/core/contract.ts) ----

void Run(const ConvForwardArgs& a) {
  const ConvGeom g = WindowOf(a.g);
  ConvForwardWith(ChooseAlgorithm(g, a.g.FN, a.algorithm, Pass::kForward), g, a.g.FN, a.x.data,
                  a.W.data, a.b.data, PlainOutput(a.out.data, a.g.FN * g.rows()));
}

void Run(const ConvBackwardArgs& a) {
  const ConvGeom g = WindowOf(a.g);
  ConvBackwardWith(ChooseAlgorithm(g, a.g.FN, a.algorithm, Pass::kBackward), g, a.g.FN, a.x.data,
                   a.W.data, PlainGrad(a.dout.data, a.g.FN * g.rows()), a.dW.data, a.db.data,
                   a.dx.data);
}

}  // namespace blasnet
