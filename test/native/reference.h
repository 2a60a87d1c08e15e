// SPDX-License-Identifier: MIT
// What the kernel tests compare against: straightforward loops written from the definitions
// (the course's formulas), accumulating in double, plus the helpers the suites share (seeded
// data, geometries, a thread-count scope).
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "buffers.h"
#include "common.h"
#include "generated/contract.h"
#include "im2col.h"
#include "threads.h"

namespace ref {

using Vec = std::vector<float>;
using DVec = std::vector<double>;

// A seeded generator of test data (xorshift64*): the same values on every machine.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed * 0x9e3779b97f4a7c15ULL + 1) {}
  uint64_t Next() {
    s_ ^= s_ >> 12;
    s_ ^= s_ << 25;
    s_ ^= s_ >> 27;
    return s_ * 0x2545f4914f6cdd1dULL;
  }
  // Uniform in [lo, hi).
  float Uniform(float lo, float hi) {
    const double u = static_cast<double>(Next() >> 11) / 9007199254740992.0;
    return static_cast<float>(lo + (hi - lo) * u);
  }
  Vec Fill(size_t n, float lo = -1.0f, float hi = 1.0f) {
    Vec v(n);
    for (auto& x : v) x = Uniform(lo, hi);
    return v;
  }

 private:
  uint64_t s_;
};

inline blasnet::F32 Arg(Vec& v) { return blasnet::F32{v.data(), v.size(), true}; }
inline blasnet::I32 Arg(std::vector<int32_t>& v) { return blasnet::I32{v.data(), v.size(), true}; }
inline blasnet::F32 Null() { return blasnet::F32{}; }

// Runs the enclosed kernel calls at `n` threads, as the binding does for a caller whose
// setNumThreads was n.
class Threads {
 public:
  explicit Threads(int n) : env_{n}, scope_(&env_) {}

 private:
  blasnet::EnvThreads env_;
  blasnet::CallScope scope_;
};

// A window geometry with its output extent.
inline blasnet::ConvGeom Window(int64_t N, int64_t C, int64_t H, int64_t W, int64_t FH, int64_t FW,
                                int64_t stride, int64_t pad) {
  return blasnet::ConvGeom{N,
                           C,
                           H,
                           W,
                           FH,
                           FW,
                           stride,
                           pad,
                           blasnet::OutExtent(H, FH, stride, pad),
                           blasnet::OutExtent(W, FW, stride, pad)};
}

template <class G>
G WithExtents(G g) {
  g.OH = blasnet::OutExtent(g.H, g.FH, g.stride, g.pad);
  g.OW = blasnet::OutExtent(g.W, g.FW, g.stride, g.pad);
  return g;
}

inline blasnet::ConvGeometry Conv(int64_t N, int64_t C, int64_t H, int64_t W, int64_t FN,
                                  int64_t FH, int64_t FW, int64_t stride, int64_t pad) {
  blasnet::ConvGeometry g{};
  g.N = N, g.C = C, g.H = H, g.W = W, g.FN = FN, g.FH = FH, g.FW = FW, g.stride = stride;
  g.pad = pad;
  return WithExtents(g);
}

inline blasnet::ConvPoolGeometry ConvPool(const blasnet::ConvGeometry& c, int64_t PH, int64_t PW,
                                          int64_t poolStride, int64_t poolPad) {
  blasnet::ConvPoolGeometry g{};
  g.N = c.N, g.C = c.C, g.H = c.H, g.W = c.W, g.FN = c.FN, g.FH = c.FH, g.FW = c.FW;
  g.stride = c.stride, g.pad = c.pad, g.OH = c.OH, g.OW = c.OW;
  g.PH = PH, g.PW = PW, g.poolStride = poolStride, g.poolPad = poolPad;
  g.POH = blasnet::OutExtent(g.OH, PH, poolStride, poolPad);
  g.POW = blasnet::OutExtent(g.OW, PW, poolStride, poolPad);
  return g;
}

inline blasnet::WindowGeometry WindowArg(const blasnet::ConvGeom& w) {
  return blasnet::WindowGeometry{w.N, w.C, w.H, w.W, w.FH, w.FW, w.stride, w.pad, w.OH, w.OW};
}

// x[n, c, h, w] of an (N, C, H, W) array, 0 outside the plane (the zero padding).
inline double At(const Vec& x, const blasnet::ConvGeom& g, int64_t n, int64_t c, int64_t h,
                 int64_t w) {
  if (h < 0 || h >= g.H || w < 0 || w >= g.W) return 0.0;
  return x[((n * g.C + c) * g.H + h) * g.W + w];
}

// ---- dense ----

