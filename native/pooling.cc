// SPDX-License-Identifier: MIT
#include "pooling.h"

#include <cmath>
#include <cstring>

#include "generated/contract.h"
#include "isa.h"
#include "threads.h"

namespace blasnet {
namespace {

// Splits the N*C planes over the loop threads.
template <typename Fn>
void ForPlanes(const PoolGeom& g, Fn&& fn) {
  const int64_t planes = g.N * g.C;
  ParallelFor(planes, planes * g.OH * g.OW * g.FH * g.FW, [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) fn(p);
  });
}

// One output row of a 2x2, stride-2 max pool: r0 and r1 are the two input rows, i0 the
// plane index of r0[0] and W the row length. Branch-free and with constant strides, so
// the compiler vectorises it; returns true when a NaN was seen (the caller then redoes
// the row with the NaN-aware scalar loop).
BLASNET_INLINE bool MaxPoolRow2x2Impl(const float* __restrict r0, const float* __restrict r1,
                                      float* __restrict out, int32_t* __restrict arg, int64_t OW,
                                      int32_t i0, int32_t W) {
  int nan = 0;
  for (int64_t ow = 0; ow < OW; ++ow) {
    const float v0 = r0[2 * ow], v1 = r0[2 * ow + 1], v2 = r1[2 * ow], v3 = r1[2 * ow + 1];
    const int32_t a0 = i0 + 2 * static_cast<int32_t>(ow), a2 = a0 + W;
    const bool c1 = v1 > v0;
    float best = c1 ? v1 : v0;
    int32_t at = c1 ? a0 + 1 : a0;
    const bool c2 = v2 > best;
    best = c2 ? v2 : best;
    at = c2 ? a2 : at;
    const bool c3 = v3 > best;
    best = c3 ? v3 : best;
    at = c3 ? a2 + 1 : at;
    out[ow] = best;
    arg[ow] = at;
    nan |= (v0 != v0) | (v1 != v1) | (v2 != v2) | (v3 != v3);
  }
  return nan != 0;
}

// 512-bit vectors make these short rows (4 to 14 outputs) 2-5x slower: 256-bit registers.
BLASNET_MULTIVERSION(MaxPoolRow2x2, MaxPoolRow2x2Impl, BLASNET_TARGET_AVX512)

}  // namespace

void MaxPoolPlane(const PoolGeom& g, const float* xp, float* op, int32_t* ap) {
  if (g.pad == 0 && g.FH == 2 && g.FW == 2 && g.stride == 2) {
    bool any_nan = false;
    for (int64_t oh = 0; oh < g.OH; ++oh) {
      const float* r0 = xp + 2 * oh * g.W;
      any_nan |= MaxPoolRow2x2(r0, r0 + g.W, op + oh * g.OW, ap + oh * g.OW, g.OW,
                               static_cast<int32_t>(2 * oh * g.W), static_cast<int32_t>(g.W));
    }
    if (!any_nan) return;
    // A NaN in the plane: fall through to the scalar loop, which lets the first NaN win.
  }
  if (g.pad == 0) {
    // Every window lies inside the plane: no bounds checks in the inner loop.
    for (int64_t oh = 0; oh < g.OH; ++oh) {
      for (int64_t ow = 0; ow < g.OW; ++ow) {
        const int64_t base = oh * g.stride * g.W + ow * g.stride;
        float best = xp[base];
        int64_t at = base;
        for (int64_t ph = 0; ph < g.FH; ++ph) {
          const float* row = xp + base + ph * g.W;
          for (int64_t pw = 0; pw < g.FW; ++pw) {
            const float v = row[pw];
            if (v > best || (v != v && best == best)) {
              best = v;
              at = base + ph * g.W + pw;
            }
          }
        }
        op[oh * g.OW + ow] = best;
        ap[oh * g.OW + ow] = static_cast<int32_t>(at);
      }
    }
    return;
  }
  for (int64_t oh = 0; oh < g.OH; ++oh) {
    for (int64_t ow = 0; ow < g.OW; ++ow) {
      const int64_t h0 = oh * g.stride - g.pad, w0 = ow * g.stride - g.pad;
      bool first = true;
      float best = 0.0f;
      int32_t at = -1;
      // Scan in (ph, pw) order; the first maximum wins, as numpy's argmax.
      for (int64_t ph = 0; ph < g.FH; ++ph) {
        const int64_t h = h0 + ph;
        for (int64_t pw = 0; pw < g.FW; ++pw) {
          const int64_t w = w0 + pw;
          const bool inside = h >= 0 && h < g.H && w >= 0 && w < g.W;
          const float v = inside ? xp[h * g.W + w] : 0.0f;
          if (first || v > best || (v != v && best == best)) {
            best = v;
            at = inside ? static_cast<int32_t>(h * g.W + w) : -1;
            first = false;
          }
        }
      }
      op[oh * g.OW + ow] = best;
      ap[oh * g.OW + ow] = at;
    }
  }
}

