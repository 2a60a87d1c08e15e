// SPDX-License-Identifier: MIT
// The Winograd F(2x2, 3x3) kernels of one instruction-set level. Not a normal header:
// native/winograd.cc includes it once per level, inside that level's namespace and target region
// (isa.h), with BLASNET_WINO_LANES (8 or 16 floats per vector) and BLASNET_WINO_NOPACK (the
// gemms by the register-blocked kernel below instead of OpenBLAS) defined. Only GCC/Clang vector
// extensions, no intrinsics: the same source is AVX-512, AVX2, SSE or NEON code.
//
// Layout: each sample's channels are transposed into blocks of L channels, (rows, columns, L)
// ("blocked"), so that every tile transform is plain vector arithmetic over L channels and the
// per-position gemms read channels contiguously. A 4x4 input tile d gives V = Bᵀ d B; the
// 16 positions of V, over the tiles of a block of samples, are 16 gemms with the transformed
// filters U = G g Gᵀ; a 2x2 output tile is Aᵀ m A (Lavin & Gray, 2015).

constexpr int L = BLASNET_WINO_LANES;
typedef float vf __attribute__((vector_size(L * 4)));
typedef int32_t vi __attribute__((vector_size(L * 4)));
typedef float vfu __attribute__((vector_size(L * 4), aligned(4), may_alias));
typedef int32_t viu __attribute__((vector_size(L * 4), aligned(4), may_alias));

BLASNET_INLINE vf Load(const float* p) { return *reinterpret_cast<const vfu*>(p); }
BLASNET_INLINE void Store(float* p, vf v) { *reinterpret_cast<vfu*>(p) = v; }
BLASNET_INLINE vi LoadI(const int32_t* p) { return *reinterpret_cast<const viu*>(p); }
BLASNET_INLINE void StoreI(int32_t* p, vi v) { *reinterpret_cast<viu*>(p) = v; }

// n floats of a scratch slot, starting on a 64-byte boundary (a cache line, and a 512-bit vector
// never split across two).
BLASNET_INLINE float* Aligned(Scratch<float>& slot, int64_t n) {
  const uintptr_t p = reinterpret_cast<uintptr_t>(slot.Get(static_cast<size_t>(n) + 16));
  return reinterpret_cast<float*>((p + 63) & ~static_cast<uintptr_t>(63));
}

BLASNET_INLINE vi Iota() {
  vi v;
  for (int i = 0; i < L; ++i) v[i] = i;
  return v;
}

// The first n <= L floats at p, the other lanes zero. A full load when the whole vector lies
// below `limit` (the end of the array; the lanes past n are then discarded by a select, so a
// NaN there never leaks in), element by element otherwise.
BLASNET_INLINE vf LoadPart(const float* p, int64_t n, const float* limit) {
  if (n == L) return Load(p);
  if (p + L <= limit) {
    const vi keep = Iota() < static_cast<int32_t>(n);
    return keep ? Load(p) : vf{};
  }
  vf v = {};
  for (int64_t i = 0; i < n; ++i) v[i] = p[i];
  return v;
}

// In-register transpose of an L x L block: row i of the result is column i of the input.
BLASNET_INLINE void Transpose(vf* r) {
#if BLASNET_WINO_LANES == 16
  // Four rounds of perfect shuffles.
  for (int round = 0; round < 4; ++round) {
    vf t[16];
    for (int i = 0; i < 8; ++i) {
      t[2 * i] = __builtin_shufflevector(r[i], r[i + 8], 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21,
                                         6, 22, 7, 23);
      t[2 * i + 1] = __builtin_shufflevector(r[i], r[i + 8], 8, 24, 9, 25, 10, 26, 11, 27, 12, 28,
                                             13, 29, 14, 30, 15, 31);
    }
    for (int i = 0; i < 16; ++i) r[i] = t[i];
  }
#else
  // 8 x 8: unpack within 128-bit halves, then 64-bit pairs, then across the halves.
  vf t[8], u[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = __builtin_shufflevector(r[2 * i], r[2 * i + 1], 0, 8, 1, 9, 4, 12, 5, 13);
    t[2 * i + 1] = __builtin_shufflevector(r[2 * i], r[2 * i + 1], 2, 10, 3, 11, 6, 14, 7, 15);
  }
  for (int i = 0; i < 2; ++i) {
    u[4 * i] = __builtin_shufflevector(t[4 * i], t[4 * i + 2], 0, 1, 8, 9, 4, 5, 12, 13);
    u[4 * i + 1] = __builtin_shufflevector(t[4 * i], t[4 * i + 2], 2, 3, 10, 11, 6, 7, 14, 15);
    u[4 * i + 2] = __builtin_shufflevector(t[4 * i + 1], t[4 * i + 3], 0, 1, 8, 9, 4, 5, 12, 13);
    u[4 * i + 3] = __builtin_shufflevector(t[4 * i + 1], t[4 * i + 3], 2, 3, 10, 11, 6, 7, 14, 15);
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = __builtin_shufflevector(u[i], u[i + 4], 0, 1, 2, 3, 8, 9, 10, 11);
    r[i + 4] = __builtin_shufflevector(u[i], u[i + 4], 4, 5, 6, 7, 12, 13, 14, 15);
  }
#endif
}