// C = alpha op(A) op(B) + beta C0 in double; *scale gets the sum of the absolute values of
// the terms of each entry (the bound of its rounding).
inline void Gemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, double alpha,
                 const Vec& A, const Vec& B, double beta, const Vec& C0, DVec* C, DVec* scale) {
  C->assign(M * N, 0.0);
  scale->assign(M * N, 0.0);
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t j = 0; j < N; ++j) {
      double s = 0, a = 0;
      for (int64_t k = 0; k < K; ++k) {
        const double aik = transA ? A[k * M + i] : A[i * K + k];
        const double bkj = transB ? B[j * K + k] : B[k * N + j];
        s += aik * bkj;
        a += std::fabs(aik * bkj);
      }
      const double c0 = beta == 0.0 ? 0.0 : beta * C0[i * N + j];
      (*C)[i * N + j] = alpha * s + c0;
      (*scale)[i * N + j] = std::fabs(alpha) * a + std::fabs(c0);
    }
  }
}

// ---- im2col in the course's layout and its transpose ----

// col (N*OH*OW, C*FH*FW): row (n, oh, ow), column (c, fh, fw) holds x[n, c, oh*s-p+fh, ow*s-p+fw].
inline DVec Im2col(const blasnet::ConvGeom& g, const Vec& x) {
  DVec col;
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t oh = 0; oh < g.OH; ++oh)
      for (int64_t ow = 0; ow < g.OW; ++ow)
        for (int64_t c = 0; c < g.C; ++c)
          for (int64_t fh = 0; fh < g.FH; ++fh)
            for (int64_t fw = 0; fw < g.FW; ++fw)
              col.push_back(At(x, g, n, c, oh * g.stride - g.pad + fh, ow * g.stride - g.pad + fw));
  return col;
}

// One sample's colT (C*FH*FW, OH*OW): row (c, fh, fw), column (oh, ow).
inline DVec Im2colT(const blasnet::ConvGeom& g, const Vec& x) {
  DVec colT;
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t fh = 0; fh < g.FH; ++fh)
      for (int64_t fw = 0; fw < g.FW; ++fw)
        for (int64_t oh = 0; oh < g.OH; ++oh)
          for (int64_t ow = 0; ow < g.OW; ++ow)
            colT.push_back(At(x, g, 0, c, oh * g.stride - g.pad + fh, ow * g.stride - g.pad + fw));
  return colT;
}

// The adjoint of Im2col: every entry of col added to the input position it was read from
// (entries read from the padding dropped). *scale: the sum of the absolute values added.
inline void Col2im(const blasnet::ConvGeom& g, const Vec& col, DVec* dx, DVec* scale) {
  dx->assign(g.N * g.C * g.H * g.W, 0.0);
  scale->assign(dx->size(), 0.0);
  size_t i = 0;
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t oh = 0; oh < g.OH; ++oh)
      for (int64_t ow = 0; ow < g.OW; ++ow)
        for (int64_t c = 0; c < g.C; ++c)
          for (int64_t fh = 0; fh < g.FH; ++fh)
            for (int64_t fw = 0; fw < g.FW; ++fw, ++i) {
              const int64_t h = oh * g.stride - g.pad + fh, w = ow * g.stride - g.pad + fw;
              if (h < 0 || h >= g.H || w < 0 || w >= g.W) continue;
              const int64_t at = ((n * g.C + c) * g.H + h) * g.W + w;
              (*dx)[at] += col[i];
              (*scale)[at] += std::fabs(col[i]);
            }
}

// ---- convolution, from the definition (no im2col) ----

// out[n, f, oh, ow] = b[f] + sum over (c, fh, fw) of W[f, c, fh, fw] * x[n, c, oh*s-p+fh,
// ow*s-p+fw].
inline void ConvForward(const blasnet::ConvGeom& g, int64_t FN, const Vec& x, const Vec& W,
                        const Vec& b, DVec* out, DVec* scale) {
  out->assign(g.N * FN * g.OH * g.OW, 0.0);
  scale->assign(out->size(), 0.0);
  size_t i = 0;
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t f = 0; f < FN; ++f)
      for (int64_t oh = 0; oh < g.OH; ++oh)
        for (int64_t ow = 0; ow < g.OW; ++ow, ++i) {
          double s = b[f], a = std::fabs(b[f]);
          for (int64_t c = 0; c < g.C; ++c)
            for (int64_t fh = 0; fh < g.FH; ++fh)
              for (int64_t fw = 0; fw < g.FW; ++fw) {
                const double t =
                    W[((f * g.C + c) * g.FH + fh) * g.FW + fw] *
                    At(x, g, n, c, oh * g.stride - g.pad + fh, ow * g.stride - g.pad + fw);
                s += t;
                a += std::fabs(t);
              }
          (*out)[i] = s;
          (*scale)[i] = a;
        }
}

// The gradients of ConvForward for dout (N, FN, OH, OW): dW, db and dx, with their scales.
struct ConvGrads {
  DVec dW, dWs, db, dbs, dx, dxs;
};

