// SPDX-License-Identifier: MIT
// Dense kernels: sgemm on row-major operands, bias add, column sums.
#pragma once

#include <cstdint>

namespace blasnet {

// C[M,N] = alpha * op(A) * op(B) + beta * C, row-major and packed:
// op(A) is M x K (A stored K x M when transA), op(B) is K x N (B stored N x K when transB).
// OpenBLAS runs it on one thread below kMultiThreadGemmWork multiply-adds (on two cores
// small gemms are no faster threaded, and waking the pool costs), else on up to
// MaxBlasThreads(). may_thread = false keeps it on the calling thread whatever its size
// (callers that split work over their own threads).
void Sgemm(bool transA, bool transB, int M, int N, int K, float alpha, const float* A,
           const float* B, float beta, float* C, bool may_thread = true);

// The thread count setNumThreads() asked for.
int MaxBlasThreads();
void SetMaxBlasThreads(int n);
// Sets OpenBLAS's thread count when it differs from the current one; returns the previous.
int UseBlasThreads(int n);

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