void MaxPoolForward(const PoolGeom& g, const float* x, float* out, int32_t* argmax) {
  ForPlanes(g, [&](int64_t p) {
    MaxPoolPlane(g, x + p * g.H * g.W, out + p * g.OH * g.OW, argmax + p * g.OH * g.OW);
  });
}

void MaxPoolPlaneBackward(const PoolGeom& g, const float* d, const int32_t* a, float* dp,
                          const float* relu_pooled) {
  std::memset(dp, 0, sizeof(float) * g.H * g.W);
  const int64_t plane = g.H * g.W;
  for (int64_t i = 0; i < g.OH * g.OW; ++i) {
    // Indices come from our own forward pass, but a caller may hand in any
    // Int32Array: never write outside the plane.
    if (a[i] < 0 || a[i] >= plane) continue;
    // The pooled value is the Relu output at a[i]: where it is <= 0 the Relu passes nothing
    // (as ReluBackward: NaN passes).
    if (relu_pooled != nullptr && relu_pooled[i] <= 0.0f) continue;
    dp[a[i]] += d[i];
  }
}

void MaxPoolBackward(const PoolGeom& g, const float* dout, const int32_t* argmax, float* dx) {
  ForPlanes(g, [&](int64_t p) {
    MaxPoolPlaneBackward(g, dout + p * g.OH * g.OW, argmax + p * g.OH * g.OW, dx + p * g.H * g.W,
                         nullptr);
  });
}

void AvgPoolForward(const PoolGeom& g, const float* x, float* out) {
  const float scale = 1.0f / static_cast<float>(g.FH * g.FW);
  ForPlanes(g, [&](int64_t p) {
    const float* xp = x + p * g.H * g.W;
    float* op = out + p * g.OH * g.OW;
    for (int64_t oh = 0; oh < g.OH; ++oh) {
      for (int64_t ow = 0; ow < g.OW; ++ow) {
        const int64_t h0 = oh * g.stride - g.pad, w0 = ow * g.stride - g.pad;
        float acc = 0.0f;
        for (int64_t ph = 0; ph < g.FH; ++ph) {
          const int64_t h = h0 + ph;
          if (h < 0 || h >= g.H) continue;
          for (int64_t pw = 0; pw < g.FW; ++pw) {
            const int64_t w = w0 + pw;
            if (w >= 0 && w < g.W) acc += xp[h * g.W + w];
          }
        }
        op[oh * g.OW + ow] = acc * scale;
      }
    }
  });
}

void AvgPoolBackward(const PoolGeom& g, const float* dout, float* dx) {
  const float scale = 1.0f / static_cast<float>(g.FH * g.FW);
  ForPlanes(g, [&](int64_t p) {
    float* dp = dx + p * g.H * g.W;
    std::memset(dp, 0, sizeof(float) * g.H * g.W);
    const float* d = dout + p * g.OH * g.OW;
    for (int64_t oh = 0; oh < g.OH; ++oh) {
      for (int64_t ow = 0; ow < g.OW; ++ow) {
        const float v = d[oh * g.OW + ow] * scale;
        const int64_t h0 = oh * g.stride - g.pad, w0 = ow * g.stride - g.pad;
        for (int64_t ph = 0; ph < g.FH; ++ph) {
          const int64_t h = h0 + ph;
          if (h < 0 || h >= g.H) continue;
          for (int64_t pw = 0; pw < g.FW; ++pw) {
            const int64_t w = w0 + pw;
            if (w >= 0 && w < g.W) dp[h * g.W + w] += v;
          }
        }
      }
    }
  });
}

// ---- Bindings: max and average pooling (lib/core/contract.ts) ----

void Run(const MaxPoolForwardArgs& a) {
  MaxPoolForward(WindowOf(a.g), a.x.data, a.out.data, a.argmax.data);
}
void Run(const MaxPoolBackwardArgs& a) {
  MaxPoolBackward(WindowOf(a.g), a.dout.data, a.argmax.data, a.dx.data);
}
void Run(const AvgPoolForwardArgs& a) { AvgPoolForward(WindowOf(a.g), a.x.data, a.out.data); }
void Run(const AvgPoolBackwardArgs& a) { AvgPoolBackward(WindowOf(a.g), a.dout.data, a.dx.data); }

}  // namespace blasnet