inline ConvGrads ConvBackward(const blasnet::ConvGeom& g, int64_t FN, const Vec& x, const Vec& W,
                              const Vec& dout) {
  ConvGrads r;
  const int64_t K = g.C * g.FH * g.FW;
  r.dW.assign(FN * K, 0.0);
  r.dWs.assign(FN * K, 0.0);
  r.db.assign(FN, 0.0);
  r.dbs.assign(FN, 0.0);
  r.dx.assign(g.N * g.C * g.H * g.W, 0.0);
  r.dxs.assign(r.dx.size(), 0.0);
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t f = 0; f < FN; ++f)
      for (int64_t oh = 0; oh < g.OH; ++oh)
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          const double d = dout[((n * FN + f) * g.OH + oh) * g.OW + ow];
          r.db[f] += d;
          r.dbs[f] += std::fabs(d);
          for (int64_t c = 0; c < g.C; ++c)
            for (int64_t fh = 0; fh < g.FH; ++fh)
              for (int64_t fw = 0; fw < g.FW; ++fw) {
                const int64_t h = oh * g.stride - g.pad + fh, w = ow * g.stride - g.pad + fw;
                const int64_t k = (c * g.FH + fh) * g.FW + fw;
                const double xv = At(x, g, n, c, h, w);
                r.dW[f * K + k] += d * xv;
                r.dWs[f * K + k] += std::fabs(d * xv);
                if (h < 0 || h >= g.H || w < 0 || w >= g.W) continue;
                const int64_t at = ((n * g.C + c) * g.H + h) * g.W + w;
                r.dx[at] += d * W[f * K + k];
                r.dxs[at] += std::fabs(d * W[f * K + k]);
              }
        }
  return r;
}

// ---- pooling ----

// Max pooling as the course's im2col gives it: a padded zero takes part; the first maximum
// in (ph, pw) order wins; argmax is h*W+w in the plane, -1 for a padded zero. A NaN wins over
// numbers, and the first NaN stays.
inline void MaxPool(const blasnet::ConvGeom& g, const Vec& x, Vec* out,
                    std::vector<int32_t>* argmax) {
  out->assign(g.N * g.C * g.OH * g.OW, 0.0f);
  argmax->assign(out->size(), -2);
  size_t i = 0;
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t c = 0; c < g.C; ++c)
      for (int64_t oh = 0; oh < g.OH; ++oh)
        for (int64_t ow = 0; ow < g.OW; ++ow, ++i) {
          bool have = false, nan = false;
          float best = 0;
          int32_t at = -1;
          for (int64_t ph = 0; ph < g.FH; ++ph)
            for (int64_t pw = 0; pw < g.FW; ++pw) {
              const int64_t h = oh * g.stride - g.pad + ph, w = ow * g.stride - g.pad + pw;
              const bool inside = h >= 0 && h < g.H && w >= 0 && w < g.W;
              const float v = inside ? x[((n * g.C + c) * g.H + h) * g.W + w] : 0.0f;
              if (nan) continue;
              if (!have || std::isnan(v) || v > best) {
                best = v;
                at = inside ? static_cast<int32_t>(h * g.W + w) : -1;
                have = true;
                nan = std::isnan(v);
              }
            }
          (*out)[i] = best;
          (*argmax)[i] = at;
        }
}

inline DVec AvgPool(const blasnet::ConvGeom& g, const Vec& x) {
  DVec out;
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t c = 0; c < g.C; ++c)
      for (int64_t oh = 0; oh < g.OH; ++oh)
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          double s = 0;
          for (int64_t ph = 0; ph < g.FH; ++ph)
            for (int64_t pw = 0; pw < g.FW; ++pw)
              s += At(x, g, n, c, oh * g.stride - g.pad + ph, ow * g.stride - g.pad + pw);
          out.push_back(s / static_cast<double>(g.FH * g.FW));
        }
  return out;
}

// Average pooling's backward: each output's gradient spread evenly over its window's inputs.
inline DVec AvgPoolBackward(const blasnet::ConvGeom& g, const Vec& dout) {
  DVec dx(g.N * g.C * g.H * g.W, 0.0);
  size_t i = 0;
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t c = 0; c < g.C; ++c)
      for (int64_t oh = 0; oh < g.OH; ++oh)
        for (int64_t ow = 0; ow < g.OW; ++ow, ++i)
          for (int64_t ph = 0; ph < g.FH; ++ph)
            for (int64_t pw = 0; pw < g.FW; ++pw) {
              const int64_t h = oh * g.stride - g.pad + ph, w = ow * g.stride - g.pad + pw;
              if (h < 0 || h >= g.H || w < 0 || w >= g.W) continue;
              dx[((n * g.C + c) * g.H + h) * g.W + w] +=
                  static_cast<double>(dout[i]) / static_cast<double>(g.FH * g.FW);
            }
  return dx;
}

// Max pooling's backward: each output's gradient to its argmax (indices outside the plane
// dropped).
inline DVec MaxPoolBackward(const blasnet::ConvGeom& g, const Vec& dout,
                            const std::vector<int32_t>& argmax) {
  DVec dx(g.N * g.C * g.H * g.W, 0.0);
  const int64_t per_out = g.OH * g.OW, plane = g.H * g.W;
  for (size_t i = 0; i < dout.size(); ++i) {
    const int64_t p = static_cast<int64_t>(i) / per_out;
    if (argmax[i] < 0 || argmax[i] >= plane) continue;
    dx[p * plane + argmax[i]] += dout[i];
  }
  return dx;
}

inline DVec ToDouble(const Vec& v) { return DVec(v.begin(), v.end()); }

}  // namespace ref
