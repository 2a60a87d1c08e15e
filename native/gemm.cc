// SPDX-License-Identifier: MIT
#include "gemm.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "activations.h"
#include "generated/contract.h"
#include "scratch.h"
#include "small_gemm.h"
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

// OpenBLAS's AVX-512 cores (SkylakeX, Cooperlake, SapphireRapids; 0.3.17 and later) have
// "small-matrix" sgemm kernels that read the operands in place instead of packing them, taken
// for m·n·k up to kSmallGemmWork, for every row-major op(A)·op(B) but A·B^T (which they take only
// for m·n <= 1200) and A^T·B^T. A layer's larger gemms (100 x 100 x 784 and the like) pack both
// operands on every call; cut into pieces under that size they run on the small kernels. Measured
// on AMD EPYC Zen 5 (OpenBLAS 0.3.21, Cooperlake), one thread: 100 x 100 x 784 A·B 97-101 ->
// 86-90 us in 8 pieces of k, 784 x 100 x 100 A^T·B 97-104 -> 83-85 us in 8 pieces of m,
// 100 x 100 x 4320 A·B 575 -> 509 us, 4320 x 100 x 100 A^T·B 550 -> 486 us. On the other cores
// (Haswell, Zen: no small kernels) the same cuts cost 0-10%, so they are made on these only.
// BLASNET_GEMM_PIECES=0 turns the cutting off, =1 makes it on every core (for the tests).
constexpr double kSmallGemmWork = 100.0 * 100.0 * 100.0;
// Pieces at least this long on the cut side (shorter ones lose more to the calls than they gain).
constexpr int kMinPieceExtent = 32;

bool CutForSmallKernels() {
  static const bool cut = [] {
    const char* env = std::getenv("BLASNET_GEMM_PIECES");
    if (env != nullptr && std::strcmp(env, "0") == 0) return false;
    if (env != nullptr && std::strcmp(env, "1") == 0) return true;
    return OpenblasHasSmallKernels();
  }();
  return cut;
}

// cblas_sgemm of the m x n block of C at c (leading dimension ldc) = alpha op(a) op(b) + beta C.
void BlockGemm(bool transA, bool transB, int m, int n, int K, float alpha, const float* a, int lda,
               const float* b, int ldb, float beta, float* c, int ldc) {
  cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
              m, n, K, alpha, a, lda, b, ldb, beta, c, ldc);
}

