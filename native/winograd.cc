// SPDX-License-Identifier: MIT
// Winograd F(2x2, 3x3) convolution (winograd.h): the driver (filter transforms, threads, the
// fixed reductions) and the kernels of each instruction-set level (winograd_kernels.h, compiled
// here once per level: 16 lanes with OpenBLAS's gemms on AVX-512, 8 lanes with the no-pack gemm
// on AVX2, 8 lanes with OpenBLAS's gemms elsewhere).
#include "winograd.h"

#include <cblas.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "common.h"
#include "isa.h"
#include "scratch.h"
#include "threads.h"

// Vectors passed between the inlined helpers of the generic level, where no wider registers
// exist: GCC notes that the ABI of such calls differs, which does not matter for inline code.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

namespace blasnet {

namespace wino_generic {
namespace {
#define BLASNET_WINO_LANES 8
#define BLASNET_WINO_NOPACK 0
#include "winograd_kernels.h"
#undef BLASNET_WINO_LANES
#undef BLASNET_WINO_NOPACK
}  // namespace
}  // namespace wino_generic

#if BLASNET_X86
BLASNET_BEGIN_AVX2
namespace wino_avx2 {
namespace {
// OpenBLAS's Haswell kernels run these K = 16-64 gemms at 60-90 GFLOP/s; the no-pack kernel
// at about 105 (1.2-1.7x).
#define BLASNET_WINO_LANES 8
#define BLASNET_WINO_NOPACK 1
#include "winograd_kernels.h"
#undef BLASNET_WINO_LANES
#undef BLASNET_WINO_NOPACK
}  // namespace
}  // namespace wino_avx2
BLASNET_END_TARGET

BLASNET_BEGIN_AVX512_ZMM
namespace wino_avx512 {
namespace {
// OpenBLAS's SkylakeX kernels run these gemms at 115-155 GFLOP/s, faster than the no-pack one.
#define BLASNET_WINO_LANES 16
#define BLASNET_WINO_NOPACK 0
#include "winograd_kernels.h"
#undef BLASNET_WINO_LANES
#undef BLASNET_WINO_NOPACK
}  // namespace
}  // namespace wino_avx512
BLASNET_END_TARGET
#endif

namespace {

// Aim for about this many tiles per gemm block: enough rows for the gemms, while a block's
// transformed input and output stay within a core's L2 cache.
constexpr int64_t kBlockTiles = 192;
constexpr int64_t kMaxBlockSamples = 8;
// The channel counts must be multiples of this (the narrowest engine's lanes).
constexpr int64_t kChannelMultiple = 8;
// The filter gradient is summed over at most this many blocks of samples, fixed by the batch
// size (threads.h's 24 would cost a third of a millisecond per DeepConvNet step in adding up
// the transformed partial sums); 8 splits evenly over 1, 2, 4 and 8 threads.
constexpr int64_t kReductionBlocks = 8;

struct Engine {
  int64_t lanes;
  void (*filter)(const double (*)[9], const float*, int64_t, int64_t, int64_t, int64_t, float*);
  void (*filter_rotated)(const double (*)[9], const float*, int64_t, int64_t, int64_t, int64_t,
                         float*);
  void (*filter_grad)(const double (*)[9], const float*, int64_t, int64_t, int64_t, int64_t,
                      float*);
  void (*add_to)(const float*, float*, int64_t);
  void (*forward)(const WinoPlan&, const float*, const float*, const float*, const float*,
                  const ConvOutput&, int64_t, int64_t);
  void (*backward)(const WinoPlan&, const float*, const float*, const float*, const ConvOutputGrad&,
                   float*, int64_t, int64_t, float*, bool, float*);
};

const Engine kGeneric{8,
                      wino_generic::FilterTransformChannels,
                      wino_generic::FilterTransformRotated,
                      wino_generic::FilterGradChannels,
                      wino_generic::AddTo,
                      wino_generic::ForwardBlock,
                      wino_generic::BackwardBlock};
#if BLASNET_X86
const Engine kAvx2{8,
                   wino_avx2::FilterTransformChannels,
                   wino_avx2::FilterTransformRotated,
                   wino_avx2::FilterGradChannels,
                   wino_avx2::AddTo,
                   wino_avx2::ForwardBlock,
                   wino_avx2::BackwardBlock};
const Engine kAvx512{16,
                     wino_avx512::FilterTransformChannels,
                     wino_avx512::FilterTransformRotated,
                     wino_avx512::FilterGradChannels,
                     wino_avx512::AddTo,
                     wino_avx512::ForwardBlock,
                     wino_avx512::BackwardBlock};
#endif

// The engine of the active level; AVX-512's needs channel counts that are multiples of 16, and
// AVX-512 CPUs run the AVX2 one otherwise.
const Engine& EngineFor(int64_t C, int64_t FN) {
#if BLASNET_X86
  switch (ActiveIsa()) {
    case Isa::kAvx512:
      if (C % 16 == 0 && FN % 16 == 0) return kAvx512;
      return kAvx2;
    case Isa::kAvx2:
      return kAvx2;
    default:
      return kGeneric;
  }
#else
  return kGeneric;
#endif
}

WinoPlan Plan(const ConvGeom& g, int64_t FN) {
  WinoPlan p;
  p.N = g.N;
  p.C = g.C;
  p.H = g.H;
  p.W = g.W;
  p.FN = FN;
  p.pad = g.pad;
  p.OH = g.OH;
  p.OW = g.OW;
  p.TH = (p.OH + 1) / 2;
  p.TW = (p.OW + 1) / 2;
  p.T = p.TH * p.TW;
  p.PH = p.TH * 2 + 2;
  p.PW = p.TW * 2 + 2;
  p.YH = p.TH * 2;
  p.YW = p.TW * 2;
  p.pad2 = 2 - p.pad;
  p.TH2 = (p.H + 1) / 2;
  p.TW2 = (p.W + 1) / 2;
  p.T2 = p.TH2 * p.TW2;
  p.PH2 = p.TH2 * 2 + 2;
  p.PW2 = p.TW2 * 2 + 2;
  p.YH2 = p.TH2 * 2;
  p.YW2 = p.TW2 * 2;
  p.block = std::clamp<int64_t>(kBlockTiles / std::max<int64_t>(p.T, 1), 1, kMaxBlockSamples);
  return p;
}

// G of F(2x2, 3x3) (a 3-tap filter to the points {0, 1, -1, inf}), and kQ[i·4 + j][r·3 + s] =
// G[i][r]·G[j][s] (winograd_kernels.h).
constexpr double kG[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};

struct QTable {
  double q[16][9];
  QTable() {
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 4; ++j)
        for (int r = 0; r < 3; ++r)
          for (int s = 0; s < 3; ++s) q[i * 4 + j][r * 3 + s] = kG[i][r] * kG[j][s];
  }
};
const QTable kQ;

}  // namespace

