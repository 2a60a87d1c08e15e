// SPDX-License-Identifier: MIT
// blasnet's own single-thread sgemm for the small products of dense layers (a batch of ~100
// rows times layers of 10-800 units), on cores where OpenBLAS has no small-matrix kernels.
//
// OpenBLAS packs both operands into its blocked layout on every call and, for beta = 0, first
// zeroes C in a separate pass; for a 100 x 100 x 100 product that is a sixth of the time (W2 at
// one thread, AMD EPYC Zen 4, OpenBLAS 0.3.21 Zen: kernel 60%, packing 15%, beta 2.4% of all
// samples). These products fit in L1/L2, so the kernel here reads the operands in place: a
// 6 x 16 block of C in twelve AVX2 registers, each k adding the outer product of six entries of
// op(A), broadcast, and a 16-float row of B. Each entry of C is a sum over k in order, whatever
// the block it lies in, so a slice of C (the threads' row slices) gets the same bits as the
// whole product.
#pragma once

namespace blasnet {

// C (m x n, leading dimension ldc) = op(A) · B (beta = 0) or C + op(A) · B (beta = 1), with
// op(A) = A (m x K, lda) or Aᵀ (A stored K x m, lda) and B row-major (K x n, ldb). Returns
// false, having done nothing, when it does not take the call: B transposed, another beta, a
// shape outside the small range (n a multiple of 4 from 16, K and n up to 1024; see
// small_gemm.cc), or no AVX2 at the active instruction-set level (isa.h).
// BLASNET_SMALL_GEMM=0 in the environment turns it off (every call returns false), =1 takes it
// also where OpenBLAS has small-matrix kernels of its own (for the tests).
bool SmallGemm(bool transA, bool transB, int m, int n, int K, const float* a, int lda,
               const float* b, int ldb, float beta, float* c, int ldc);

// Whether SmallGemm may take calls on this machine (the setting above and the CPU level).
bool SmallGemmEnabled();

// Whether OpenBLAS runs one of its cores with small-matrix sgemm kernels of its own (SkylakeX,
// Cooperlake, SapphireRapids: AVX-512; OpenBLAS 0.3.17 and later), which read the operands in
// place for products of up to 100³ multiply-adds: faster there than SmallGemm (measured on AMD
// EPYC Zen 5 with OpenBLAS 0.3.21 Cooperlake), and what gemm.cc cuts larger products for.
bool OpenblasHasSmallKernels();

}  // namespace blasnet