// Planes (n_ch, rows, cols) of floats, row-major, starting at `src` (row stride cols, plane
// stride rows·cols) -> blocked [ch / L][out_rows][out_cols][L], the planes' (h, w) landing at
// (h + off, w + off); everything else in the blocked buffer is zero. `limit` is the end of the
// array src points into.
void PackBlocked(const float* src, int64_t n_ch, int64_t rows, int64_t cols, int64_t off,
                 int64_t out_rows, int64_t out_cols, float* dst, const float* limit) {
  for (int64_t cb = 0; cb < n_ch / L; ++cb) {
    float* blk = dst + cb * out_rows * out_cols * L;
    std::memset(blk, 0, sizeof(float) * out_rows * out_cols * L);
    const float* planes = src + cb * L * rows * cols;
    const int64_t wn = std::min(cols, out_cols - off);
    for (int64_t h = 0; h < rows && h + off < out_rows; ++h) {
      float* row = blk + ((h + off) * out_cols + off) * L;
      int64_t w0 = 0;
      // Whole chunks with fixed trip counts (the block stays in registers), then the rest.
      for (; w0 + L <= wn; w0 += L) {
        vf r[L];
        for (int c = 0; c < L; ++c) r[c] = Load(planes + (c * rows + h) * cols + w0);
        Transpose(r);
        for (int w = 0; w < L; ++w) Store(row + (w0 + w) * L, r[w]);
      }
      if (w0 < wn) {
        const int64_t n = wn - w0;
        vf r[L];
        for (int c = 0; c < L; ++c) r[c] = LoadPart(planes + (c * rows + h) * cols + w0, n, limit);
        Transpose(r);
        for (int64_t w = 0; w < n; ++w) Store(row + (w0 + w) * L, r[w]);
      }
    }
  }
}

// Blocked [ch / L][rows][cols][L] -> planes (n_ch, out_rows, out_cols) row-major, for the
// (out_rows, out_cols) corner of each block. The last chunk of a row is stored whole when that
// stays inside the plane, spilling into the plane's next rows, which their own stores overwrite
// afterwards; otherwise (the plane's last rows) element by element, so nothing is written
// outside the planes.
void UnpackBlocked(const float* src, int64_t n_ch, int64_t rows, int64_t cols, int64_t out_rows,
                   int64_t out_cols, float* dst) {
  for (int64_t fb = 0; fb < n_ch / L; ++fb) {
    const float* blk = src + fb * rows * cols * L;
    float* planes = dst + fb * L * out_rows * out_cols;
    for (int64_t h = 0; h < out_rows; ++h) {
      int64_t w0 = 0;
      for (; w0 + L <= out_cols; w0 += L) {
        vf r[L];
        for (int w = 0; w < L; ++w) r[w] = Load(blk + (h * cols + w0 + w) * L);
        Transpose(r);
        for (int c = 0; c < L; ++c) Store(planes + (c * out_rows + h) * out_cols + w0, r[c]);
      }
      if (w0 < out_cols) {
        const int64_t n = out_cols - w0;
        vf r[L];
        for (int w = 0; w < L; ++w) r[w] = w < n ? Load(blk + (h * cols + w0 + w) * L) : vf{};
        Transpose(r);
        if (h * out_cols + w0 + L <= out_rows * out_cols) {
          for (int c = 0; c < L; ++c) Store(planes + (c * out_rows + h) * out_cols + w0, r[c]);
        } else {
          for (int c = 0; c < L; ++c) {
            float* p = planes + (c * out_rows + h) * out_cols + w0;
            for (int64_t i = 0; i < n; ++i) p[i] = r[c][i];
          }
        }
      }
    }
  }
}

