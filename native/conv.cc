// SPDX-License-Identifier: MIT
// Convolution split over the batch: each loop thread runs im2col and the
// per-sample gemms of its own samples with a single-threaded BLAS, which on
// these small, thin gemms beats one multi-threaded BLAS call per sample.
#include "conv.h"

#include <algorithm>
#include <cstring>
#include <mutex>
#include <vector>

#include "common.h"
#include "elementwise.h"
#include "gemm.h"
#include "pooling.h"

namespace blasnet {
namespace {

// Per-thread scratch that grows once and is then reused (no allocation per call).
float* Scratch(std::vector<float>& v, size_t n) {
  if (v.size() < n) v.resize(n);
  return v.data();
}

// Sum of a row with eight running partial sums: a single accumulator would chain every add
// on the previous one (4 cycles each); eight independent ones vectorise.
__attribute__((target_clones("avx2", "default")))
float RowSum(const float* __restrict p, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int j = 0; j < 8; ++j) acc[j] += p[i + j];
  }
  float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; i < n; ++i) s += p[i];
  return s;
}

}  // namespace

void ConvForward(const ConvGeom& g, int64_t FN, const float* x, const float* W, const float* b,
                 float* col, float* out, bool relu, const PoolFuse* pool) {
  const int64_t S = g.rows(), K = g.cols();
  ParallelFor(g.N, g.N * S * K * FN, [&](int64_t begin, int64_t end) {
    thread_local std::vector<float> col_buf, out_buf;
    for (int64_t n = begin; n < end; ++n) {
      float* out_n = pool ? Scratch(out_buf, FN * S) : out + n * FN * S;
      for (int64_t f = 0; f < FN; ++f) std::fill(out_n + f * S, out_n + (f + 1) * S, b[f]);
      if (col != nullptr) {
        // The caller keeps the course-layout columns: (FN x K) * (S x K)^T -> (FN x S).
        float* col_n = col + n * S * K;
        Im2colOne(g, x + n * g.in_size(), col_n);
        Sgemm(false, true, static_cast<int>(FN), static_cast<int>(S), static_cast<int>(K), 1.0f,
              W, col_n, 1.0f, out_n, false);
      } else {
        // One sample's transposed columns in a per-thread scratch that stays in cache:
        // (FN x K) * (K x S) -> (FN x S), weights on the left give NCHW directly.
        float* colT = Scratch(col_buf, S * K);
        Im2colTOne(g, x + n * g.in_size(), colT);
        Sgemm(false, false, static_cast<int>(FN), static_cast<int>(S), static_cast<int>(K), 1.0f,
              W, colT, 1.0f, out_n, false);
      }
      if (relu) ReluForward(out_n, out_n, FN * S);
      if (pool) {
        const int64_t P = pool->size();
        for (int64_t f = 0; f < FN; ++f) {
          MaxPoolPlane(pool->plane, out_n + f * S, pool->pooled + (n * FN + f) * P,
                       pool->argmax + (n * FN + f) * P);
        }
      }
    }
  });
}

void ConvBackward(const ConvGeom& g, int64_t FN, const float* dout, const float* x,
                  const float* col, const float* W, float* dW, float* db, float* dcol, float* dx,
                  const float* relu_out, const PoolFuse* pool) {
  const int64_t S = g.rows(), K = g.cols();
  const int iFN = static_cast<int>(FN), iS = static_cast<int>(S), iK = static_cast<int>(K);
  std::fill(dW, dW + FN * K, 0.0f);
  std::fill(db, db + FN, 0.0f);
  std::mutex sum_mu;
  ParallelFor(g.N, g.N * S * K * FN * (dx ? 2 : 1), [&](int64_t begin, int64_t end) {
    // Each chunk sums its samples' dW and db privately, then adds them in once.
    thread_local std::vector<float> dw_buf, dwT_buf, db_buf, dcol_buf, col_buf, dmask_buf;
    float* dw_part = Scratch(dw_buf, FN * K);
    float* dwT_part = Scratch(dwT_buf, FN * K);
    const bool course = col != nullptr || dcol != nullptr;
    float* db_part = Scratch(db_buf, FN);
    std::fill(db_part, db_part + FN, 0.0f);
    for (int64_t n = begin; n < end; ++n) {
      // This sample's gradient of the convolution output (FN x S).
      const float* d;
      if (pool != nullptr) {
        // The pooling's (and fused Relu's) backward into a per-sample scratch.
        const int64_t P = pool->size();
        float* routed = Scratch(dmask_buf, FN * S);
        for (int64_t f = 0; f < FN; ++f) {
          const int64_t o = (n * FN + f) * P;
          MaxPoolPlaneBackward(pool->plane, dout + o, pool->argmax + o, routed + f * S,
                               pool->relu_pooled ? pool->relu_pooled + o : nullptr);
        }
        d = routed;
      } else if (relu_out != nullptr) {
        // The fused Relu's backward: no gradient where the output was clamped to zero.
        float* masked = Scratch(dmask_buf, FN * S);
        ReluBackward(relu_out + n * FN * S, dout + n * FN * S, masked, FN * S);
        d = masked;
      } else {
        d = dout + n * FN * S;
      }
      for (int64_t f = 0; f < FN; ++f) db_part[f] += RowSum(d + f * S, S);
      const float beta = n == begin ? 0.0f : 1.0f;
      // With the caller's course-layout col: dW += dout_n (FN x S) * col_n (S x K) and
      // dcol_n (S x K) = dout_n^T W. Without it the transposed columns are recomputed from x:
      // dW += dout_n * colT_n^T and dcolT_n (K x S) = W^T dout_n.
      if (course) {
        const float* col_n = col ? col + n * S * K : nullptr;
        if (col_n == nullptr) {
          float* scratch = Scratch(col_buf, S * K);
          Im2colOne(g, x + n * g.in_size(), scratch);
          col_n = scratch;
        }
        Sgemm(false, false, iFN, iK, iS, 1.0f, d, col_n, beta, dw_part, false);
        if (dx != nullptr) {
          float* dcol_n = dcol ? dcol + n * S * K : Scratch(dcol_buf, S * K);
          Sgemm(true, false, iS, iK, iFN, 1.0f, d, W, 0.0f, dcol_n, false);
          Col2imOne(g, dcol_n, dx + n * g.in_size());
        }
      } else {
        float* colT = Scratch(col_buf, S * K);
        Im2colTOne(g, x + n * g.in_size(), colT);
        // dW^T (K x FN) += colT_n (K x S) * dout_n^T: this orientation runs faster than
        // dout_n * colT_n^T on these shapes; it is transposed into dW once per chunk.
        Sgemm(false, true, iK, iFN, iS, 1.0f, colT, d, beta, dwT_part, false);
        if (dx != nullptr) {
          // colT is dead once dW has it: its buffer takes dcolT, so one sample's columns
          // occupy the cache once rather than twice (16x28x28 3x3: 451 KB each).
          float* dcolT = colT;
          Sgemm(true, false, iK, iS, iFN, 1.0f, W, d, 0.0f, dcolT, false);
          Col2imTOne(g, dcolT, dx + n * g.in_size());
        }
      }
    }
    if (!course) {
      for (int64_t f = 0; f < FN; ++f) {
        for (int64_t k = 0; k < K; ++k) dw_part[f * K + k] = dwT_part[k * FN + f];
      }
    }
    std::lock_guard<std::mutex> lk(sum_mu);
    for (int64_t i = 0; i < FN * K; ++i) dW[i] += dw_part[i];
    for (int64_t f = 0; f < FN; ++f) db[f] += db_part[f];
  });
}

}  // namespace blasnet
