// SPDX-License-Identifier: MIT
// The small-product sgemm of small_gemm.h. GCC/Clang vector extensions in an AVX2 + FMA target
// region (isa.h), no intrinsics.
#include "small_gemm.h"

#include <cblas.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "isa.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

namespace blasnet {

namespace {

// The range taken: K and n up to 1024 and a B of at most 128 Ki floats (512 KiB, in L2 while
// every block of rows runs over it), and for Aᵀ up to 1024 rows of C (read across A's rows).
// Beyond it OpenBLAS's packing pays for itself: measured on AMD EPYC Zen 4 (OpenBLAS 0.3.21 Zen,
// one thread, against OpenBLAS) 100 x 100 x 100 0.83x the time (Aᵀ 0.85x), 1000 x 100 x 100 0.78x,
// 100 x 40 x 784 0.93x, 784 x 100 x 100 Aᵀ 0.96x, but 4320 x 100 x 100 Aᵀ 1.04x. Under 16
// columns (100 x 10 x 100 1.13x) too few of the accumulators are in use, and columns beyond a
// multiple of 4 (padded to 4: 100 x 50 x 1024 1.09x) cost a pass over K for a few of them.
constexpr int kMaxSide = 1024;
constexpr int64_t kMaxBFloats = 128 * 1024;
constexpr int kMinColumns = 16;
// Rows of C per block: the block's op(A) rows stay in L1 while it runs over every column of B.
constexpr int kBlockRows = 48;

}  // namespace

#if BLASNET_X86
BLASNET_BEGIN_AVX2
namespace small_avx2 {
namespace {

typedef float v8 __attribute__((vector_size(32)));
typedef float v8u __attribute__((vector_size(32), aligned(4), may_alias));
typedef float v4 __attribute__((vector_size(16)));
typedef float v4u __attribute__((vector_size(16), aligned(4), may_alias));

template <class V>
struct Lanes;
template <>
struct Lanes<v8> {
  typedef v8u Unaligned;
  static constexpr int kCount = 8;
};
template <>
struct Lanes<v4> {
  typedef v4u Unaligned;
  static constexpr int kCount = 4;
};

template <class V>
BLASNET_INLINE V Load(const float* p) {
  return *reinterpret_cast<const typename Lanes<V>::Unaligned*>(p);
}
template <class V>
BLASNET_INLINE void Store(float* p, V v) {
  *reinterpret_cast<typename Lanes<V>::Unaligned*>(p) = v;
}

// C[R x NV·lanes] = op(A) · B (+ C when add): for each k the R entries of op(A)'s column k
// (A[r·lda + k], or A[k·lda + r] when TA), broadcast, times row k of B, summed over k in order.
template <class V, int R, int NV, bool TA>
BLASNET_INLINE void Block(int K, const float* A, int lda, const float* B, int ldb, float* C,
                          int ldc, bool add) {
  constexpr int L = Lanes<V>::kCount;
  V acc[R][NV];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < NV; ++v) acc[r][v] = V{};
  for (int k = 0; k < K; ++k) {
    V b[NV];
    for (int v = 0; v < NV; ++v) b[v] = Load<V>(B + static_cast<int64_t>(k) * ldb + v * L);
    for (int r = 0; r < R; ++r) {
      const float a =
          TA ? A[static_cast<int64_t>(k) * lda + r] : A[static_cast<int64_t>(r) * lda + k];
      for (int v = 0; v < NV; ++v) acc[r][v] += a * b[v];
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int v = 0; v < NV; ++v) {
      float* c = C + static_cast<int64_t>(r) * ldc + v * L;
      Store<V>(c, add ? Load<V>(c) + acc[r][v] : acc[r][v]);
    }
  }
}

// The last `left` rows (1 <= left <= R) as one block of that many.
template <class V, int R, int NV, bool TA>
BLASNET_INLINE void LastRows(int left, int K, const float* A, int lda, const float* B, int ldb,
                             float* C, int ldc, bool add) {
  if (left == R) {
    Block<V, R, NV, TA>(K, A, lda, B, ldb, C, ldc, add);
  } else if constexpr (R > 1) {
    LastRows<V, R - 1, NV, TA>(left, K, A, lda, B, ldb, C, ldc, add);
  }
}

// Rows [0, m) of C (m <= kBlockRows) for NV·lanes columns: blocks of 6 rows (12 accumulators of
// 16 AVX2 registers at NV = 2), then one of the 1-5 left.
template <class V, int NV, bool TA>
void Rows(int m, int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc,
          bool add) {
  constexpr int kR = 6;
  auto a = [&](int r) { return TA ? A + r : A + static_cast<int64_t>(r) * lda; };
  auto c = [&](int r) { return C + static_cast<int64_t>(r) * ldc; };
  int r = 0;
  for (; r + kR <= m; r += kR) Block<V, kR, NV, TA>(K, a(r), lda, B, ldb, c(r), ldc, add);
  if (r < m) LastRows<V, kR - 1, NV, TA>(m - r, K, a(r), lda, B, ldb, c(r), ldc, add);
}

// Every column of rows [0, m) of C (n a multiple of 4): 16 at a time, then 8, then 4.
template <bool TA>
void RowBlock(int m, int n, int K, const float* A, int lda, const float* B, int ldb, float* C,
              int ldc, bool add) {
  int j = 0;
  for (; j + 16 <= n; j += 16) Rows<v8, 2, TA>(m, K, A, lda, B + j, ldb, C + j, ldc, add);
  if (j + 8 <= n) {
    Rows<v8, 1, TA>(m, K, A, lda, B + j, ldb, C + j, ldc, add);
    j += 8;
  }
  if (j + 4 <= n) Rows<v4, 1, TA>(m, K, A, lda, B + j, ldb, C + j, ldc, add);
}

template <bool TA>
void Gemm(int m, int n, int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc,
          bool add) {
  for (int r0 = 0; r0 < m; r0 += kBlockRows) {
    const int rows = std::min(kBlockRows, m - r0);
    const float* a = TA ? A + r0 : A + static_cast<int64_t>(r0) * lda;
    RowBlock<TA>(rows, n, K, a, lda, B, ldb, C + static_cast<int64_t>(r0) * ldc, ldc, add);
  }
}

}  // namespace

void Run(bool transA, int m, int n, int K, const float* a, int lda, const float* b, int ldb,
         bool add, float* c, int ldc) {
  if (transA) {
    Gemm<true>(m, n, K, a, lda, b, ldb, c, ldc, add);
  } else {
    Gemm<false>(m, n, K, a, lda, b, ldb, c, ldc, add);
  }
}

}  // namespace small_avx2
BLASNET_END_TARGET
#endif