// V[pos][t0 + tile][C] = Bᵀ d B of every 4x4 tile of the blocked, padded input Xp
// [C / L][PH][PW][L] (tiles TH x TW, stride 2); pos_stride = the floats between positions.
void InputTransform(const float* Xp, int64_t C, int64_t PW, int64_t TH, int64_t TW, float* V,
                    int64_t t0, int64_t pos_stride) {
  const int64_t PH = TH * 2 + 2;
  for (int64_t cb = 0; cb < C / L; ++cb) {
    const float* blk = Xp + cb * PH * PW * L;
    for (int64_t ty = 0; ty < TH; ++ty) {
      for (int64_t tx = 0; tx < TW; ++tx) {
        vf t[4][4];
        const float* d0 = blk + (ty * 2 * PW + tx * 2) * L;
        // Columns: t = Bᵀ d (rows 0 - 2, 1 + 2, 2 - 1, 1 - 3).
        for (int j = 0; j < 4; ++j) {
          const vf a = Load(d0 + j * L), b = Load(d0 + (PW + j) * L),
                   c = Load(d0 + (2 * PW + j) * L), d = Load(d0 + (3 * PW + j) * L);
          t[0][j] = a - c;
          t[1][j] = b + c;
          t[2][j] = c - b;
          t[3][j] = b - d;
        }
        float* dst = V + (t0 + ty * TW + tx) * C + cb * L;
        // Rows: v = t B.
        for (int i = 0; i < 4; ++i) {
          Store(dst + (i * 4 + 0) * pos_stride, t[i][0] - t[i][2]);
          Store(dst + (i * 4 + 1) * pos_stride, t[i][1] + t[i][2]);
          Store(dst + (i * 4 + 2) * pos_stride, t[i][2] - t[i][1]);
          Store(dst + (i * 4 + 3) * pos_stride, t[i][1] - t[i][3]);
        }
      }
    }
  }
}

// The 2x2 output tile Aᵀ m A of position values m[16] (one vector each), plus the bias.
BLASNET_INLINE void OutputTile(const float* src, int64_t pos_stride, vf bias, vf y[2][2]) {
  vf t[2][4];
  for (int j = 0; j < 4; ++j) {
    const vf m0 = Load(src + (0 * 4 + j) * pos_stride), m1 = Load(src + (1 * 4 + j) * pos_stride),
             m2 = Load(src + (2 * 4 + j) * pos_stride), m3 = Load(src + (3 * 4 + j) * pos_stride);
    t[0][j] = m0 + m1 + m2;
    t[1][j] = m1 - m2 - m3;
  }
  for (int i = 0; i < 2; ++i) {
    y[i][0] = t[i][0] + t[i][1] + t[i][2] + bias;
    y[i][1] = t[i][1] - t[i][2] - t[i][3] + bias;
  }
}

// Mo[pos][t0 + tile][FN] -> blocked output Yb [FN / L][TH·2][TW·2][L], bias added.
void OutputTransform(const float* Mo, int64_t FN, int64_t TH, int64_t TW, int64_t t0,
                     int64_t pos_stride, const float* bias, float* Yb) {
  const int64_t YW = TW * 2, YH = TH * 2;
  for (int64_t fb = 0; fb < FN / L; ++fb) {
    const vf bv = bias != nullptr ? Load(bias + fb * L) : vf{};
    float* blk = Yb + fb * YH * YW * L;
    for (int64_t ty = 0; ty < TH; ++ty) {
      for (int64_t tx = 0; tx < TW; ++tx) {
        vf y[2][2];
        OutputTile(Mo + (t0 + ty * TW + tx) * FN + fb * L, pos_stride, bv, y);
        for (int i = 0; i < 2; ++i) {
          for (int j = 0; j < 2; ++j) Store(blk + ((ty * 2 + i) * YW + tx * 2 + j) * L, y[i][j]);
        }
      }
    }
  }
}

