// SPDX-License-Identifier: MIT
#include "pooling.h"

#include <cmath>
#include <cstring>

#include "common.h"

namespace blasnet {
namespace {

// Splits the N*C planes over the loop threads.
template <typename Fn>
void ForPlanes(const PoolGeom& g, Fn&& fn) {
  const int64_t planes = g.N * g.C;
  ParallelFor(planes, planes * g.OH * g.OW * g.PH * g.PW, [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) fn(p);
  });
}

}  // namespace

void MaxPoolForward(const PoolGeom& g, const float* x, float* out, int32_t* argmax) {
  ForPlanes(g, [&](int64_t p) {
    const float* xp = x + p * g.H * g.W;
    float* op = out + p * g.OH * g.OW;
    int32_t* ap = argmax + p * g.OH * g.OW;
    if (g.pad == 0 && g.PH == 2 && g.PW == 2) {
      // The common 2x2 window: four loads and three compares per output.
      for (int64_t oh = 0; oh < g.OH; ++oh) {
        const int64_t h = oh * g.stride;
        const float* r0 = xp + h * g.W;
        const float* r1 = r0 + g.W;
        float* orow = op + oh * g.OW;
        int32_t* arow = ap + oh * g.OW;
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          const int64_t w = ow * g.stride;
          float best = r0[w];
          int32_t at = static_cast<int32_t>(h * g.W + w);
          if (r0[w + 1] > best) { best = r0[w + 1]; at = static_cast<int32_t>(h * g.W + w + 1); }
          if (r1[w] > best) { best = r1[w]; at = static_cast<int32_t>((h + 1) * g.W + w); }
          if (r1[w + 1] > best) { best = r1[w + 1]; at = static_cast<int32_t>((h + 1) * g.W + w + 1); }
          if (std::isnan(r0[w] + r0[w + 1] + r1[w] + r1[w + 1])) {
            // A NaN wins, as numpy's argmax: the first NaN in scan order.
            const float c[4] = {r0[w], r0[w + 1], r1[w], r1[w + 1]};
            const int32_t idx[4] = {static_cast<int32_t>(h * g.W + w), static_cast<int32_t>(h * g.W + w + 1),
                                    static_cast<int32_t>((h + 1) * g.W + w), static_cast<int32_t>((h + 1) * g.W + w + 1)};
            for (int i = 0; i < 4; ++i) {
              if (c[i] != c[i]) {
                best = c[i];
                at = idx[i];
                break;
              }
            }
          }
          orow[ow] = best;
          arow[ow] = at;
        }
      }
      return;
    }
    if (g.pad == 0) {
      // Every window lies inside the plane: no bounds checks in the inner loop.
      for (int64_t oh = 0; oh < g.OH; ++oh) {
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          const int64_t base = oh * g.stride * g.W + ow * g.stride;
          float best = xp[base];
          int64_t at = base;
          for (int64_t ph = 0; ph < g.PH; ++ph) {
            const float* row = xp + base + ph * g.W;
            for (int64_t pw = 0; pw < g.PW; ++pw) {
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
        for (int64_t ph = 0; ph < g.PH; ++ph) {
          const int64_t h = h0 + ph;
          for (int64_t pw = 0; pw < g.PW; ++pw) {
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
  });
}

void MaxPoolBackward(const PoolGeom& g, const float* dout, const int32_t* argmax, float* dx) {
  ForPlanes(g, [&](int64_t p) {
    float* dp = dx + p * g.H * g.W;
    std::memset(dp, 0, sizeof(float) * g.H * g.W);
    const float* d = dout + p * g.OH * g.OW;
    const int32_t* a = argmax + p * g.OH * g.OW;
    const int64_t plane = g.H * g.W;
    for (int64_t i = 0; i < g.OH * g.OW; ++i) {
      // Indices come from our own forward pass, but a caller may hand in any
      // Int32Array: never write outside the plane.
      if (a[i] >= 0 && a[i] < plane) dp[a[i]] += d[i];
    }
  });
}

void AvgPoolForward(const PoolGeom& g, const float* x, float* out) {
  const float scale = 1.0f / static_cast<float>(g.PH * g.PW);
  ForPlanes(g, [&](int64_t p) {
    const float* xp = x + p * g.H * g.W;
    float* op = out + p * g.OH * g.OW;
    for (int64_t oh = 0; oh < g.OH; ++oh) {
      for (int64_t ow = 0; ow < g.OW; ++ow) {
        const int64_t h0 = oh * g.stride - g.pad, w0 = ow * g.stride - g.pad;
        float acc = 0.0f;
        for (int64_t ph = 0; ph < g.PH; ++ph) {
          const int64_t h = h0 + ph;
          if (h < 0 || h >= g.H) continue;
          for (int64_t pw = 0; pw < g.PW; ++pw) {
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
  const float scale = 1.0f / static_cast<float>(g.PH * g.PW);
  ForPlanes(g, [&](int64_t p) {
    float* dp = dx + p * g.H * g.W;
    std::memset(dp, 0, sizeof(float) * g.H * g.W);
    const float* d = dout + p * g.OH * g.OW;
    for (int64_t oh = 0; oh < g.OH; ++oh) {
      for (int64_t ow = 0; ow < g.OW; ++ow) {
        const float v = d[oh * g.OW + ow] * scale;
        const int64_t h0 = oh * g.stride - g.pad, w0 = ow * g.stride - g.pad;
        for (int64_t ph = 0; ph < g.PH; ++ph) {
          const int64_t h = h0 + ph;
          if (h < 0 || h >= g.H) continue;
          for (int64_t pw = 0; pw < g.PW; ++pw) {
            const int64_t w = w0 + pw;
            if (w >= 0 && w < g.W) dp[h * g.W + w] += v;
          }
        }
      }
    }
  });
}

}  // namespace blasnet
