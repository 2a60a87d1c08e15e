// SPDX-License-Identifier: MIT
// Float64 reference implementations for the native kernels, written from the
// definitions (triple loops, direct convolution over a zero-padded input) and
// not from native/: a test compares the two, so they must not share mistakes.
// Layouts follow the course: images NCHW, filters (FN, C, FH, FW), and im2col's
// matrix has rows ordered (n, oh, ow) and columns ordered (c, fh, fw).

type Num = ArrayLike<number>;

/** Window geometry over an (N, C, H, W) input; FH x FW is the filter or pool size. */
export interface Geom {
  N: number; C: number; H: number; W: number;
  FH: number; FW: number;
  stride: number; pad: number;
}

export function outSize(size: number, k: number, stride: number, pad: number): number {
  return Math.floor((size + 2 * pad - k) / stride) + 1;
}

export function outShape(g: Geom): { OH: number; OW: number } {
  return { OH: outSize(g.H, g.FH, g.stride, g.pad), OW: outSize(g.W, g.FW, g.stride, g.pad) };
}

/** x[n, c, h, w], or 0 outside the image (the zero padding). */
function at(x: Num, g: Geom, n: number, c: number, h: number, w: number): number {
  if (h < 0 || h >= g.H || w < 0 || w >= g.W) return 0;
  return x[((n * g.C + c) * g.H + h) * g.W + w];
}

/** Element (i, j) of op(X), where X is stored row-major with `cols` columns. */
function opAt(X: Num, trans: boolean, cols: number, i: number, j: number): number {
  return trans ? X[j * cols + i] : X[i * cols + j];
}

/**
 * alpha * op(A) op(B) + beta * C as a new array; op(A) is M x K (A stored K x M when
 * transA), op(B) is K x N (B stored N x K when transB).
 */
export function gemm(transA: boolean, transB: boolean, M: number, N: number, K: number,
  alpha: number, A: Num, B: Num, beta: number, C: Num): Float64Array {
  const out = new Float64Array(M * N);
  const aCols = transA ? M : K;
  const bCols = transB ? K : N;
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += opAt(A, transA, aCols, i, k) * opAt(B, transB, bCols, k, j);
      out[i * N + j] = alpha * s + beta * C[i * N + j];
    }
  }
  return out;
}

/** Y + b broadcast over the rows of a (rows, cols) Y. */
export function addRowVector(Y: Num, b: Num, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[r * cols + c] = Y[r * cols + c] + b[c];
  return out;
}

/** Sums over the rows of a (rows, cols) X. */
export function columnSums(X: Num, rows: number, cols: number): Float64Array {
  const out = new Float64Array(cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c] += X[r * cols + c];
  return out;
}

/** (N*OH*OW, C*FH*FW): row (n, oh, ow) holds the window under output (oh, ow), ordered (c, fh, fw). */
export function im2col(x: Num, g: Geom): Float64Array {
  const { OH, OW } = outShape(g);
  const K = g.C * g.FH * g.FW;
  const col = new Float64Array(g.N * OH * OW * K);
  for (let n = 0; n < g.N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        const row = (n * OH + oh) * OW + ow;
        for (let c = 0; c < g.C; c++) {
          for (let fh = 0; fh < g.FH; fh++) {
            for (let fw = 0; fw < g.FW; fw++) {
              const j = (c * g.FH + fh) * g.FW + fw;
              col[row * K + j] = at(x, g, n, c, oh * g.stride - g.pad + fh, ow * g.stride - g.pad + fw);
            }
          }
        }
      }
    }
  }
  return col;
}

/** The adjoint of im2col: every entry of col is added back onto the pixel it was read from. */
export function col2im(col: Num, g: Geom): Float64Array {
  const { OH, OW } = outShape(g);
  const K = g.C * g.FH * g.FW;
  const dx = new Float64Array(g.N * g.C * g.H * g.W);
  for (let n = 0; n < g.N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        const row = (n * OH + oh) * OW + ow;
        for (let c = 0; c < g.C; c++) {
          for (let fh = 0; fh < g.FH; fh++) {
            const h = oh * g.stride - g.pad + fh;
            if (h < 0 || h >= g.H) continue;
            for (let fw = 0; fw < g.FW; fw++) {
              const w = ow * g.stride - g.pad + fw;
              if (w < 0 || w >= g.W) continue;
              dx[((n * g.C + c) * g.H + h) * g.W + w] += col[row * K + (c * g.FH + fh) * g.FW + fw];
            }
          }
        }
      }
    }
  }
  return dx;
}

/** Direct convolution (cross-correlation, as in the course): x (N,C,H,W), W (FN,C,FH,FW) -> (N,FN,OH,OW). */
export function convForward(x: Num, Wt: Num, b: Num, FN: number, g: Geom): Float64Array {
  const { OH, OW } = outShape(g);
  const out = new Float64Array(g.N * FN * OH * OW);
  for (let n = 0; n < g.N; n++) {
    for (let f = 0; f < FN; f++) {
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          let s = b[f];
          for (let c = 0; c < g.C; c++) {
            for (let fh = 0; fh < g.FH; fh++) {
              for (let fw = 0; fw < g.FW; fw++) {
                s += Wt[((f * g.C + c) * g.FH + fh) * g.FW + fw] *
                  at(x, g, n, c, oh * g.stride - g.pad + fh, ow * g.stride - g.pad + fw);
              }
            }
          }
          out[((n * FN + f) * OH + oh) * OW + ow] = s;
        }
      }
    }
  }
  return out;
}

