// SPDX-License-Identifier: MIT
// Dense kernels: sgemm on row-major operands, bias add, column sums.
#pragma once

#include <cstdint>

namespace blasnet {

// Measured with the bench harness after a long warm-up: W1's 100x784x40 gemms (3.1M
// multiply-adds) take W1 from about 455,000 to 600,000 samples/s when split over two threads.
constexpr double kMultiThreadGemmWork = 2.0 * 1024 * 1024;

// OpenBLAS is held at one thread: its workers spin after each threaded call and would compete
// with blasnet's loop threads for the cores. Called when the addon is loaded (in each Node
// environment, on its thread), with WarmUpBlas.
void SetUpBlas();

// OpenBLAS allocates a work buffer on a thread's first large gemm and, when that allocation
// fails (memory exhausted), retries forever. Every thread that runs gemms calls this when it
// starts: one gemm large enough to need the buffer, so that the buffer exists before a large
// call can exhaust memory. (Where OpenBLAS shares its buffers between threads instead, a
// buffer for concurrent gemms may still be allocated later.)
void WarmUpBlas();

// C[M,N] = alpha * op(A) * op(B) + beta * C, row-major and packed:
// op(A) is M x K (A stored K x M when transA), op(B) is K x N (B stored N x K when transB).
// From kMultiThreadGemmWork multiply-adds up (BLASNET_GEMM_THREAD_WORK overrides it) the
// longer side of C is cut into slices (GemmSlices), each a single-threaded OpenBLAS call,
// which the loop threads share; smaller gemms gain nothing from a second core here.
// may_thread = false makes it one call on the calling thread (callers that split their work
// over the threads already).
void Sgemm(bool transA, bool transB, int M, int N, int K, float alpha, const float* A,
           const float* B, float beta, float* C, bool may_thread = true);

// How many slices Sgemm cuts C into: fixed by the shape alone, never by the thread count.
// OpenBLAS may sum a smaller call's products in another order (its small-matrix kernels), so
// the same slices at every thread count are what makes the result the same.
int GemmSlices(int M, int N, int K);

// Y[r, c] += b[c] for a row-major Y of rows x cols.
void AddRowVector(float* Y, const float* b, int64_t rows, int64_t cols);

// out[c] = sum_r X[r, c] (beta = 0) or out[c] += ... (accumulate = true).
void ColumnSums(const float* X, int64_t rows, int64_t cols, float* out, bool accumulate);

// Affine layers cut their batch into row slices (AffineSlices, fixed by the shape alone): from
// kAffineSliceWork multiply-adds per slice and kMinSliceExtent rows. Each slice of a batch runs
// on the same core in every layer, forward and backward (ForSlices in gemm.cc), so a layer's
// rows are where the previous layer left them: on this 2-core VM a 100x100 activation read by
// the other core cost 5-7 us, a third of the gemm it fed.
constexpr double kAffineSliceWork = 256.0 * 1024;
constexpr int kMinDwSliceRows = 8;
int AffineSlices(int N, int I, int O);

// The activation a fused affine step applies to its output.
enum class AffineActivation { kNone, kRelu, kSigmoid };

// Affine forward: out[N,O] = x[N,I] * W[I,O] + b[O], then the activation on each slice of rows.
void AffineForward(const float* x, const float* W, const float* b, float* out, int N, int I, int O,
                   AffineActivation act);

// Affine backward: d = dout (kNone; out is not read), or the activation's backward of dout at
// out, the output of the forward with that activation; dW = x^T d, db = colsum(d), dx = d W^T
// (skipped when dx is null). The same bits at every thread count, and the same as the
// activation's backward followed by the plain one.
void AffineBackward(const float* dout, const float* x, const float* W, const float* out, float* dx,
                    float* dW, float* db, int N, int I, int O, AffineActivation act);

}  // namespace blasnet