// The output transform with the Relu (when relu) and a 2x2 stride-2 max pool after it: each
// 2x2 output tile is one pool window (OH and OW even). The pooled values go to Pb and the
// winners' plane indices h·OW + w to Ab, both [FN / L][TH][TW][L]. The same arithmetic as the
// separate kernels on the same values: Relu as max(0, v) with NaN passing, the window scanned
// in (row, column) order, the first maximum winning and a NaN winning over numbers.
void OutputTransformPool(const float* Mo, int64_t FN, int64_t TH, int64_t TW, int64_t t0,
                         int64_t pos_stride, const float* bias, bool relu, int64_t OW, float* Pb,
                         int32_t* Ab) {
  for (int64_t fb = 0; fb < FN / L; ++fb) {
    const vf bv = Load(bias + fb * L);
    float* pblk = Pb + fb * TH * TW * L;
    int32_t* ablk = Ab + fb * TH * TW * L;
    for (int64_t ty = 0; ty < TH; ++ty) {
      for (int64_t tx = 0; tx < TW; ++tx) {
        vf y[2][2];
        OutputTile(Mo + (t0 + ty * TW + tx) * FN + fb * L, pos_stride, bv, y);
        const int32_t base = static_cast<int32_t>(ty * 2 * OW + tx * 2);
        vf best = {};
        vi at = {};
        for (int k = 0; k < 4; ++k) {
          vf v = y[k / 2][k % 2];
          if (relu) v = v <= 0 ? vf{} : v;
          const int32_t idx = base + (k / 2) * static_cast<int32_t>(OW) + (k % 2);
          if (k == 0) {
            best = v;
            at = vi{} + idx;
            continue;
          }
          const vi take = (v > best) | ((v != v) & (best == best));
          best = take ? v : best;
          at = take ? vi{} + idx : at;
        }
        Store(pblk + (ty * TW + tx) * L, best);
        StoreI(ablk + (ty * TW + tx) * L, at);
      }
    }
  }
}

// The blocked pooled gradient (dP, argmax aP, pooled values pP, each [FN / L][TH][TW][L]) ->
// the blocked convolution-output gradient Dp [FN / L][TH·2][TW·2][L]: each window's gradient
// (dropped where the pooled Relu output is <= 0, when relu) at its winner, +0 elsewhere. The
// values the separate pooling and Relu backward passes give: 0 + d at the winner. Winners
// outside their window (an argmax the forward pass did not write) take MaxPoolPlaneBackward's
// path: added where they point inside the plane in raster order, ignored outside it.
void ExpandPoolGrad(const float* dP, const int32_t* aP, const float* pP, bool relu, int64_t FN,
                    int64_t TH, int64_t TW, int64_t OW, float* Dp) {
  const int64_t YW = TW * 2, YH = TH * 2;
  for (int64_t fb = 0; fb < FN / L; ++fb) {
    float* blk = Dp + fb * YH * YW * L;
    bool inside = true;
    for (int64_t ty = 0; ty < TH; ++ty) {
      for (int64_t tx = 0; tx < TW; ++tx) {
        const int64_t o = ((fb * TH + ty) * TW + tx) * L;
        vf d = vf{} + Load(dP + o);
        if (relu) d = Load(pP + o) <= 0 ? vf{} : d;
        const vi a = LoadI(aP + o);
        const int32_t base = static_cast<int32_t>(ty * 2 * OW + tx * 2);
        vi hit = {};
        for (int k = 0; k < 4; ++k) {
          const int32_t idx = base + (k / 2) * static_cast<int32_t>(OW) + (k % 2);
          hit |= a == idx;
          Store(blk + ((ty * 2 + k / 2) * YW + tx * 2 + k % 2) * L, a == idx ? d : vf{});
        }
        for (int c = 0; c < L; ++c) inside &= hit[c] != 0;
      }
    }
    if (inside) continue;
    std::memset(blk, 0, sizeof(float) * YH * YW * L);
    const int64_t plane = TH * 2 * OW;  // the (OH, OW) plane, OH = TH·2
    for (int c = 0; c < L; ++c) {
      for (int64_t i = 0; i < TH * TW; ++i) {
        const int64_t o = (fb * TH * TW + i) * L + c;
        const int32_t a = aP[o];
        if (a < 0 || a >= plane) continue;
        if (relu && pP[o] <= 0.0f) continue;
        blk[((a / OW) * YW + a % OW) * L + c] += dP[o];
      }
    }
  }
}

// D[pos][t0 + tile][FN] = A dY Aᵀ of every 2x2 tile of the blocked gradient Dp
// [FN / L][TH·2][TW·2][L]: the adjoint of the output transform.
void GradTransform(const float* Dp, int64_t FN, int64_t TH, int64_t TW, float* D, int64_t t0,
                   int64_t pos_stride) {
  const int64_t YW = TW * 2, YH = TH * 2;
  for (int64_t fb = 0; fb < FN / L; ++fb) {
    const float* blk = Dp + fb * YH * YW * L;
    for (int64_t ty = 0; ty < TH; ++ty) {
      for (int64_t tx = 0; tx < TW; ++tx) {
        const float* d0 = blk + (ty * 2 * YW + tx * 2) * L;
        const vf a = Load(d0), b = Load(d0 + L), c = Load(d0 + YW * L), d = Load(d0 + (YW + 1) * L);
        // Columns: A dY = (dy0, dy0 + dy1, dy0 - dy1, -dy1) for each of the two columns.
        const vf t[4][2] = {{a, b}, {a + c, b + d}, {a - c, b - d}, {-c, -d}};
        float* dst = D + (t0 + ty * TW + tx) * FN + fb * L;
        for (int i = 0; i < 4; ++i) {
          Store(dst + (i * 4 + 0) * pos_stride, t[i][0]);
          Store(dst + (i * 4 + 1) * pos_stride, t[i][0] + t[i][1]);
          Store(dst + (i * 4 + 2) * pos_stride, t[i][0] - t[i][1]);
          Store(dst + (i * 4 + 3) * pos_stride, -t[i][1]);
        }
      }
    }
  }
}

