// SPDX-License-Identifier: MIT
#include "im2col.h"

#include <algorithm>
#include <cstring>

#include "generated/contract.h"
#include "isa.h"
#include "scratch.h"
#include "threads.h"

namespace blasnet {

void Im2colOne(const ConvGeom& g, const float* x, float* col) {
  const int64_t K = g.cols();
  for (int64_t oh = 0; oh < g.OH; ++oh) {
    for (int64_t ow = 0; ow < g.OW; ++ow) {
      float* row = col + (oh * g.OW + ow) * K;
      const int64_t h0 = oh * g.stride - g.pad, w0 = ow * g.stride - g.pad;
      for (int64_t c = 0; c < g.C; ++c) {
        const float* xc = x + c * g.H * g.W;
        for (int64_t fh = 0; fh < g.FH; ++fh) {
          const int64_t h = h0 + fh;
          float* dst = row + (c * g.FH + fh) * g.FW;
          if (h < 0 || h >= g.H) {
            std::memset(dst, 0, sizeof(float) * g.FW);
            continue;
          }
          const float* src = xc + h * g.W;
          if (w0 >= 0 && w0 + g.FW <= g.W) {
            std::memcpy(dst, src + w0, sizeof(float) * g.FW);
          } else {
            for (int64_t fw = 0; fw < g.FW; ++fw) {
              const int64_t w = w0 + fw;
              dst[fw] = (w >= 0 && w < g.W) ? src[w] : 0.0f;
            }
          }
        }
      }
    }
  }
}

void Col2imOne(const ConvGeom& g, const float* col, float* dx) {
  const int64_t K = g.cols();
  std::memset(dx, 0, sizeof(float) * g.in_size());
  for (int64_t oh = 0; oh < g.OH; ++oh) {
    for (int64_t ow = 0; ow < g.OW; ++ow) {
      const float* row = col + (oh * g.OW + ow) * K;
      const int64_t h0 = oh * g.stride - g.pad, w0 = ow * g.stride - g.pad;
      for (int64_t c = 0; c < g.C; ++c) {
        float* dc = dx + c * g.H * g.W;
        for (int64_t fh = 0; fh < g.FH; ++fh) {
          const int64_t h = h0 + fh;
          if (h < 0 || h >= g.H) continue;
          const float* src = row + (c * g.FH + fh) * g.FW;
          float* dst = dc + h * g.W;
          for (int64_t fw = 0; fw < g.FW; ++fw) {
            const int64_t w = w0 + fw;
            if (w >= 0 && w < g.W) dst[w] += src[fw];
          }
        }
      }
    }
  }
}

namespace {

// The output columns ow whose tap w = ow*stride - pad + f lies inside [0, W): [lo, hi).
inline void ValidRange(int64_t W, int64_t OW, int64_t stride, int64_t pad, int64_t f, int64_t* lo,
                       int64_t* hi) {
  const int64_t first = pad - f;  // need ow*stride >= first
  *lo = first <= 0 ? 0 : (first + stride - 1) / stride;
  const int64_t last = W - 1 + pad - f;  // need ow*stride <= last
  *hi = last < 0 ? 0 : std::min(OW, last / stride + 1);
  if (*lo > *hi) *lo = *hi;
}

// Inline (no target_clones: an ifunc call per row of a few floats would cost more than it saves).
inline void CopyRow(const float* __restrict src, float* __restrict dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = src[i];
}

inline void AddRow(const float* __restrict src, float* __restrict dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] += src[i];
}

// With stride 1 and OW == W (a "same" convolution: 2*pad == FW-1), output position
// (oh, ow) of tap (fh, fw) reads input (oh - pad + fh, ow - pad + fw): flat index i of a colT
// row reads flat index i + off of the channel plane, off = (fh-pad)*W + (fw-pad). A whole row
// is then one contiguous copy plus zeros where the window hangs over the edge, instead of one
// short copy per output row (8 or 28 floats each on the course's shapes).
struct FlatTap {
  int64_t off;           // plane index minus colT index
  int64_t begin, end;    // colT indices [begin, end) that are copied (or added)
  int64_t oh_lo, oh_hi;  // output rows whose taps lie inside the image
  int64_t lo, hi;        // output columns whose taps lie inside the image
  bool empty() const { return oh_lo >= oh_hi || lo >= hi; }
};

inline bool Flat(const ConvGeom& g) { return g.stride == 1 && g.OW == g.W; }

// A stride-1 convolution with an odd window padded wider than "same" (DeepConvNet's 3x3 pad 2)
// is a same convolution of the input with `extra` more zeros on every side. Copying the planes
// into such a padded scratch (a few KB) makes the flat path apply; returns that geometry.
inline bool PadToFlat(const ConvGeom& g, ConvGeom* padded, int64_t* extra) {
  if (g.stride != 1 || g.FW % 2 == 0 || g.pad <= (g.FW - 1) / 2) return false;
  *extra = g.pad - (g.FW - 1) / 2;
  *padded = g;
  padded->H = g.H + 2 * *extra;
  padded->W = g.W + 2 * *extra;
  padded->pad = (g.FW - 1) / 2;
  return padded->OW == padded->W;  // always, by the arithmetic above; checked all the same
}

// The padded copy of one sample's planes (PadToFlat).
float* PaddedScratch(size_t n) {
  thread_local Scratch<float> padded;
  return padded.Get(n);
}

inline FlatTap FlatRange(const ConvGeom& g, int64_t fh, int64_t fw) {
  FlatTap t;
  ValidRange(g.W, g.OW, 1, g.pad, fw, &t.lo, &t.hi);
  ValidRange(g.H, g.OH, 1, g.pad, fh, &t.oh_lo, &t.oh_hi);
  t.off = (fh - g.pad) * g.W + (fw - g.pad);
  t.begin = t.oh_lo * g.OW + t.lo;
  t.end = (t.oh_hi - 1) * g.OW + t.hi;
  return t;
}

// Per window column fw, a mask over one colT row: all ones where output column s % OW reads
// inside the image, zero where the tap falls off the left or right edge (the entries between
// row ends that a flat copy or add would otherwise take from the neighbouring image row).
// Built once per geometry and thread; FW rows of S words.
// The masks live in a per-thread scratch; `key` remembers the geometry they were built for,
// and `built` the allocation they were built in (a released scratch comes back empty).
const uint32_t* ColumnMasks(const ConvGeom& g) {
  thread_local Scratch<uint32_t> masks;
  thread_local size_t built = 0;
  thread_local int64_t key[4] = {-1, -1, -1, -1};
  const int64_t S = g.rows();
  uint32_t* m = masks.Get(static_cast<size_t>(g.FW * S));
  if (masks.allocations() != built || key[0] != g.OW || key[1] != S || key[2] != g.pad ||
      key[3] != g.FW) {
    for (int64_t fw = 0; fw < g.FW; ++fw) {
      int64_t lo, hi;
      ValidRange(g.W, g.OW, 1, g.pad, fw, &lo, &hi);
      for (int64_t s = 0; s < S; ++s) {
        const int64_t ow = s % g.OW;
        m[fw * S + s] = (ow >= lo && ow < hi) ? 0xffffffffu : 0u;
      }
    }
    built = masks.allocations();
    key[0] = g.OW;
    key[1] = S;
    key[2] = g.pad;
    key[3] = g.FW;
  }
  return m;
}

// dst[i] = src[i] where mask[i] is set, +0 elsewhere: one streaming pass (bitwise, so a NaN
// or infinity next to the edge never leaks in). Separate scalar stores for the edge entries
// after a plain copy cost as much as the copy itself.
BLASNET_INLINE void CopyMaskedImpl(const float* __restrict src, const uint32_t* __restrict mask,
                                   float* __restrict dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    uint32_t bits;
    std::memcpy(&bits, src + i, sizeof bits);  // a bit copy, not a pointer cast (aliasing rules)
    bits &= mask[i];
    std::memcpy(dst + i, &bits, sizeof bits);
  }
}

