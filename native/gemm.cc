// SPDX-License-Identifier: MIT
#include "gemm.h"

#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <cstring>

namespace blasnet {

namespace {

// Below this many multiply-adds a gemm runs on one thread (see gemm.h).
constexpr double kMultiThreadGemmWork = 64.0 * 1024 * 1024;

std::atomic<int> max_threads{0};
std::atomic<int> current_threads{0};

}  // namespace

int MaxBlasThreads() {
  int n = max_threads.load();
  if (n == 0) {
    n = openblas_get_num_threads();
    max_threads.store(n);
    current_threads.store(n);
  }
  return n;
}

void SetMaxBlasThreads(int n) {
  max_threads.store(n);
  UseBlasThreads(n);
}

int UseBlasThreads(int n) {
  MaxBlasThreads();  // initialises the cached counts
  const int prev = current_threads.exchange(n);
  if (prev != n) openblas_set_num_threads(n);
  return prev;
}

void Sgemm(bool transA, bool transB, int M, int N, int K, float alpha, const float* A,
           const float* B, float beta, float* C, bool may_thread) {
  if (may_thread) {
    const double work = static_cast<double>(M) * N * K;
    UseBlasThreads(work < kMultiThreadGemmWork ? 1 : MaxBlasThreads());
  }
  const int lda = std::max(1, transA ? M : K);
  const int ldb = std::max(1, transB ? K : N);
  cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans,
              transB ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C,
              std::max(1, N));
}

void AddRowVector(float* Y, const float* b, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    float* y = Y + r * cols;
    for (int64_t c = 0; c < cols; ++c) y[c] += b[c];
  }
}

void ColumnSums(const float* X, int64_t rows, int64_t cols, float* out, bool accumulate) {
  if (!accumulate) std::memset(out, 0, sizeof(float) * cols);
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = X + r * cols;
    for (int64_t c = 0; c < cols; ++c) out[c] += x[c];
  }
}

void AffineForward(const float* x, const float* W, const float* b, float* out, int N, int I,
                   int O) {
  // Seed every row with the bias, then accumulate x W on top (beta = 1).
  for (int n = 0; n < N; ++n) std::memcpy(out + static_cast<int64_t>(n) * O, b, sizeof(float) * O);
  Sgemm(false, false, N, O, I, 1.0f, x, W, 1.0f, out);
}

void AffineBackward(const float* dout, const float* x, const float* W, float* dx, float* dW,
                    float* db, int N, int I, int O) {
  Sgemm(true, false, I, O, N, 1.0f, x, dout, 0.0f, dW);
  ColumnSums(dout, N, O, db, false);
  if (dx != nullptr) Sgemm(false, true, N, I, O, 1.0f, dout, W, 0.0f, dx);
}

}  // namespace blasnet
