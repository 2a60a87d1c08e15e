// SPDX-License-Identifier: MIT
// Direct convolution of thin layers (stride 1, few taps C·FH·FW, such as a first layer on grey
// images): with K = C·FH·FW of 9-32 the im2col + sgemm path spends as much time building and
// packing columns as multiplying, and sgemm's blocking has too short an inner dimension to
// pay. Here each sample's padded planes are read in place by vector loads (the kernels, one per
// instruction-set level, are in conv_direct_kernels.h). dW and db are summed per fixed sample
// block and the blocks added in order, as ConvBackward does, so results do not depend on the
// thread count; dx, when asked for, is the im2col path's (W^T · dout, then col2im). Behind a
// 2x2 max pooling (the fused step) the forward pass pools (with the Relu) straight from the
// kernel's wide outputs, and dW and db sum only the windows' winners, read from the pooled
// gradient and argmax: a quarter of the multiply-adds, and no dense gradient.
#include <algorithm>
#include <string>

#include "common.h"
#include "conv.h"
#include "gemm.h"
#include "isa.h"
#include "scratch.h"
#include "threads.h"

// Vectors passed between the inlined helpers of the generic level (see winograd.cc).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

namespace blasnet {
namespace {

// The geometry of one call, in the kernels' terms.
struct DirectPlan {
  int64_t T, Tr;       // taps C·FH·FW; rounded up to the backward tap block
  int64_t FW;          // taps per row (C·FH rows)
  int64_t FNf, FNb;    // filters rounded up to the forward and backward filter blocks
  int64_t Hp, Wp, Pp;  // padded plane: height, width, size
  int64_t Q, Qr;       // wide positions OH·Wp; rounded up to the forward position block
  int64_t xlen;        // floats of a sample's padded planes, with the slack the loads run into
  const int64_t* off;  // Tr tap offsets into the padded planes (0 past T)
};

struct ForwardKernels {
  int fblock, qblock;
  void (*forward)(const DirectPlan&, const float*, const float*, float*);
  void (*compact)(const DirectPlan&, int64_t, int64_t, int64_t, const float*, const float*, float*);
  void (*compact_pool)(const DirectPlan&, int64_t, int64_t, int64_t, const float*, const float*,
                       bool, float*, int32_t*);
};

struct BackwardKernels {
  int lanes, gblock, tblock;
  void (*backward_weights)(const DirectPlan&, int64_t, int64_t, int64_t, const float*, const float*,
                           float*);
  void (*lane_sums)(const float*, int64_t, float*);
  void (*grad_sums)(int64_t, int64_t, const float*, float*);
  bool (*pooled_backward)(const DirectPlan&, int64_t, int64_t, int64_t, const float*,
                          const PoolGradFusion&, int64_t, float*, float*, float*, float*);
};

struct Kernels {
  ForwardKernels f;
  BackwardKernels b;
};

namespace direct_generic {
namespace {
#define BLASNET_DIRECT_LANES 4
#define BLASNET_DIRECT_REGS 16
#include "conv_direct_kernels.h"
#undef BLASNET_DIRECT_LANES
#undef BLASNET_DIRECT_REGS
}  // namespace
}  // namespace direct_generic

#if BLASNET_X86
BLASNET_BEGIN_AVX2
namespace direct_avx2 {
namespace {
#define BLASNET_DIRECT_LANES 8
#define BLASNET_DIRECT_REGS 16
#include "conv_direct_kernels.h"
#undef BLASNET_DIRECT_LANES
#undef BLASNET_DIRECT_REGS
}  // namespace
}  // namespace direct_avx2
BLASNET_END_TARGET

BLASNET_BEGIN_AVX512_ZMM
namespace direct_avx512 {
namespace {
#define BLASNET_DIRECT_LANES 16
#define BLASNET_DIRECT_REGS 32
#include "conv_direct_kernels.h"
#undef BLASNET_DIRECT_LANES
#undef BLASNET_DIRECT_REGS
}  // namespace
}  // namespace direct_avx512
// The backward pass walks the gradient row by row: rows of 24-28 positions (28x28 images) fill
// 8-lane vectors with little waste where 16-lane ones would run half empty, and AVX-512's 32
// registers hold the larger register block.
namespace direct_avx512_ymm {
namespace {
#define BLASNET_DIRECT_LANES 8
#define BLASNET_DIRECT_REGS 32
#include "conv_direct_kernels.h"
#undef BLASNET_DIRECT_LANES
#undef BLASNET_DIRECT_REGS
}  // namespace
}  // namespace direct_avx512_ymm
BLASNET_END_TARGET
#endif

const Kernels& ActiveKernels() {
#if BLASNET_X86
  static const Kernels avx512{direct_avx512::kForward, direct_avx512_ymm::kBackward};
  static const Kernels avx2{direct_avx2::kForward, direct_avx2::kBackward};
  switch (ActiveIsa()) {
    case Isa::kAvx512:
      return avx512;
    case Isa::kAvx2:
      return avx2;
    default:
      break;
  }
#endif
  static const Kernels generic{direct_generic::kForward, direct_generic::kBackward};
  return generic;
}

// Floats of slack after the padded planes and the wide outputs: the widest vector (AVX-512's
// 16 lanes), which the kernels' loads and Compact's copies may run past a row's end by.
constexpr int64_t kSlack = 16;

int64_t RoundUp(int64_t n, int64_t m) { return (n + m - 1) / m * m; }

DirectPlan Plan(const ConvGeom& g, int64_t FN, const Kernels& k, Scratch<int64_t>& off_buf) {
  DirectPlan p{};
  p.T = g.cols();
  p.Tr = RoundUp(p.T, k.b.tblock);
  p.FW = g.FW;
  p.FNf = RoundUp(FN, k.f.fblock);
  p.FNb = RoundUp(FN, k.b.gblock);
  p.Hp = g.H + 2 * g.pad;
  p.Wp = g.W + 2 * g.pad;
  p.Pp = p.Hp * p.Wp;
  p.Q = g.OH * p.Wp;
  p.Qr = RoundUp(p.Q, k.f.qblock);
  // The last load of the last channel ends at C·Pp + (Qr - Q) + FW - 2 (OH + FH - 1 = Hp).
  p.xlen = g.C * p.Pp + (p.Qr - p.Q) + g.FW + kSlack;
  int64_t* off = off_buf.Get(p.Tr);
  for (int64_t c = 0, t = 0; c < g.C; ++c) {
    for (int64_t kh = 0; kh < g.FH; ++kh) {
      for (int64_t kw = 0; kw < g.FW; ++kw) off[t++] = c * p.Pp + kh * p.Wp + kw;
    }
  }
  std::fill(off + p.T, off + p.Tr, int64_t{0});
  p.off = off;
  return p;
}

// Sample x (C, H, W) into its zero-padded planes xp (xlen floats).
void PadInto(const ConvGeom& g, const DirectPlan& p, const float* x, float* xp) {
  std::fill(xp, xp + p.xlen, 0.0f);
  for (int64_t c = 0; c < g.C; ++c) {
    for (int64_t i = 0; i < g.H; ++i) {
      const float* src = x + (c * g.H + i) * g.W;
      std::copy(src, src + g.W, xp + c * p.Pp + (i + g.pad) * p.Wp + g.pad);
    }
  }
}

}  // namespace

bool DirectFits(const ConvGeom& g) { return g.stride == 1 && g.cols() <= kDirectMaxTaps; }

bool DirectPays(const ConvGeom& g, Pass pass) {
  if (!DirectFits(g)) return false;
  // Measured per layer on SimpleConvNet's and DeepConvNet's first layers (2 threads, batch 100,
  // AMD EPYC Zen 5): with AVX2 vectors the direct kernels took 0.6-0.9x the time of im2col +
  // OpenBLAS's Haswell sgemm forward and 0.55-0.65x backward; with AVX-512, 0.75-0.9x forward
  // but 1.05-1.25x backward (OpenBLAS's SkylakeX kernels use 16-lane vectors, this backward 8),
  // and with the baseline's 4-lane vectors 2-4x.
  switch (ActiveIsa()) {
    case Isa::kAvx2:
      return true;
    case Isa::kAvx512:
      return pass == Pass::kForward;
    default:
      return false;
  }
}

void DirectForward(const ConvGeom& g, int64_t FN, const float* x, const float* W, const float* b,
                   const ConvOutput& out) {
  const Kernels& k = ActiveKernels();
  thread_local Scratch<int64_t> off_buf;
  thread_local Scratch<float> wt_buf;
  const DirectPlan p = Plan(g, FN, k, off_buf);
  // Wt (taps x FNf): the weights of one tap for a block of filters side by side, 0 past FN.
  float* Wt = wt_buf.Get(p.T * p.FNf);
  for (int64_t t = 0; t < p.T; ++t) {
    for (int64_t f = 0; f < p.FNf; ++f) Wt[t * p.FNf + f] = f < FN ? W[f * p.T + t] : 0.0f;
  }
  const int64_t S = g.rows();
  // A 2x2 max pooling after it: pooled straight from the wide outputs (CompactPool2x2).
  const PoolFusion* pool = out.pool2x2();
  const int64_t P = (g.OH / 2) * (g.OW / 2);
  ParallelFor(g.N, g.N * S * p.T * FN, [&](int64_t begin, int64_t end) {
    thread_local Scratch<float> xp_buf, yw_buf, out_buf;
    float* xp = xp_buf.Get(p.xlen);
    // Slack for the pooling's reads past a row (2 vectors); zeroed so they read numbers.
    float* yw = yw_buf.Get(p.FNf * p.Qr + 2 * kSlack);
    std::fill(yw + p.FNf * p.Qr, yw + p.FNf * p.Qr + 2 * kSlack, 0.0f);
    for (int64_t n = begin; n < end; ++n) {
      PadInto(g, p, x + n * g.in_size(), xp);
      k.f.forward(p, xp, Wt, yw);
      if (pool != nullptr) {
        k.f.compact_pool(p, FN, g.OH, g.OW, yw, b, pool->relu, pool->pooled + n * FN * P,
                         pool->argmax + n * FN * P);
        continue;
      }
      float* y = out.Sample(n);
      if (y == nullptr) y = out_buf.Get(FN * S);
      k.f.compact(p, FN, g.OH, g.OW, yw, b, y);
      out.Done(n, y);
    }
  });
}

void DirectBackward(const ConvGeom& g, int64_t FN, const float* x, const float* W,
                    const ConvOutputGrad& dout, float* dW, float* db, float* dx) {
  const Kernels& k = ActiveKernels();
  thread_local Scratch<int64_t> off_buf;
  const DirectPlan p = Plan(g, FN, k, off_buf);
  const int64_t S = g.rows(), K = p.T;
  const int iFN = static_cast<int>(FN), iS = static_cast<int>(S), iK = static_cast<int>(K);
  const int64_t blocks = ReductionBlocks(g.N), part = K * FN + FN;
  thread_local Scratch<float> partial_buf;
  float* partials = partial_buf.Get(blocks * part);
  // A gradient through a 2x2 max pooling: dW and db from the windows' winners only.
  const PoolGradFusion* pooled = dout.pool2x2();
  const int64_t lanes = k.b.lanes;
  const int64_t qlen = (K / g.FW) * RoundUp(g.FW, lanes);
  ParallelFor(blocks, g.N * S * K * FN * (dx ? 2 : 1), [&](int64_t b0, int64_t b1) {
    thread_local Scratch<float> xp_buf, pv_buf, sum_buf, grad_buf, col_buf, lists_buf, q_buf;
    float* xp = xp_buf.Get(p.xlen);
    float* pv = pv_buf.Get(p.FNb * p.Tr * k.b.lanes);
    float* sums = sum_buf.Get(p.FNb * p.Tr);
    for (int64_t blk = b0; blk < b1; ++blk) {
      float* dwT = partials + blk * part;
      float* dbp = dwT + K * FN;
      std::fill(dbp, dbp + FN, 0.0f);
      std::fill(pv, pv + p.FNb * p.Tr * k.b.lanes, 0.0f);
      int64_t first, last;
      BlockRange(g.N, blocks, blk, &first, &last);
      for (int64_t n = first; n < last; ++n) {
        PadInto(g, p, x + n * g.in_size(), xp);
        const float* d = nullptr;
        if (pooled == nullptr ||
            !k.b.pooled_backward(p, FN, g.OH, g.OW, xp, *pooled, n, pv, dbp,
                                 lists_buf.Get((2 * (S / 4) + 1) * FN + 3 * (S / 4)),
                                 q_buf.Get(qlen))) {
          d = dout.Sample(n, dout.uses_scratch() ? grad_buf.Get(FN * S) : nullptr);
          k.b.grad_sums(FN, S, d, dbp);
          k.b.backward_weights(p, FN, g.OH, g.OW, xp, d, pv);
        }
        if (dx != nullptr) {
          if (d == nullptr)
            d = dout.Sample(n, dout.uses_scratch() ? grad_buf.Get(FN * S) : nullptr);
          float* dcolT = col_buf.Get(K * S);
          Sgemm(true, false, iK, iS, iFN, 1.0f, W, d, 0.0f, dcolT, false);
          Col2imTOne(g, dcolT, dx + n * g.in_size());
        }
      }
      k.b.lane_sums(pv, p.FNb * p.Tr, sums);
      for (int64_t t = 0; t < K; ++t) {
        for (int64_t f = 0; f < FN; ++f) dwT[t * FN + f] = sums[f * p.Tr + t];
      }
    }
  });
  AddBlockSums(partials, blocks, K, FN, dW, db);
}

}  // namespace blasnet
