// SPDX-License-Identifier: MIT
// Dense kernels: sgemm on row-major operands, bias add, column sums.
#pragma once

#include <cstdint>

namespace blasnet {

// Measured with the bench harness after a long warm-up: W1's 100x784x40 gemms (3.1M
// multiply-adds) take W1 from about 455,000 to 600,000 samples/s when split over two threads.
constexpr double kMultiThreadGemmWork = 2.0 * 1024 * 1024;

// C[M,N] = alpha * op(A) * op(B) + beta * C, row-major and packed:
// op(A) is M x K (A stored K x M when transA), op(B) is K x N (B stored N x K when transB).
// From kMultiThreadGemmWork multiply-adds up (BLASNET_GEMM_THREAD_WORK overrides it) the
// rows or columns of C are split over the loop threads, each slice a single-threaded
// OpenBLAS call; smaller gemms gain nothing from a second core here. may_thread = false
// keeps it on the calling thread (callers that split their work over the threads already).
void Sgemm(bool transA, bool transB, int M, int N, int K, float alpha, const float* A,
           const float* B, float beta, float* C, bool may_thread = true);

// Y[r, c] += b[c] for a row-major Y of rows x cols.
void AddRowVector(float* Y, const float* b, int64_t rows, int64_t cols);

// out[c] = sum_r X[r, c] (beta = 0) or out[c] += ... (accumulate = true).
void ColumnSums(const float* X, int64_t rows, int64_t cols, float* out, bool accumulate);

// Affine forward: out[N,O] = x[N,I] * W[I,O] + b[O].
void AffineForward(const float* x, const float* W, const float* b, float* out, int N, int I,
                   int O);

// Affine backward: dW = x^T dout, db = colsum(dout), dx = dout W^T (skipped when dx is null).
void AffineBackward(const float* dout, const float* x, const float* W, float* dx, float* dW,
                    float* db, int N, int I, int O);

}  // namespace blasnet