// db[c] += the sum of the blocked gradient Dp [FN / L][YH][YW][L] over its positions, in
// position order.
void SumBlocked(const float* Dp, int64_t FN, int64_t positions, float* db) {
  for (int64_t fb = 0; fb < FN / L; ++fb) {
    vf sum = {};
    const float* blk = Dp + fb * positions * L;
    for (int64_t k = 0; k < positions; ++k) sum += Load(blk + k * L);
    for (int c = 0; c < L; ++c) db[fb * L + c] += sum[c];
  }
}

// ---- The filter transforms ----
// With Q[pos][r·3 + s] = G[i][r]·G[j][s] for pos = i·4 + j (kQ, exact: products of 0, ±1/2 and
// 1), the transform of a filter g is U[pos] = Σ Q[pos][rs]·g[rs] and the adjoint of a
// transformed gradient dU is dW[rs] = Σ Q[pos][rs]·dU[pos]. Each in double, rounded once, and
// vectorised along the filters (or channels) after a transposition.

// U[pos][c][f] for the channels [c0, c1) (rotate = false), from W (FN, C, 3, 3).
void FilterTransformChannels(const double (*kQ)[9], const float* W, int64_t FN, int64_t C,
                             int64_t c0, int64_t c1, float* U) {
  thread_local Scratch<float> t_buf;
  float* Wt = t_buf.Get(9 * FN);
  for (int64_t c = c0; c < c1; ++c) {
    for (int64_t f = 0; f < FN; ++f) {
      for (int rs = 0; rs < 9; ++rs) Wt[rs * FN + f] = W[(f * C + c) * 9 + rs];
    }
    for (int pos = 0; pos < 16; ++pos) {
      float* dst = U + (pos * C + c) * FN;
      for (int64_t f = 0; f < FN; ++f) {
        double acc = 0;
        for (int rs = 0; rs < 9; ++rs) acc += kQ[pos][rs] * static_cast<double>(Wt[rs * FN + f]);
        dst[f] = static_cast<float>(acc);
      }
    }
  }
}

// Ur[pos][f][c] of the rotated filters, for the filters [f0, f1): backward-data's, from FN
// channels to C.
void FilterTransformRotated(const double (*kQ)[9], const float* W, int64_t FN, int64_t C,
                            int64_t f0, int64_t f1, float* Ur) {
  thread_local Scratch<float> t_buf;
  float* Wr = t_buf.Get(9 * C);
  for (int64_t f = f0; f < f1; ++f) {
    for (int64_t c = 0; c < C; ++c) {
      for (int rs = 0; rs < 9; ++rs) Wr[rs * C + c] = W[(f * C + c) * 9 + (8 - rs)];
    }
    for (int pos = 0; pos < 16; ++pos) {
      float* dst = Ur + (pos * FN + f) * C;
      for (int64_t c = 0; c < C; ++c) {
        double acc = 0;
        for (int rs = 0; rs < 9; ++rs) acc += kQ[pos][rs] * static_cast<double>(Wr[rs * C + c]);
        dst[c] = static_cast<float>(acc);
      }
    }
  }
}

// dW (FN, C, 3, 3) from dU [16][C][FN], for the channels [c0, c1).
void FilterGradChannels(const double (*kQ)[9], const float* dU, int64_t FN, int64_t C, int64_t c0,
                        int64_t c1, float* dW) {
  thread_local Scratch<float> t_buf;
  float* t = t_buf.Get(9 * FN);
  for (int64_t c = c0; c < c1; ++c) {
    for (int rs = 0; rs < 9; ++rs) {
      for (int64_t f = 0; f < FN; ++f) {
        double acc = 0;
        for (int pos = 0; pos < 16; ++pos) {
          acc += kQ[pos][rs] * static_cast<double>(dU[(pos * C + c) * FN + f]);
        }
        t[rs * FN + f] = static_cast<float>(acc);
      }
    }
    for (int64_t f = 0; f < FN; ++f) {
      for (int rs = 0; rs < 9; ++rs) dW[(f * C + c) * 9 + rs] = t[rs * FN + f];
    }
  }
}

