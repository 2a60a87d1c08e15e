// SPDX-License-Identifier: MIT
// native/small_gemm.cc: blasnet's small-product sgemm against the float64 reference, with row
// blocks and column tails of every size, padded leading dimensions, beta 0 and 1; the same bits
// for any slice of C; the calls it refuses leave C alone.
#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "check.h"
#include "reference.h"
#include "small_gemm.h"

namespace {

using ref::DVec;
using ref::Vec;

// op(A) (m x K) stored with leading dimension lda (A^T: K x m), B (K x n, ldb), C (m x n, ldc):
// the operands padded past each row with NaN, which must never be read into a result.
struct Operands {
  int m, n, K, lda, ldb, ldc;
  bool tA;
  Vec A, B, C;
  Vec packedA, packedB;  // the same without padding, for the reference
};

Operands Make(bool tA, int m, int n, int K, int pad, uint64_t seed) {
  ref::Rng rng(seed);
  Operands o{m, n, K, (tA ? m : K) + pad, n + pad, n + pad, tA, {}, {}, {}, {}, {}};
  const int arows = tA ? K : m, acols = tA ? m : K;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  o.packedA = rng.Fill(static_cast<size_t>(arows) * acols);
  o.packedB = rng.Fill(static_cast<size_t>(K) * n);
  o.A.assign(static_cast<size_t>(arows) * o.lda, nan);
  o.B.assign(static_cast<size_t>(K) * o.ldb, nan);
  for (int r = 0; r < arows; ++r)
    for (int c = 0; c < acols; ++c)
      o.A[static_cast<size_t>(r) * o.lda + c] = o.packedA[r * acols + c];
  for (int r = 0; r < K; ++r)
    for (int c = 0; c < n; ++c) o.B[static_cast<size_t>(r) * o.ldb + c] = o.packedB[r * n + c];
  o.C = rng.Fill(static_cast<size_t>(m) * o.ldc);
  return o;
}

std::string Name(const Operands& o, float beta) {
  return std::string(o.tA ? "A^T" : "A") + " " + std::to_string(o.m) + "x" + std::to_string(o.n) +
         "x" + std::to_string(o.K) + " beta " + std::to_string(static_cast<int>(beta));
}

}  // namespace

TEST_CASE(small_gemm, against_the_reference_with_every_block_and_tail) {
  if (!blasnet::SmallGemmEnabled()) {
    // Off (generic level, BLASNET_SMALL_GEMM=0, or OpenBLAS's own small kernels): it takes nothing.
    Operands o = Make(false, 8, 32, 8, 0, 1);
    const Vec before = o.C;
    CHECK(!blasnet::SmallGemm(false, false, 8, 32, 8, o.A.data(), o.lda, o.B.data(), o.ldb, 0.0f,
                              o.C.data(), o.ldc));
    CHECK_SAME_BITS("untouched", o.C.data(), before.data(), o.C.size());
    return;
  }
  // Rows: under one block of 6, whole blocks, the 48-row blocks and what is left of them;
  // columns: 16s, then 8 and 4, in every combination.
  const int ms[] = {1, 5, 6, 7, 13, 48, 53, 100};
  const int ns[] = {16, 20, 24, 28, 32, 36, 100};
  const int Ks[] = {1, 2, 17, 100, 300};
  uint64_t seed = 11;
  for (int tA = 0; tA < 2; ++tA) {
    for (int m : ms) {
      for (int n : ns) {
        for (int K : Ks) {
          for (float beta : {0.0f, 1.0f}) {
            Operands o = Make(tA != 0, m, n, K, (m + n + K) % 3 == 0 ? 0 : 3, seed++);
            Vec C0(static_cast<size_t>(m) * n);
            for (int r = 0; r < m; ++r)
              for (int c = 0; c < n; ++c) C0[r * n + c] = o.C[static_cast<size_t>(r) * o.ldc + c];
            const Vec before = o.C;
            if (beta == 0.0f) {
              // Whatever C held is overwritten, NaN included.
              for (int r = 0; r < m; ++r)
                for (int c = 0; c < n; ++c)
                  o.C[static_cast<size_t>(r) * o.ldc + c] = std::numeric_limits<float>::quiet_NaN();
            }
            const std::string what = Name(o, beta);
            CHECK_MSG(blasnet::SmallGemm(tA != 0, false, m, n, K, o.A.data(), o.lda, o.B.data(),
                                         o.ldb, beta, o.C.data(), o.ldc),
                      what << ": not taken");
            DVec want, scale;
            ref::Gemm(tA != 0, false, m, n, K, 1.0, o.packedA, o.packedB, beta, C0, &want, &scale);
            Vec got(static_cast<size_t>(m) * n);
            for (int r = 0; r < m; ++r) {
              for (int c = 0; c < o.ldc; ++c) {
                const size_t at = static_cast<size_t>(r) * o.ldc + c;
                if (c < n) {
                  got[r * n + c] = o.C[at];
                } else {
                  // The padding past each row of C is never written.
                  CHECK_MSG(std::memcmp(&o.C[at], &before[at], sizeof(float)) == 0,
                            what << ": wrote past column " << n << " of row " << r);
                }
              }
            }
            CHECK_NEAR_ARR(what, got.data(), want.data(), scale.data(), got.size(),
                           (K + 2) * FLT_EPSILON, 1e-30);
          }
        }
      }
    }
  }
}