/** Gradients of convForward for an upstream dout (N, FN, OH, OW). */
export function convBackward(dout: Num, x: Num, Wt: Num, FN: number, g: Geom):
  { dW: Float64Array; db: Float64Array; dx: Float64Array } {
  const { OH, OW } = outShape(g);
  const dW = new Float64Array(FN * g.C * g.FH * g.FW);
  const db = new Float64Array(FN);
  const dx = new Float64Array(g.N * g.C * g.H * g.W);
  for (let n = 0; n < g.N; n++) {
    for (let f = 0; f < FN; f++) {
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          const d = dout[((n * FN + f) * OH + oh) * OW + ow];
          db[f] += d;
          for (let c = 0; c < g.C; c++) {
            for (let fh = 0; fh < g.FH; fh++) {
              const h = oh * g.stride - g.pad + fh;
              for (let fw = 0; fw < g.FW; fw++) {
                const w = ow * g.stride - g.pad + fw;
                const wi = ((f * g.C + c) * g.FH + fh) * g.FW + fw;
                dW[wi] += d * at(x, g, n, c, h, w);
                if (h >= 0 && h < g.H && w >= 0 && w < g.W) {
                  dx[((n * g.C + c) * g.H + h) * g.W + w] += d * Wt[wi];
                }
              }
            }
          }
        }
      }
    }
  }
  return { dW, db, dx };
}

/**
 * Max pooling (N,C,H,W) -> (N,C,OH,OW). Padded zeros take part; the first maximum in
 * (ph, pw) scan order wins. argmax is h*W+w within the plane, -1 for a padded zero.
 */
export function maxPoolForward(x: Num, g: Geom): { out: Float64Array; argmax: Int32Array } {
  const { OH, OW } = outShape(g);
  const out = new Float64Array(g.N * g.C * OH * OW);
  const argmax = new Int32Array(g.N * g.C * OH * OW);
  for (let n = 0; n < g.N; n++) {
    for (let c = 0; c < g.C; c++) {
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          let best = -Infinity;
          let where = -2;
          for (let ph = 0; ph < g.FH; ph++) {
            for (let pw = 0; pw < g.FW; pw++) {
              const h = oh * g.stride - g.pad + ph;
              const w = ow * g.stride - g.pad + pw;
              const v = at(x, g, n, c, h, w);
              const inside = h >= 0 && h < g.H && w >= 0 && w < g.W;
              if (where === -2 || v > best) {
                best = v;
                where = inside ? h * g.W + w : -1;
              }
            }
          }
          const o = ((n * g.C + c) * OH + oh) * OW + ow;
          out[o] = best;
          argmax[o] = where;
        }
      }
    }
  }
  return { out, argmax };
}

/** Gradient of maxPoolForward: each dout goes to its window's winner (nowhere for a padded zero). */
export function maxPoolBackward(dout: Num, x: Num, g: Geom): Float64Array {
  const { argmax } = maxPoolForward(x, g);
  const { OH, OW } = outShape(g);
  const dx = new Float64Array(g.N * g.C * g.H * g.W);
  for (let p = 0; p < g.N * g.C; p++) {
    for (let i = 0; i < OH * OW; i++) {
      const a = argmax[p * OH * OW + i];
      if (a >= 0) dx[p * g.H * g.W + a] += dout[p * OH * OW + i];
    }
  }
  return dx;
}

/** Average pooling; padded zeros count in the mean (the divisor is always FH*FW). */
export function avgPoolForward(x: Num, g: Geom): Float64Array {
  const { OH, OW } = outShape(g);
  const out = new Float64Array(g.N * g.C * OH * OW);
  for (let n = 0; n < g.N; n++) {
    for (let c = 0; c < g.C; c++) {
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          let s = 0;
          for (let ph = 0; ph < g.FH; ph++) {
            for (let pw = 0; pw < g.FW; pw++) s += at(x, g, n, c, oh * g.stride - g.pad + ph, ow * g.stride - g.pad + pw);
          }
          out[((n * g.C + c) * OH + oh) * OW + ow] = s / (g.FH * g.FW);
        }
      }
    }
  }
  return out;
}

export function avgPoolBackward(dout: Num, g: Geom): Float64Array {
  const { OH, OW } = outShape(g);
  const dx = new Float64Array(g.N * g.C * g.H * g.W);
  const share = 1 / (g.FH * g.FW);
  for (let n = 0; n < g.N; n++) {
    for (let c = 0; c < g.C; c++) {
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          const d = dout[((n * g.C + c) * OH + oh) * OW + ow] * share;
          for (let ph = 0; ph < g.FH; ph++) {
            const h = oh * g.stride - g.pad + ph;
            if (h < 0 || h >= g.H) continue;
            for (let pw = 0; pw < g.FW; pw++) {
              const w = ow * g.stride - g.pad + pw;
              if (w >= 0 && w < g.W) dx[((n * g.C + c) * g.H + h) * g.W + w] += d;
            }
          }
        }
      }
    }
  }
  return dx;
}