// dst[i] += src[i] where mask[i] is set.
BLASNET_INLINE void AddMaskedImpl(const float* __restrict src, const uint32_t* __restrict mask,
                                  float* __restrict dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    uint32_t bits;
    std::memcpy(&bits, src + i, sizeof bits);
    bits &= mask[i];
    float v;
    std::memcpy(&v, &bits, sizeof v);
    dst[i] += v;
  }
}

BLASNET_MULTIVERSION(CopyMasked, CopyMaskedImpl, BLASNET_TARGET_AVX512)
BLASNET_MULTIVERSION(AddMasked, AddMaskedImpl, BLASNET_TARGET_AVX512)

}  // namespace

void Im2colTOne(const ConvGeom& g, const float* x, float* colT) {
  ConvGeom gp;
  int64_t e;
  if (PadToFlat(g, &gp, &e)) {
    float* xp = PaddedScratch(gp.in_size());
    std::memset(xp, 0, sizeof(float) * gp.in_size());
    for (int64_t c = 0; c < g.C; ++c) {
      for (int64_t h = 0; h < g.H; ++h) {
        std::memcpy(xp + (c * gp.H + h + e) * gp.W + e, x + (c * g.H + h) * g.W,
                    sizeof(float) * g.W);
      }
    }
    Im2colTOne(gp, xp, colT);
    return;
  }
  const int64_t S = g.rows();
  const bool flat = Flat(g);
  const uint32_t* masks = flat ? ColumnMasks(g) : nullptr;
  for (int64_t c = 0; c < g.C; ++c) {
    const float* xc = x + c * g.H * g.W;
    for (int64_t fh = 0; fh < g.FH; ++fh) {
      for (int64_t fw = 0; fw < g.FW; ++fw) {
        float* row = colT + ((c * g.FH + fh) * g.FW + fw) * S;
        if (flat) {
          const FlatTap t = FlatRange(g, fh, fw);
          if (t.empty()) {
            std::memset(row, 0, sizeof(float) * S);
            continue;
          }
          std::memset(row, 0, sizeof(float) * t.begin);
          CopyMasked(xc + t.begin + t.off, masks + fw * S + t.begin, row + t.begin,
                     t.end - t.begin);
          std::memset(row + t.end, 0, sizeof(float) * (S - t.end));
          continue;
        }
        int64_t lo, hi;
        ValidRange(g.W, g.OW, g.stride, g.pad, fw, &lo, &hi);
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          float* dst = row + oh * g.OW;
          const int64_t h = oh * g.stride - g.pad + fh;
          if (h < 0 || h >= g.H || lo >= hi) {
            std::memset(dst, 0, sizeof(float) * g.OW);
            continue;
          }
          const float* src = xc + h * g.W - g.pad + fw;  // src[ow*stride] is tap (h, ow)
          for (int64_t ow = 0; ow < lo; ++ow) dst[ow] = 0.0f;
          // Rows are a few dozen floats: an inline loop beats a memcpy call per row.
          if (g.stride == 1) {
            CopyRow(src + lo, dst + lo, hi - lo);
          } else {
            for (int64_t ow = lo; ow < hi; ++ow) dst[ow] = src[ow * g.stride];
          }
          for (int64_t ow = hi; ow < g.OW; ++ow) dst[ow] = 0.0f;
        }
      }
    }
  }
}