// dst[i] += src[i]: a reduction block's sums added to block 0's.
void AddTo(const float* __restrict src, float* __restrict dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] += src[i];
}

// ---- The per-position gemms ----
#if BLASNET_WINO_NOPACK
// OpenBLAS packs both operands of every call, which at K = 16 to 64 costs about as much as the
// multiply. This kernel reads the operands in place: R rows x NV vectors of accumulators in
// registers, the B rows (in L1) streamed once per row block. Each output is summed in k order.

// C[R x NV·L] = A[R x K] · B[K x NV·L] (row-major with leading dimensions; accumulate: C +=).
template <int R, int NV>
BLASNET_INLINE void NnBlock(const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
                            int64_t ldc, int64_t K) {
  vf acc[R][NV];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < NV; ++v) acc[r][v] = vf{};
  for (int64_t k = 0; k < K; ++k) {
    vf b[NV];
    for (int v = 0; v < NV; ++v) b[v] = Load(B + k * ldb + v * L);
    for (int r = 0; r < R; ++r) {
      const float a = A[r * lda + k];
      for (int v = 0; v < NV; ++v) acc[r][v] += a * b[v];
    }
  }
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < NV; ++v) Store(C + r * ldc + v * L, acc[r][v]);
}

// C[R x NV·L] (+)= Aᵀ · B with A stored [K x lda] (R of its columns used) and B [K x ldb].
template <int R, int NV>
BLASNET_INLINE void TnBlock(const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
                            int64_t ldc, int64_t K, bool accumulate) {
  vf acc[R][NV];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < NV; ++v) acc[r][v] = vf{};
  for (int64_t k = 0; k < K; ++k) {
    vf b[NV];
    for (int v = 0; v < NV; ++v) b[v] = Load(B + k * ldb + v * L);
    for (int r = 0; r < R; ++r) {
      const float a = A[k * lda + r];
      for (int v = 0; v < NV; ++v) acc[r][v] += a * b[v];
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int v = 0; v < NV; ++v) {
      float* c = C + r * ldc + v * L;
      Store(c, accumulate ? Load(c) + acc[r][v] : acc[r][v]);
    }
  }
}

constexpr int kRows = L == 16 ? 12 : 6;  // rows per block: kRows x 2 accumulators (of 16 or 32)

template <int NV>
void NnColumns(int64_t M, int64_t K, const float* A, const float* B, int64_t ldb, float* C,
               int64_t ldc) {
  int64_t m = 0;
  for (; m + kRows <= M; m += kRows) NnBlock<kRows, NV>(A + m * K, K, B, ldb, C + m * ldc, ldc, K);
  for (; m < M; ++m) NnBlock<1, NV>(A + m * K, K, B, ldb, C + m * ldc, ldc, K);
}

template <int NV>
void TnColumns(int64_t M, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb,
               float* C, int64_t ldc, bool accumulate) {
  int64_t m = 0;
  for (; m + kRows <= M; m += kRows)
    TnBlock<kRows, NV>(A + m, lda, B, ldb, C + m * ldc, ldc, K, accumulate);
  for (; m + 2 <= M; m += 2) TnBlock<2, NV>(A + m, lda, B, ldb, C + m * ldc, ldc, K, accumulate);
  for (; m < M; ++m) TnBlock<1, NV>(A + m, lda, B, ldb, C + m * ldc, ldc, K, accumulate);
}
#endif

// C (M x N) = A (M x K) · B (K x N), all row-major and packed; N a multiple of L.
void GemmNN(int64_t M, int64_t N, int64_t K, const float* A, const float* B, float* C) {
#if BLASNET_WINO_NOPACK
  int64_t n0 = 0;
  for (; n0 + 2 * L <= N; n0 += 2 * L) NnColumns<2>(M, K, A, B + n0, N, C + n0, N);
  for (; n0 < N; n0 += L) NnColumns<1>(M, K, A, B + n0, N, C + n0, N);
#else
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(M), static_cast<int>(N),
              static_cast<int>(K), 1.0f, A, static_cast<int>(K), B, static_cast<int>(N), 0.0f, C,
              static_cast<int>(N));
#endif
}