bool WinogradFits(const ConvGeom& g, int64_t FN) {
  return g.FH == 3 && g.FW == 3 && g.stride == 1 && g.pad <= 2 && g.C % kChannelMultiple == 0 &&
         FN % kChannelMultiple == 0 && g.OH >= 1 && g.OW >= 1;
}

bool WinogradPays(const ConvGeom& g, int64_t FN) {
  if (!WinogradFits(g, FN)) return false;
  // Measured per layer, one thread (CPU time, forward and backward, batches of 10-100): with
  // AVX2 or AVX-512 vectors Winograd was 1.0-2.2x faster than im2col + sgemm on every shape
  // tried, from 8 channels up; with the baseline's 128-bit vectors only from C·FN = 64·64
  // (1.2x; 0.7-0.95x below).
  if (ActiveIsa() != Isa::kGeneric) return true;
  return g.C * FN >= 64 * 64;
}

void WinogradForward(const ConvGeom& g, int64_t FN, const float* x, const float* W, const float* b,
                     const ConvOutput& out) {
  const WinoPlan p = Plan(g, FN);
  const Engine& e = EngineFor(g.C, FN);
  thread_local Scratch<float> u_buf;
  float* U = u_buf.Get(16 * g.C * FN);
  ParallelFor(g.C, g.C * FN * 16 * 9,
              [&](int64_t c0, int64_t c1) { e.filter(kQ.q, W, FN, g.C, c0, c1, U); });
  const float* x_end = x + g.N * g.in_size();
  const int64_t blocks = (g.N + p.block - 1) / p.block;
  ParallelFor(blocks, g.N * p.T * 16 * g.C * FN, [&](int64_t b0, int64_t b1) {
    for (int64_t blk = b0; blk < b1; ++blk) {
      const int64_t n0 = blk * p.block;
      e.forward(p, x, x_end, U, b, out, n0, std::min(p.block, g.N - n0));
    }
  });
}

void WinogradBackward(const ConvGeom& g, int64_t FN, const float* x, const float* W,
                      const ConvOutputGrad& dout, float* dW, float* db, float* dx) {
  const WinoPlan p = Plan(g, FN);
  const Engine& e = EngineFor(g.C, FN);
  thread_local Scratch<float> ur_buf, partial_buf;
  float* Ur = nullptr;
  if (dx != nullptr) {
    Ur = ur_buf.Get(16 * g.C * FN);
    ParallelFor(FN, g.C * FN * 16 * 9,
                [&](int64_t f0, int64_t f1) { e.filter_rotated(kQ.q, W, FN, g.C, f0, f1, Ur); });
  }
  // Each reduction block's sums: dU [16][C][FN], then db [FN].
  const int64_t blocks = std::min(g.N, kReductionBlocks), dU_size = 16 * g.C * FN,
                part = dU_size + FN;
  float* partials = partial_buf.Get(blocks * part);
  const float* x_end = x + g.N * g.in_size();
  const int64_t work = g.N * (p.T + (dx ? p.T2 : 0)) * 16 * g.C * FN;
  ParallelFor(blocks, work, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      float* dU = partials + r * part;
      float* dbp = dU + dU_size;
      std::fill(dbp, dbp + FN, 0.0f);
      int64_t first, last;
      BlockRange(g.N, blocks, r, &first, &last);
      for (int64_t n0 = first; n0 < last; n0 += p.block) {
        e.backward(p, x, x_end, Ur, dout, dx, n0, std::min(p.block, last - n0), dU, n0 != first,
                   dbp);
      }
    }
  });
  // The block sums added in block order (each element on its own), into block 0's.
  ParallelFor(part, part * blocks, [&](int64_t e0, int64_t e1) {
    for (int64_t r = 1; r < blocks; ++r) e.add_to(partials + r * part + e0, partials + e0, e1 - e0);
  });
  ParallelFor(g.C, g.C * FN * 16 * 9,
              [&](int64_t c0, int64_t c1) { e.filter_grad(kQ.q, partials, FN, g.C, c0, c1, dW); });
  std::copy(partials + dU_size, partials + part, db);
}

}  // namespace blasnet