void Col2imTOne(const ConvGeom& g, const float* colT, float* dx) {
  ConvGeom gp;
  int64_t e;
  if (PadToFlat(g, &gp, &e)) {
    float* dxp = PaddedScratch(gp.in_size());
    Col2imTOne(gp, colT, dxp);
    for (int64_t c = 0; c < g.C; ++c) {
      for (int64_t h = 0; h < g.H; ++h) {
        std::memcpy(dx + (c * g.H + h) * g.W, dxp + (c * gp.H + h + e) * gp.W + e,
                    sizeof(float) * g.W);
      }
    }
    return;
  }
  const int64_t S = g.rows();
  const bool flat = Flat(g);
  const uint32_t* masks = flat ? ColumnMasks(g) : nullptr;
  std::memset(dx, 0, sizeof(float) * g.in_size());
  for (int64_t c = 0; c < g.C; ++c) {
    float* dc = dx + c * g.H * g.W;
    for (int64_t fh = 0; fh < g.FH; ++fh) {
      for (int64_t fw = 0; fw < g.FW; ++fw) {
        const float* row = colT + ((c * g.FH + fh) * g.FW + fw) * S;
        if (flat) {
          const FlatTap t = FlatRange(g, fh, fw);
          if (t.empty()) continue;
          // Entries whose tap falls off the left or right edge sit between the row ends of
          // the flat range; masked, they add nothing where the flat add lands them.
          AddMasked(row + t.begin, masks + fw * S + t.begin, dc + t.begin + t.off, t.end - t.begin);
          continue;
        }
        int64_t lo, hi;
        ValidRange(g.W, g.OW, g.stride, g.pad, fw, &lo, &hi);
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          const int64_t h = oh * g.stride - g.pad + fh;
          if (h < 0 || h >= g.H) continue;
          const float* src = row + oh * g.OW;
          float* dst = dc + h * g.W - g.pad + fw;
          if (g.stride == 1) {
            AddRow(src + lo, dst + lo, hi - lo);
          } else {
            for (int64_t ow = lo; ow < hi; ++ow) dst[ow * g.stride] += src[ow];
          }
        }
      }
    }
  }
}

void Im2col(const ConvGeom& g, const float* x, float* col) {
  const int64_t per = g.rows() * g.cols();
  ParallelFor(g.N, g.N * per, [&](int64_t b, int64_t e) {
    for (int64_t n = b; n < e; ++n) Im2colOne(g, x + n * g.in_size(), col + n * per);
  });
}

void Col2im(const ConvGeom& g, const float* col, float* dx) {
  const int64_t per = g.rows() * g.cols();
  ParallelFor(g.N, g.N * per, [&](int64_t b, int64_t e) {
    for (int64_t n = b; n < e; ++n) Col2imOne(g, col + n * per, dx + n * g.in_size());
  });
}

// ---- Bindings: im2col, col2im (lib/core/contract.ts) ----

void Run(const Im2colArgs& a) { Im2col(WindowOf(a.g), a.x.data, a.col.data); }

void Run(const Col2imArgs& a) { Col2im(WindowOf(a.g), a.col.data, a.dx.data); }

}  // namespace blasnet