// One slice of C: rows [r0, r1) and columns [c0, c1) of C = alpha op(A) op(B) + beta C.
void GemmSlice(bool transA, bool transB, int M, int N, int K, float alpha, const float* A,
               const float* B, float beta, float* C, int r0, int r1, int c0, int c1) {
  const int lda = std::max(1, transA ? M : K);
  const int ldb = std::max(1, transB ? K : N);
  const int ldc = std::max(1, N);
  // Row r of op(A) starts at A + r*lda (row-major A) or A + r (column r of a stored A^T);
  // column c of op(B) at B + c (row-major B) or B + c*ldb (row c of a stored B^T); entry k of a
  // row of op(A) is k further (A) or k*lda (A^T), of a column of op(B) k*ldb (B) or k (B^T).
  const float* a = A + static_cast<int64_t>(r0) * (transA ? 1 : lda);
  const float* b = B + static_cast<int64_t>(c0) * (transB ? ldb : 1);
  float* c = C + static_cast<int64_t>(r0) * ldc + c0;
  const int m = r1 - r0, n = c1 - c0;
  if (alpha == 1.0f && SmallGemm(transA, transB, m, n, K, a, lda, b, ldb, beta, c, ldc)) return;
  const double work = static_cast<double>(m) * n * K;
  if (work <= kSmallGemmWork || (transB && (transA || static_cast<int64_t>(m) * n > 1200)) ||
      !CutForSmallKernels()) {
    BlockGemm(transA, transB, m, n, K, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  // Cut the longest of m, n, k into the fewest equal pieces under kSmallGemmWork each.
  const int longest = std::max({m, n, K});
  const double rest = work / longest;
  const int pieces = static_cast<int>(std::ceil(work / kSmallGemmWork));
  const int size = (longest + pieces - 1) / pieces;
  if (size < kMinPieceExtent || size * rest > kSmallGemmWork) {
    BlockGemm(transA, transB, m, n, K, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  for (int p0 = 0; p0 < longest; p0 += size) {
    const int len = std::min(size, longest - p0);
    if (longest == K) {
      // Pieces of k accumulate into C: the first with the caller's beta, the rest with 1.
      BlockGemm(transA, transB, m, n, len, alpha, a + static_cast<int64_t>(p0) * (transA ? lda : 1),
                lda, b + static_cast<int64_t>(p0) * (transB ? 1 : ldb), ldb, p0 == 0 ? beta : 1.0f,
                c, ldc);
    } else if (longest == m) {
      BlockGemm(transA, transB, len, n, K, alpha, a + static_cast<int64_t>(p0) * (transA ? 1 : lda),
                lda, b, ldb, beta, c + static_cast<int64_t>(p0) * ldc, ldc);
    } else {
      BlockGemm(transA, transB, m, len, K, alpha, a, lda,
                b + static_cast<int64_t>(p0) * (transB ? ldb : 1), ldb, beta, c + p0, ldc);
    }
  }
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
  // GemmSlices has judged the work worth the threads: ParallelFor must not run it inline.
  ParallelFor(parts, kAlwaysSplit, [&](int64_t begin, int64_t end) {
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

int AffineSlices(int N, int I, int O) {
  const double work = static_cast<double>(N) * I * O;
  int slices = 1;
  while (slices < kMaxGemmSlices && work / (2.0 * slices) >= kAffineSliceWork &&
         N / (2 * slices) >= kMinSliceExtent) {
    slices *= 2;
  }
  return slices;
}

namespace {

// Runs fn(p) for p in [0, slices): on the calling thread alone for one slice, else shared by
// the loop threads in contiguous runs. ParallelFor gives the first run to the calling thread
// and the k-th to the same worker on every call (unless that worker is late: then the caller
// runs it), so the same slice of a batch stays on the same core from layer to layer and from
// forward to backward.
template <class Fn>
void ForSlices(int slices, Fn&& fn) {
  if (slices <= 1) {
    fn(0);
    return;
  }
  ParallelFor(slices, kAlwaysSplit, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) fn(static_cast<int>(p));
  });
}

inline int SliceBegin(int extent, int slices, int p) {
  return static_cast<int>(static_cast<int64_t>(extent) * p / slices);
}

}  // namespace

void AffineForward(const float* x, const float* W, const float* b, float* out, int N, int I, int O,
                   AffineActivation act) {
  const int slices = AffineSlices(N, I, O);
  ForSlices(slices, [&](int p) {
    const int r0 = SliceBegin(N, slices, p), r1 = SliceBegin(N, slices, p + 1);
    if (r0 == r1) return;
    // Seed the rows with the bias, accumulate x W on top (beta = 1), then the activation in cache.
    float* y = out + static_cast<int64_t>(r0) * O;
    for (int n = r0; n < r1; ++n)
      std::memcpy(out + static_cast<int64_t>(n) * O, b, sizeof(float) * O);
    GemmSlice(false, false, N, O, I, 1.0f, x, W, 1.0f, out, r0, r1, 0, O);
    const int64_t n = static_cast<int64_t>(r1 - r0) * O;
    if (act == AffineActivation::kRelu) ReluRange(y, y, n);
    if (act == AffineActivation::kSigmoid) SigmoidRange(y, y, n);
  });
}

void AffineBackward(const float* dout, const float* x, const float* W, const float* out, float* dx,
                    float* dW, float* db, int N, int I, int O, AffineActivation act) {
  const int slices = AffineSlices(N, I, O);
  // dW is cut by its rows (input features), at least kMinDwSliceRows each.
  int dw_slices = slices;
  while (dw_slices > 1 && I / dw_slices < kMinDwSliceRows) dw_slices /= 2;
  // The gradient at the affine output: dout, or the activation's backward of it (masked).
  const float* d = dout;
  float* masked = nullptr;
  if (act != AffineActivation::kNone) {
    thread_local Scratch<float> scratch;
    masked = scratch.Get(static_cast<size_t>(N) * O);
    d = masked;
  }
  // Batch rows: the mask, then dx = d W^T, on the core that ran those rows forward.
  auto rows = [&](int p) {
    const int r0 = SliceBegin(N, slices, p), r1 = SliceBegin(N, slices, p + 1);
    if (r0 == r1) return;
    const int64_t at = static_cast<int64_t>(r0) * O;
    const int64_t n = static_cast<int64_t>(r1 - r0) * O;
    if (act == AffineActivation::kRelu) ReluBackwardRange(out + at, dout + at, masked + at, n);
    if (act == AffineActivation::kSigmoid)
      SigmoidBackwardRange(out + at, dout + at, masked + at, n);
    if (dx != nullptr) GemmSlice(false, true, N, I, O, 1.0f, d, W, 0.0f, dx, r0, r1, 0, I);
  };
  // Weight rows: dW = x^T d over the whole batch, and db = column sums of d for a share of
  // the columns (each column summed over the rows in order, as ColumnSums does).
  auto weights = [&](int p) {
    const int i0 = SliceBegin(I, dw_slices, p), i1 = SliceBegin(I, dw_slices, p + 1);
    if (i0 < i1) GemmSlice(true, false, I, O, N, 1.0f, x, d, 0.0f, dW, i0, i1, 0, O);
    const int c0 = SliceBegin(O, dw_slices, p), c1 = SliceBegin(O, dw_slices, p + 1);
    for (int c = c0; c < c1; ++c) db[c] = 0.0f;
    for (int64_t r = 0; r < N; ++r) {
      const float* row = d + r * O;
      for (int c = c0; c < c1; ++c) db[c] += row[c];
    }
  };
  if (masked == nullptr && slices == dw_slices) {
    // Nothing to wait for between the two: one pass.
    ForSlices(slices, [&](int p) {
      rows(p);
      weights(p);
    });
    return;
  }
  if (masked != nullptr || dx != nullptr) ForSlices(slices, rows);
  ForSlices(dw_slices, weights);
}

// ---- Bindings: the dense kernels and OpenBLAS's configuration (lib/core/contract.ts) ----

void Run(const SgemmArgs& a) {
  Sgemm(a.transA, a.transB, static_cast<int>(a.M), static_cast<int>(a.N), static_cast<int>(a.K),
        static_cast<float>(a.alpha), a.A.data, a.B.data, static_cast<float>(a.beta), a.C.data);
}

namespace {

// The affine bindings differ only in the activation (the plain backward has no `out` to read).
template <class Args>
void RunAffineForward(const Args& a, AffineActivation act) {
  AffineForward(a.x.data, a.W.data, a.b.data, a.out.data, static_cast<int>(a.N),
                static_cast<int>(a.I), static_cast<int>(a.O), act);
}

template <class Args>
void RunAffineBackward(const Args& a, const float* out, AffineActivation act) {
  AffineBackward(a.dout.data, a.x.data, a.W.data, out, a.dx.data, a.dW.data, a.db.data,
                 static_cast<int>(a.N), static_cast<int>(a.I), static_cast<int>(a.O), act);
}

}  // namespace

void Run(const AffineForwardArgs& a) { RunAffineForward(a, AffineActivation::kNone); }
void Run(const AffineBackwardArgs& a) { RunAffineBackward(a, nullptr, AffineActivation::kNone); }
void Run(const AffineReluForwardArgs& a) { RunAffineForward(a, AffineActivation::kRelu); }
void Run(const AffineReluBackwardArgs& a) {
  RunAffineBackward(a, a.out.data, AffineActivation::kRelu);
}
void Run(const AffineSigmoidForwardArgs& a) { RunAffineForward(a, AffineActivation::kSigmoid); }
void Run(const AffineSigmoidBackwardArgs& a) {
  RunAffineBackward(a, a.out.data, AffineActivation::kSigmoid);
}

void Run(const AddRowVectorArgs& a) { AddRowVector(a.Y.data, a.b.data, a.rows, a.cols); }

void Run(const ColumnSumsArgs& a) { ColumnSums(a.X.data, a.rows, a.cols, a.out.data, false); }

BlasConfig Run(const OpenblasConfigArgs&) {
  return BlasConfig{openblas_get_config(), openblas_get_corename(), openblas_get_num_threads(),
                    openblas_get_parallel()};
}

}  // namespace blasnet