// C (M x N) (+)= Aᵀ · B with A stored (K x M) and B (K x N), row-major and packed.
void GemmTN(int64_t M, int64_t N, int64_t K, const float* A, const float* B, float* C,
            bool accumulate) {
#if BLASNET_WINO_NOPACK
  int64_t n0 = 0;
  for (; n0 + 2 * L <= N; n0 += 2 * L) TnColumns<2>(M, K, A, M, B + n0, N, C + n0, N, accumulate);
  for (; n0 < N; n0 += L) TnColumns<1>(M, K, A, M, B + n0, N, C + n0, N, accumulate);
#else
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, static_cast<int>(M), static_cast<int>(N),
              static_cast<int>(K), 1.0f, A, static_cast<int>(M), B, static_cast<int>(N),
              accumulate ? 1.0f : 0.0f, C, static_cast<int>(N));
#endif
}

// ---- The passes over one block of samples ----

// Forward of samples [n0, n0 + nb): out (per sample through `out`) = conv(x, W) + b, from the
// transformed filters U [16][C][FN].
void ForwardBlock(const WinoPlan& p, const float* x, const float* x_end, const float* U,
                  const float* bias, const ConvOutput& out, int64_t n0, int64_t nb) {
  thread_local Scratch<float> v_buf, m_buf, xp_buf, y_buf, p_buf, a_buf, out_buf;
  const int64_t tb = nb * p.T;
  float* V = Aligned(v_buf, 16 * tb * p.C);
  float* Mo = Aligned(m_buf, 16 * tb * p.FN);
  float* Xp = Aligned(xp_buf, p.C * p.PH * p.PW);
  for (int64_t n = 0; n < nb; ++n) {
    PackBlocked(x + (n0 + n) * p.C * p.H * p.W, p.C, p.H, p.W, p.pad, p.PH, p.PW, Xp, x_end);
    InputTransform(Xp, p.C, p.PW, p.TH, p.TW, V, n * p.T, tb * p.C);
  }
  for (int pos = 0; pos < 16; ++pos) {
    GemmNN(tb, p.FN, p.C, V + pos * tb * p.C, U + pos * p.C * p.FN, Mo + pos * tb * p.FN);
  }
  const PoolFusion* pool = out.pool2x2();
  if (pool != nullptr) {
    // The pooled planes are (TH, TW) = (OH / 2, OW / 2).
    float* Pb = Aligned(p_buf, p.FN * p.T);
    int32_t* Ab = reinterpret_cast<int32_t*>(Aligned(a_buf, p.FN * p.T));
    for (int64_t n = 0; n < nb; ++n) {
      OutputTransformPool(Mo, p.FN, p.TH, p.TW, n * p.T, tb * p.FN, bias, pool->relu, p.OW, Pb, Ab);
      const int64_t o = (n0 + n) * p.FN * p.T;
      UnpackBlocked(Pb, p.FN, p.TH, p.TW, p.TH, p.TW, pool->pooled + o);
      UnpackBlocked(reinterpret_cast<const float*>(Ab), p.FN, p.TH, p.TW, p.TH, p.TW,
                    reinterpret_cast<float*>(pool->argmax + o));
    }
    return;
  }
  float* Yb = Aligned(y_buf, p.FN * p.YH * p.YW);
  for (int64_t n = 0; n < nb; ++n) {
    OutputTransform(Mo, p.FN, p.TH, p.TW, n * p.T, tb * p.FN, bias, Yb);
    float* y = out.Sample(n0 + n);
    if (y == nullptr) y = Aligned(out_buf, p.FN * p.OH * p.OW);
    UnpackBlocked(Yb, p.FN, p.YH, p.YW, p.OH, p.OW, y);
    out.Done(n0 + n, y);
  }
}

