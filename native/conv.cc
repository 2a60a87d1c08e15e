// SPDX-License-Identifier: MIT
#include "conv.h"

#include "gemm.h"

namespace blasnet {

void ConvForward(const ConvGeom& g, int64_t FN, const float* x, const float* W, const float* b,
                 float* col, float* out) {
  Im2col(g, x, col);
  const int64_t S = g.rows(), K = g.cols();
  for (int64_t n = 0; n < g.N; ++n) {
    float* out_n = out + n * FN * S;
    for (int64_t f = 0; f < FN; ++f) {
      float* o = out_n + f * S;
      for (int64_t s = 0; s < S; ++s) o[s] = b[f];
    }
    // (FN x K) * (S x K)^T -> (FN x S), weights on the left.
    Sgemm(false, true, static_cast<int>(FN), static_cast<int>(S), static_cast<int>(K), 1.0f, W,
          col + n * S * K, 1.0f, out_n);
  }
}

void ConvBackward(const ConvGeom& g, int64_t FN, const float* dout, const float* col,
                  const float* W, float* dW, float* db, float* dcol, float* dx) {
  const int64_t S = g.rows(), K = g.cols();
  for (int64_t f = 0; f < FN; ++f) db[f] = 0.0f;
  for (int64_t n = 0; n < g.N; ++n) {
    const float* d = dout + n * FN * S;
    for (int64_t f = 0; f < FN; ++f) {
      float acc = 0.0f;
      const float* row = d + f * S;
      for (int64_t s = 0; s < S; ++s) acc += row[s];
      db[f] += acc;
    }
    // dW += dout_n (FN x S) * col_n (S x K)
    Sgemm(false, false, static_cast<int>(FN), static_cast<int>(K), static_cast<int>(S), 1.0f, d,
          col + n * S * K, n == 0 ? 0.0f : 1.0f, dW);
  }
  if (dx == nullptr) return;
  for (int64_t n = 0; n < g.N; ++n) {
    // dcol_n (S x K) = dout_n^T (S x FN) * W (FN x K)
    Sgemm(true, false, static_cast<int>(S), static_cast<int>(K), static_cast<int>(FN), 1.0f,
          dout + n * FN * S, W, 0.0f, dcol + n * S * K);
  }
  Col2im(g, dcol, dx);
}

}  // namespace blasnet
