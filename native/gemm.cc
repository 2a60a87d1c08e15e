// SPDX-License-Identifier: MIT
#include "gemm.h"

#include <cblas.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "generated/contract.h"
#include "threads.h"

namespace blasnet {

namespace {

// Below this many multiply-adds a gemm runs on one thread (see gemm.h). The environment
// variable BLASNET_GEMM_THREAD_WORK overrides it, for measuring where threads start to pay.
double MultiThreadGemmWork() {
  static const double work = [] {
    const char* env = std::getenv("BLASNET_GEMM_THREAD_WORK");
    const double v = env ? std::atof(env) : 0.0;
    return v > 0 ? v : kMultiThreadGemmWork;
  }();
  return work;
}

// Slices are at least this many rows or columns of C, and at most kMaxGemmSlices of them. Each
// slice packs the whole other operand again: with kMinSliceExtent rows per slice that costs
// under 1/kMinSliceExtent of the gemm (a batch of 100 rows is cut in two, as one slice per
// core on two cores; thousands of rows in up to eight).
constexpr int kMinSliceExtent = 32;
constexpr int kMaxGemmSlices = 8;

// One slice of C: rows [r0, r1) and columns [c0, c1) of C = alpha op(A) op(B) + beta C.
void GemmSlice(bool transA, bool transB, int M, int N, int K, float alpha, const float* A,
               const float* B, float beta, float* C, int r0, int r1, int c0, int c1) {
  const int lda = std::max(1, transA ? M : K);
  const int ldb = std::max(1, transB ? K : N);
  // Row r of op(A) starts at A + r*lda (row-major A) or A + r (column r of a stored A^T);
  // column c of op(B) at B + c (row-major B) or B + c*ldb (row c of a stored B^T).
  const float* a = A + static_cast<int64_t>(r0) * (transA ? 1 : lda);
  const float* b = B + static_cast<int64_t>(c0) * (transB ? ldb : 1);
  float* c = C + static_cast<int64_t>(r0) * N + c0;
  cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
              r1 - r0, c1 - c0, K, alpha, a, lda, b, ldb, beta, c, std::max(1, N));
}

}  // namespace

void SetUpBlas() {
  openblas_set_num_threads(1);
  WarmUpBlas();
}

void WarmUpBlas() {
  thread_local bool done = false;
  if (done) return;
  done = true;
  // 128^3 multiply-adds: above the size OpenBLAS's small-matrix kernels take (they need no buffer).
  constexpr int n = 128;
  std::vector<float> a(size_t{n} * n, 0.0f), c(size_t{n} * n);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data(), n, a.data(), n,
              0.0f, c.data(), n);
}

int GemmSlices(int M, int N, int K) {
  const double work = static_cast<double>(M) * N * K;
  if (work < MultiThreadGemmWork()) return 1;
  const int extent = std::max(M, N);
  // Double the slices while each keeps at least half the threshold's work and kMinSliceExtent rows.
  int slices = 1;
  while (slices < kMaxGemmSlices && work / (2.0 * slices) >= MultiThreadGemmWork() / 2 &&
         extent / (2 * slices) >= kMinSliceExtent) {
    slices *= 2;
  }
  return slices;
}

void Sgemm(bool transA, bool transB, int M, int N, int K, float alpha, const float* A,
           const float* B, float beta, float* C, bool may_thread) {
  const int parts = may_thread ? GemmSlices(M, N, K) : 1;
  if (parts <= 1) {
    GemmSlice(transA, transB, M, N, K, alpha, A, B, beta, C, 0, M, 0, N);
    return;
  }
  // Cut the longer side of C into `parts` slices; the threads of the call share them.
  const bool by_rows = M >= N;
  const int64_t extent = by_rows ? M : N;
  const double work = static_cast<double>(M) * N * K;
  ParallelFor(parts, static_cast<int64_t>(work), [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      const int lo = static_cast<int>(extent * p / parts),
                hi = static_cast<int>(extent * (p + 1) / parts);
      if (lo == hi) continue;
      if (by_rows) {
        GemmSlice(transA, transB, M, N, K, alpha, A, B, beta, C, lo, hi, 0, N);
      } else {
        GemmSlice(transA, transB, M, N, K, alpha, A, B, beta, C, 0, M, lo, hi);
      }
    }
  });
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
  // dW (with db) and dx are independent. When neither is big enough to be cut into slices
  // (GemmSlices, fixed by the shape), each runs whole on one thread, the two side by side:
  // the same single-threaded calls as one after the other, so the same bits at any thread count.
  if (dx != nullptr && GemmSlices(I, O, N) == 1 && GemmSlices(N, I, O) == 1) {
    const double work = 2.0 * static_cast<double>(N) * I * O;
    ParallelFor(2, static_cast<int64_t>(work), [&](int64_t begin, int64_t end) {
      for (int64_t task = begin; task < end; ++task) {
        if (task == 0) {
          Sgemm(true, false, I, O, N, 1.0f, x, dout, 0.0f, dW, false);
          ColumnSums(dout, N, O, db, false);
        } else {
          Sgemm(false, true, N, I, O, 1.0f, dout, W, 0.0f, dx, false);
        }
      }
    });
    return;
  }
  Sgemm(true, false, I, O, N, 1.0f, x, dout, 0.0f, dW);
  ColumnSums(dout, N, O, db, false);
  if (dx != nullptr) Sgemm(false, true, N, I, O, 1.0f, dout, W, 0.0f, dx);
}

// ---- Bindings: the dense kernels and OpenBLAS's configuration (lib/core/contract.ts) ----

void Run(const SgemmArgs& a) {
  Sgemm(a.transA, a.transB, static_cast<int>(a.M), static_cast<int>(a.N), static_cast<int>(a.K),
        static_cast<float>(a.alpha), a.A.data, a.B.data, static_cast<float>(a.beta), a.C.data);
}

void Run(const AffineForwardArgs& a) {
  AffineForward(a.x.data, a.W.data, a.b.data, a.out.data, static_cast<int>(a.N),
                static_cast<int>(a.I), static_cast<int>(a.O));
}

void Run(const AffineBackwardArgs& a) {
  AffineBackward(a.dout.data, a.x.data, a.W.data, a.dx.data, a.dW.data, a.db.data,
                 static_cast<int>(a.N), static_cast<int>(a.I), static_cast<int>(a.O));
}

void Run(const AddRowVectorArgs& a) { AddRowVector(a.Y.data, a.b.data, a.rows, a.cols); }

void Run(const ColumnSumsArgs& a) { ColumnSums(a.X.data, a.rows, a.cols, a.out.data, false); }

BlasConfig Run(const OpenblasConfigArgs&) {
  return BlasConfig{openblas_get_config(), openblas_get_corename(), openblas_get_num_threads(),
                    openblas_get_parallel()};
}

}  // namespace blasnet