TEST_CASE(small_gemm, any_slice_of_c_gets_the_same_bits) {
  if (!blasnet::SmallGemmEnabled()) return;
  for (int tA = 0; tA < 2; ++tA) {
    const int m = 100, n = 100, K = 100;
    Operands o = Make(tA != 0, m, n, K, 0, 7 + tA);
    Vec whole(static_cast<size_t>(m) * n), parts(static_cast<size_t>(m) * n);
    CHECK(blasnet::SmallGemm(tA != 0, false, m, n, K, o.A.data(), o.lda, o.B.data(), o.ldb, 0.0f,
                             whole.data(), n));
    // Rows cut at 37 and 50 (the threads' slices), columns at 20 and 76 (other blocks).
    const int rcuts[] = {0, 37, 50, m}, ccuts[] = {0, 20, 76, n};
    for (int i = 0; i < 3; ++i) {
      for (int j = 0; j < 3; ++j) {
        const int r0 = rcuts[i], r1 = rcuts[i + 1], c0 = ccuts[j], c1 = ccuts[j + 1];
        const float* a = tA ? o.A.data() + r0 : o.A.data() + static_cast<size_t>(r0) * o.lda;
        const bool taken =
            blasnet::SmallGemm(tA != 0, false, r1 - r0, c1 - c0, K, a, o.lda, o.B.data() + c0,
                               o.ldb, 0.0f, parts.data() + static_cast<size_t>(r0) * n + c0, n);
        CHECK_MSG(taken || c1 - c0 < 16, "slice not taken");
        if (!taken) {
          // Fewer than 16 columns go to OpenBLAS in the library; here, the reference sum order.
          for (int r = r0; r < r1; ++r) {
            for (int c = c0; c < c1; ++c) {
              float s = 0.0f;
              for (int k = 0; k < K; ++k) {
                const float av = tA ? o.A[static_cast<size_t>(k) * o.lda + r]
                                    : o.A[static_cast<size_t>(r) * o.lda + k];
                s = std::fma(av, o.B[static_cast<size_t>(k) * o.ldb + c], s);
              }
              parts[static_cast<size_t>(r) * n + c] = s;
            }
          }
        }
      }
    }
    CHECK_SAME_BITS(std::string(tA ? "A^T" : "A") + " slices", parts.data(), whole.data(),
                    whole.size());
  }
}

TEST_CASE(small_gemm, refused_calls_leave_c_alone) {
  Operands o = Make(false, 20, 40, 30, 0, 3);
  const Vec before = o.C;
  auto refused = [&](bool tB, int n, int K, float beta, const char* what) {
    CHECK_MSG(!blasnet::SmallGemm(false, tB, 20, n, K, o.A.data(), o.lda, o.B.data(), o.ldb, beta,
                                  o.C.data(), o.ldc),
              what << ": taken");
    CHECK_SAME_BITS(what, o.C.data(), before.data(), o.C.size());
  };
  refused(true, 40, 30, 0.0f, "B transposed");
  refused(false, 40, 30, 0.5f, "beta 0.5");
  refused(false, 12, 30, 0.0f, "12 columns");
  refused(false, 38, 30, 0.0f, "38 columns");
  // Too long a K for the range (the operands are not read: it refuses before).
  refused(false, 40, 1025, 0.0f, "K 1025");
}