// Backward of samples [n0, n0 + nb) (a block inside one reduction block): dU [16][C][FN] (+)=
// the filter gradient in the transformed domain, db += the bias gradient, and, unless dx is
// null, dx of these samples from the rotated transformed filters Ur [16][FN][C].
void BackwardBlock(const WinoPlan& p, const float* x, const float* x_end, const float* Ur,
                   const ConvOutputGrad& grad, float* dx, int64_t n0, int64_t nb, float* dU,
                   bool accumulate, float* db) {
  thread_local Scratch<float> v_buf, d_buf, vd_buf, mx_buf, xp_buf, dp_buf, dpad_buf, y_buf, g_buf,
      pd_buf, pa_buf, pp_buf;
  const int64_t tb = nb * p.T, tb2 = nb * p.T2;
  float* V = Aligned(v_buf, 16 * tb * p.C);
  float* D = Aligned(d_buf, 16 * tb * p.FN);
  float* Vd = dx != nullptr ? Aligned(vd_buf, 16 * tb2 * p.FN) : nullptr;
  float* Xp = Aligned(xp_buf, p.C * p.PH * p.PW);
  float* Dp = Aligned(dp_buf, p.FN * p.YH * p.YW);
  float* Dpad = dx != nullptr ? Aligned(dpad_buf, p.FN * p.PH2 * p.PW2) : nullptr;
  const PoolGradFusion* pool = grad.pool2x2();
  const int64_t sample_out = p.FN * p.OH * p.OW;
  for (int64_t n = 0; n < nb; ++n) {
    const int64_t s = n0 + n;
    PackBlocked(x + s * p.C * p.H * p.W, p.C, p.H, p.W, p.pad, p.PH, p.PW, Xp, x_end);
    InputTransform(Xp, p.C, p.PW, p.TH, p.TW, V, n * p.T, tb * p.C);
    // This sample's gradient of the convolution output, blocked.
    if (pool != nullptr) {
      const int64_t P = p.FN * p.T, o = s * P;
      float* dP = Aligned(pd_buf, P);
      float* aP = Aligned(pa_buf, P);
      float* pP = Aligned(pp_buf, P);
      const float* end = pool->dpooled + pool->total;
      PackBlocked(pool->dpooled + o, p.FN, p.TH, p.TW, 0, p.TH, p.TW, dP, end);
      PackBlocked(reinterpret_cast<const float*>(pool->argmax + o), p.FN, p.TH, p.TW, 0, p.TH, p.TW,
                  aP, reinterpret_cast<const float*>(pool->argmax + pool->total));
      if (pool->relu) {
        PackBlocked(pool->pooled + o, p.FN, p.TH, p.TW, 0, p.TH, p.TW, pP,
                    pool->pooled + pool->total);
      }
      ExpandPoolGrad(dP, reinterpret_cast<const int32_t*>(aP), pP, pool->relu, p.FN, p.TH, p.TW,
                     p.OW, Dp);
    } else {
      float* scratch = grad.uses_scratch() ? Aligned(g_buf, sample_out) : nullptr;
      const float* d = grad.Sample(s, scratch);
      PackBlocked(d, p.FN, p.OH, p.OW, 0, p.YH, p.YW, Dp, d + sample_out);
    }
    SumBlocked(Dp, p.FN, p.YH * p.YW, db);
    GradTransform(Dp, p.FN, p.TH, p.TW, D, n * p.T, tb * p.FN);
    if (dx != nullptr) {
      // The same gradient, zero-padded by 2 - pad: backward-data is the forward convolution
      // of it with the rotated filters, channels swapped.
      for (int64_t fb = 0; fb < p.FN / L; ++fb) {
        float* dst = Dpad + fb * p.PH2 * p.PW2 * L;
        std::memset(dst, 0, sizeof(float) * p.PH2 * p.PW2 * L);
        for (int64_t h = 0; h < p.OH; ++h) {
          std::memcpy(dst + ((h + p.pad2) * p.PW2 + p.pad2) * L, Dp + (fb * p.YH + h) * p.YW * L,
                      sizeof(float) * p.OW * L);
        }
      }
      InputTransform(Dpad, p.FN, p.PW2, p.TH2, p.TW2, Vd, n * p.T2, tb2 * p.FN);
    }
  }
  for (int pos = 0; pos < 16; ++pos) {
    GemmTN(p.C, p.FN, tb, V + pos * tb * p.C, D + pos * tb * p.FN, dU + pos * p.C * p.FN,
           accumulate);
  }
  if (dx == nullptr) return;
  float* Mx = Aligned(mx_buf, 16 * tb2 * p.C);
  for (int pos = 0; pos < 16; ++pos) {
    GemmNN(tb2, p.C, p.FN, Vd + pos * tb2 * p.FN, Ur + pos * p.FN * p.C, Mx + pos * tb2 * p.C);
  }
  float* Yb = Aligned(y_buf, p.C * p.YH2 * p.YW2);
  for (int64_t n = 0; n < nb; ++n) {
    OutputTransform(Mx, p.C, p.TH2, p.TW2, n * p.T2, tb2 * p.C, nullptr, Yb);
    UnpackBlocked(Yb, p.C, p.YH2, p.YW2, p.H, p.W, dx + (n0 + n) * p.C * p.H * p.W);
  }
}