namespace {

// 0: off; 1: on, also where OpenBLAS has small kernels; -1: the default (see SmallGemmEnabled).
int Setting() {
  static const int setting = [] {
    const char* env = std::getenv("BLASNET_SMALL_GEMM");
    if (env != nullptr && std::strcmp(env, "0") == 0) return 0;
    if (env != nullptr && std::strcmp(env, "1") == 0) return 1;
    return -1;
  }();
  return setting;
}

}  // namespace

bool OpenblasHasSmallKernels() {
  static const bool has = [] {
    std::string core = openblas_get_corename();
    for (char& ch : core) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return core == "skylakex" || core == "cooperlake" || core == "sapphirerapids";
  }();
  return has;
}

bool SmallGemmEnabled() {
#if BLASNET_X86
  if (ActiveIsa() < Isa::kAvx2 || Setting() == 0) return false;
  return Setting() == 1 || !OpenblasHasSmallKernels();
#else
  return false;
#endif
}

bool SmallGemm(bool transA, bool transB, int m, int n, int K, const float* a, int lda,
               const float* b, int ldb, float beta, float* c, int ldc) {
#if BLASNET_X86
  if (transB || (beta != 0.0f && beta != 1.0f) || m < 1 || n < kMinColumns || n % 4 != 0 || K < 1 ||
      K > kMaxSide || n > kMaxSide || (transA && m > kMaxSide) ||
      static_cast<int64_t>(K) * n > kMaxBFloats || !SmallGemmEnabled()) {
    return false;
  }
  small_avx2::Run(transA, m, n, K, a, lda, b, ldb, beta == 1.0f, c, ldc);
  return true;
#else
  (void)transA, (void)transB, (void)m, (void)n, (void)K, (void)a, (void)lda, (void)b, (void)ldb;
  (void)beta, (void)c, (void)ldc;
  return false;
#endif
}

}  // namespace blasnet
