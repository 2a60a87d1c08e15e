// SPDX-License-Identifier: MIT
// Registers the kernels with N-API. Only this file (and args.cc) sees Napi
// types; the kernels are plain C++ over pointers and sizes.
#include <napi.h>
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "args.h"
#include "batchnorm.h"
#include "common.h"
#include "conv.h"
#include "elementwise.h"
#include "gemm.h"
#include "im2col.h"
#include "pooling.h"

namespace blasnet {
namespace {

constexpr int64_t kIntMax = 2147483647;

Napi::Value Undefined(const Napi::CallbackInfo& info) { return info.Env().Undefined(); }

// sgemm(transA, transB, M, N, K, alpha, A, B, beta, C)
Napi::Value SgemmJs(const Napi::CallbackInfo& info) {
  Args a(info, "sgemm", 10);
  bool ta = a.Bool(0, "transA"), tb = a.Bool(1, "transB");
  int64_t M = a.Int(2, "M", 1), N = a.Int(3, "N", 1), K = a.Int(4, "K", 1);
  float alpha = a.Float(5, "alpha");
  F32 A = a.Floats(6, "A"), B = a.Floats(7, "B");
  float beta = a.Float(8, "beta");
  F32 C = a.Floats(9, "C");
  a.ExpectLength("A", A.length, {M, K});
  a.ExpectLength("B", B.length, {K, N});
  a.ExpectLength("C", C.length, {M, N});
  a.ExpectDisjoint("C", C.data, C.length, "A", A.data, A.length);
  a.ExpectDisjoint("C", C.data, C.length, "B", B.data, B.length);
  Sgemm(ta, tb, static_cast<int>(M), static_cast<int>(N), static_cast<int>(K), alpha, A.data,
        B.data, beta, C.data);
  return Undefined(info);
}

// affineForward(x, W, b, out, N, I, O)
Napi::Value AffineForwardJs(const Napi::CallbackInfo& info) {
  Args a(info, "affineForward", 7);
  F32 x = a.Floats(0, "x"), W = a.Floats(1, "W"), b = a.Floats(2, "b"), out = a.Floats(3, "out");
  int64_t N = a.Int(4, "N", 1), I = a.Int(5, "I", 1), O = a.Int(6, "O", 1);
  a.ExpectLength("x", x.length, {N, I});
  a.ExpectLength("W", W.length, {I, O});
  a.ExpectLength("b", b.length, {O});
  a.ExpectLength("out", out.length, {N, O});
  a.ExpectDisjoint("out", out.data, out.length, "x", x.data, x.length);
  a.ExpectDisjoint("out", out.data, out.length, "W", W.data, W.length);
  a.ExpectDisjoint("out", out.data, out.length, "b", b.data, b.length);
  AffineForward(x.data, W.data, b.data, out.data, static_cast<int>(N), static_cast<int>(I),
                static_cast<int>(O));
  return Undefined(info);
}

// affineBackward(dout, x, W, dx | null, dW, db, N, I, O)
Napi::Value AffineBackwardJs(const Napi::CallbackInfo& info) {
  Args a(info, "affineBackward", 9);
  F32 dout = a.Floats(0, "dout"), x = a.Floats(1, "x"), W = a.Floats(2, "W");
  F32 dx = a.OptionalFloats(3, "dx"), dW = a.Floats(4, "dW"), db = a.Floats(5, "db");
  int64_t N = a.Int(6, "N", 1), I = a.Int(7, "I", 1), O = a.Int(8, "O", 1);
  a.ExpectLength("dout", dout.length, {N, O});
  a.ExpectLength("x", x.length, {N, I});
  a.ExpectLength("W", W.length, {I, O});
  if (dx.present()) a.ExpectLength("dx", dx.length, {N, I});
  a.ExpectLength("dW", dW.length, {I, O});
  a.ExpectLength("db", db.length, {O});
  for (auto* in : {&dout, &x, &W}) {
    a.ExpectDisjoint("dW", dW.data, dW.length, "an input", in->data, in->length);
    a.ExpectDisjoint("db", db.data, db.length, "an input", in->data, in->length);
    a.ExpectDisjoint("dx", dx.data, dx.length, "an input", in->data, in->length);
  }
  a.ExpectDisjoint("dW", dW.data, dW.length, "db", db.data, db.length);
  a.ExpectDisjoint("dx", dx.data, dx.length, "dW", dW.data, dW.length);
  a.ExpectDisjoint("dx", dx.data, dx.length, "db", db.data, db.length);
  AffineBackward(dout.data, x.data, W.data, dx.data, dW.data, db.data, static_cast<int>(N),
                 static_cast<int>(I), static_cast<int>(O));
  return Undefined(info);
}

// addRowVector(Y, b, rows, cols): Y[r, :] += b
Napi::Value AddRowVectorJs(const Napi::CallbackInfo& info) {
  Args a(info, "addRowVector", 4);
  F32 Y = a.Floats(0, "Y"), b = a.Floats(1, "b");
  int64_t rows = a.Int(2, "rows", 1), cols = a.Int(3, "cols", 1);
  a.ExpectLength("Y", Y.length, {rows, cols});
  a.ExpectLength("b", b.length, {cols});
  a.ExpectDisjoint("Y", Y.data, Y.length, "b", b.data, b.length);
  AddRowVector(Y.data, b.data, rows, cols);
  return Undefined(info);
}

// columnSums(X, rows, cols, out): out[c] = sum_r X[r, c]
Napi::Value ColumnSumsJs(const Napi::CallbackInfo& info) {
  Args a(info, "columnSums", 4);
  F32 X = a.Floats(0, "X");
  int64_t rows = a.Int(1, "rows", 1), cols = a.Int(2, "cols", 1);
  F32 out = a.Floats(3, "out");
  a.ExpectLength("X", X.length, {rows, cols});
  a.ExpectLength("out", out.length, {cols});
  a.ExpectDisjoint("out", out.data, out.length, "X", X.data, X.length);
  ColumnSums(X.data, rows, cols, out.data, false);
  return Undefined(info);
}

// Sets g's OH and OW from its input extent, window, stride and pad, or throws "a FHxFW
// <window> with pad P does not fit <article> HxW <input>".
void SetWindowOutput(const Args& a, ConvGeom* g, const char* window, const char* article,
                     const char* input) {
  g->OH = OutExtent(g->H, g->FH, g->stride, g->pad);
  g->OW = OutExtent(g->W, g->FW, g->stride, g->pad);
  if (g->OH < 1 || g->OW < 1) {
    a.Range("a " + std::to_string(g->FH) + "x" + std::to_string(g->FW) + " " + window +
            " with pad " + std::to_string(g->pad) + " does not fit " + article + " " +
            std::to_string(g->H) + "x" + std::to_string(g->W) + " " + input);
  }
}

// Reads N, C, H, W, window height, window width, stride, pad starting at argument `first`
// (the names say which: the width is 'Wd' where 'W' names convolution weights) and checks
// that the window fits and that per-sample gemm sizes and plane indices fit in 32 bits.
ConvGeom ReadWindowGeom(const Args& a, size_t first, const char* width, const char* kh,
                        const char* kw) {
  ConvGeom g;
  g.N = a.Int(first, "N", 1);
  g.C = a.Int(first + 1, "C", 1);
  g.H = a.Int(first + 2, "H", 1);
  g.W = a.Int(first + 3, width, 1);
  g.FH = a.Int(first + 4, kh, 1);
  g.FW = a.Int(first + 5, kw, 1);
  g.stride = a.Int(first + 6, "stride", 1);
  g.pad = a.Int(first + 7, "pad", 0);
  SetWindowOutput(a, &g, "window", "a", "input");
  // cblas takes int dimensions and argmax holds int32 plane indices.
  size_t k = 0, s = 0, plane = 0;
  if (!MulOk(g.H, g.W, &plane) || plane > kIntMax) a.Range("an input plane has over 2^31 elements");
  if (!MulOk(g.C, g.FH, &k) || !MulOk(k, g.FW, &k) || k > kIntMax ||
      !MulOk(g.OH, g.OW, &s) || s > kIntMax) {
    a.Range("window dimensions overflow 32-bit gemm sizes");
  }
  return g;
}

ConvGeom ReadConvGeom(const Args& a, size_t first) { return ReadWindowGeom(a, first, "Wd", "FH", "FW"); }
ConvGeom ReadPoolGeom(const Args& a, size_t first) { return ReadWindowGeom(a, first, "W", "PH", "PW"); }

// im2col(x, col, N, C, H, W, FH, FW, stride, pad)
Napi::Value Im2colJs(const Napi::CallbackInfo& info) {
  Args a(info, "im2col", 10);
  F32 x = a.Floats(0, "x"), col = a.Floats(1, "col");
  ConvGeom g = ReadConvGeom(a, 2);
  a.ExpectLength("x", x.length, {g.N, g.C, g.H, g.W});
  a.ExpectLength("col", col.length, {g.N, g.OH, g.OW, g.C, g.FH, g.FW});
  a.ExpectDisjoint("col", col.data, col.length, "x", x.data, x.length);
  Im2col(g, x.data, col.data);
  return Undefined(info);
}

// col2im(col, dx, N, C, H, W, FH, FW, stride, pad)
Napi::Value Col2imJs(const Napi::CallbackInfo& info) {
  Args a(info, "col2im", 10);
  F32 col = a.Floats(0, "col"), dx = a.Floats(1, "dx");
  ConvGeom g = ReadConvGeom(a, 2);
  a.ExpectLength("col", col.length, {g.N, g.OH, g.OW, g.C, g.FH, g.FW});
  a.ExpectLength("dx", dx.length, {g.N, g.C, g.H, g.W});
  a.ExpectDisjoint("dx", dx.data, dx.length, "col", col.data, col.length);
  Col2im(g, col.data, dx.data);
  return Undefined(info);
}

// convForward(x, W, b, col | null, out, FN, N, C, H, W, FH, FW, stride, pad [, relu])
Napi::Value ConvForwardJs(const Napi::CallbackInfo& info) {
  Args a(info, "convForward", 14, 15);
  const bool relu = a.Length() > 14 && a.Bool(14, "relu");
  F32 x = a.Floats(0, "x"), W = a.Floats(1, "W"), b = a.Floats(2, "b");
  F32 col = a.OptionalFloats(3, "col"), out = a.Floats(4, "out");
  int64_t FN = a.Int(5, "FN", 1);
  ConvGeom g = ReadConvGeom(a, 6);
  a.ExpectLength("x", x.length, {g.N, g.C, g.H, g.W});
  a.ExpectLength("W", W.length, {FN, g.C, g.FH, g.FW});
  a.ExpectLength("b", b.length, {FN});
  if (col.present()) a.ExpectLength("col", col.length, {g.N, g.OH, g.OW, g.C, g.FH, g.FW});
  a.ExpectLength("out", out.length, {g.N, FN, g.OH, g.OW});
  for (auto* in : {&x, &W, &b}) {
    a.ExpectDisjoint("col", col.data, col.length, "an input", in->data, in->length);
    a.ExpectDisjoint("out", out.data, out.length, "an input", in->data, in->length);
  }
  a.ExpectDisjoint("out", out.data, out.length, "col", col.data, col.length);
  ConvForward(g, FN, x.data, W.data, b.data, col.data, out.data, relu);
  return Undefined(info);
}

// convBackward(dout, x | null, col | null, W, dW, db, dcol | null, dx | null,
//              FN, N, C, H, W, FH, FW, stride, pad [, reluOut | null])
Napi::Value ConvBackwardJs(const Napi::CallbackInfo& info) {
  Args a(info, "convBackward", 17, 18);
  F32 relu_out = a.Length() > 17 ? a.OptionalFloats(17, "reluOut") : F32();
  F32 dout = a.Floats(0, "dout"), x = a.OptionalFloats(1, "x"), col = a.OptionalFloats(2, "col");
  F32 W = a.Floats(3, "W"), dW = a.Floats(4, "dW"), db = a.Floats(5, "db");
  F32 dcol = a.OptionalFloats(6, "dcol"), dx = a.OptionalFloats(7, "dx");
  int64_t FN = a.Int(8, "FN", 1);
  ConvGeom g = ReadConvGeom(a, 9);
  a.ExpectLength("dout", dout.length, {g.N, FN, g.OH, g.OW});
  if (relu_out.present()) a.ExpectLength("reluOut", relu_out.length, {g.N, FN, g.OH, g.OW});
  if (!x.present() && !col.present()) a.Type("one of 'x' and 'col' must be given");
  if (x.present()) a.ExpectLength("x", x.length, {g.N, g.C, g.H, g.W});
  if (col.present()) a.ExpectLength("col", col.length, {g.N, g.OH, g.OW, g.C, g.FH, g.FW});
  a.ExpectLength("W", W.length, {FN, g.C, g.FH, g.FW});
  a.ExpectLength("dW", dW.length, {FN, g.C, g.FH, g.FW});
  a.ExpectLength("db", db.length, {FN});
  if (dcol.present() && !dx.present()) a.Type("'dcol' is only used with 'dx': pass dx too, or null for both");
  if (dx.present()) a.ExpectLength("dx", dx.length, {g.N, g.C, g.H, g.W});
  if (dcol.present()) a.ExpectLength("dcol", dcol.length, {g.N, g.OH, g.OW, g.C, g.FH, g.FW});
  const F32* outs[] = {&dW, &db, &dcol, &dx};
  const F32* ins[] = {&dout, &x, &col, &W, &relu_out};
  const char* out_names[] = {"dW", "db", "dcol", "dx"};
  for (int i = 0; i < 4; ++i) {
    for (auto* in : ins) {
      a.ExpectDisjoint(out_names[i], outs[i]->data, outs[i]->length, "an input", in->data,
                       in->length);
    }
    for (int j = i + 1; j < 4; ++j) {
      a.ExpectDisjoint(out_names[i], outs[i]->data, outs[i]->length, out_names[j],
                       outs[j]->data, outs[j]->length);
    }
  }
  ConvBackward(g, FN, dout.data, x.data, col.data, W.data, dW.data, db.data, dcol.data, dx.data,
               relu_out.data);
  return Undefined(info);
}

// The pooling fused after a convolution: its window over one (OH, OW) output plane, read
// from the four arguments starting at `first` (PH, PW, poolStride, poolPad).
PoolGeom ReadFusedPool(const Args& a, size_t first, const ConvGeom& g) {
  PoolGeom p;
  p.N = 1;
  p.C = 1;
  p.H = g.OH;
  p.W = g.OW;
  p.FH = a.Int(first, "PH", 1);
  p.FW = a.Int(first + 1, "PW", 1);
  p.stride = a.Int(first + 2, "poolStride", 1);
  p.pad = a.Int(first + 3, "poolPad", 0);
  SetWindowOutput(a, &p, "pool window", "the", "convolution output");
  return p;
}

// convPoolForward(x, W, b, pooled, argmax, FN, N, C, H, W, FH, FW, stride, pad,
//                 PH, PW, poolStride, poolPad, relu)
Napi::Value ConvPoolForwardJs(const Napi::CallbackInfo& info) {
  Args a(info, "convPoolForward", 19);
  F32 x = a.Floats(0, "x"), W = a.Floats(1, "W"), b = a.Floats(2, "b");
  F32 pooled = a.Floats(3, "pooled");
  I32 arg = a.Ints(4, "argmax");
  int64_t FN = a.Int(5, "FN", 1);
  ConvGeom g = ReadConvGeom(a, 6);
  PoolFuse pool;
  pool.plane = ReadFusedPool(a, 14, g);
  const bool relu = a.Bool(18, "relu");
  a.ExpectLength("x", x.length, {g.N, g.C, g.H, g.W});
  a.ExpectLength("W", W.length, {FN, g.C, g.FH, g.FW});
  a.ExpectLength("b", b.length, {FN});
  a.ExpectLength("pooled", pooled.length, {g.N, FN, pool.plane.OH, pool.plane.OW});
  a.ExpectLength("argmax", arg.length, {g.N, FN, pool.plane.OH, pool.plane.OW});
  for (auto* in : {&x, &W, &b}) {
    a.ExpectDisjoint("pooled", pooled.data, pooled.length, "an input", in->data, in->length);
    a.ExpectDisjoint("argmax", arg.data, arg.length, "an input", in->data, in->length);
  }
  a.ExpectDisjoint("argmax", arg.data, arg.length, "pooled", pooled.data, pooled.length);
  pool.pooled = pooled.data;
  pool.argmax = arg.data;
  ConvForward(g, FN, x.data, W.data, b.data, nullptr, nullptr, relu, &pool);
  return Undefined(info);
}

// convPoolBackward(dpooled, x, W, dW, db, dx | null, pooled | null, argmax, FN, N, C, H, W,
//                  FH, FW, stride, pad, PH, PW, poolStride, poolPad)
Napi::Value ConvPoolBackwardJs(const Napi::CallbackInfo& info) {
  Args a(info, "convPoolBackward", 21);
  F32 dout = a.Floats(0, "dpooled"), x = a.Floats(1, "x"), W = a.Floats(2, "W");
  F32 dW = a.Floats(3, "dW"), db = a.Floats(4, "db"), dx = a.OptionalFloats(5, "dx");
  F32 pooled = a.OptionalFloats(6, "pooled");
  I32 arg = a.Ints(7, "argmax");
  int64_t FN = a.Int(8, "FN", 1);
  ConvGeom g = ReadConvGeom(a, 9);
  PoolFuse pool;
  pool.plane = ReadFusedPool(a, 17, g);
  a.ExpectLength("dpooled", dout.length, {g.N, FN, pool.plane.OH, pool.plane.OW});
  a.ExpectLength("x", x.length, {g.N, g.C, g.H, g.W});
  a.ExpectLength("W", W.length, {FN, g.C, g.FH, g.FW});
  a.ExpectLength("dW", dW.length, {FN, g.C, g.FH, g.FW});
  a.ExpectLength("db", db.length, {FN});
  if (dx.present()) a.ExpectLength("dx", dx.length, {g.N, g.C, g.H, g.W});
  if (pooled.present()) a.ExpectLength("pooled", pooled.length, {g.N, FN, pool.plane.OH, pool.plane.OW});
  a.ExpectLength("argmax", arg.length, {g.N, FN, pool.plane.OH, pool.plane.OW});
  const F32* outs[] = {&dW, &db, &dx};
  const char* out_names[] = {"dW", "db", "dx"};
  for (int i = 0; i < 3; ++i) {
    for (auto* in : {&dout, &x, &W, &pooled}) {
      a.ExpectDisjoint(out_names[i], outs[i]->data, outs[i]->length, "an input", in->data,
                       in->length);
    }
    a.ExpectDisjoint(out_names[i], outs[i]->data, outs[i]->length, "argmax", arg.data, arg.length);
    for (int j = i + 1; j < 3; ++j) {
      a.ExpectDisjoint(out_names[i], outs[i]->data, outs[i]->length, out_names[j],
                       outs[j]->data, outs[j]->length);
    }
  }
  pool.argmax = arg.data;
  pool.relu_pooled = pooled.data;
  ConvBackward(g, FN, dout.data, x.data, nullptr, W.data, dW.data, db.data, nullptr, dx.data,
               nullptr, &pool);
  return Undefined(info);
}

// maxPoolForward(x, out, argmax, N, C, H, W, PH, PW, stride, pad)
Napi::Value MaxPoolForwardJs(const Napi::CallbackInfo& info) {
  Args a(info, "maxPoolForward", 11);
  F32 x = a.Floats(0, "x"), out = a.Floats(1, "out");
  I32 arg = a.Ints(2, "argmax");
  ConvGeom g = ReadPoolGeom(a, 3);
  a.ExpectLength("x", x.length, {g.N, g.C, g.H, g.W});
  a.ExpectLength("out", out.length, {g.N, g.C, g.OH, g.OW});
  a.ExpectLength("argmax", arg.length, {g.N, g.C, g.OH, g.OW});
  a.ExpectDisjoint("out", out.data, out.length, "x", x.data, x.length);
  a.ExpectDisjoint("argmax", arg.data, arg.length, "x", x.data, x.length);
  a.ExpectDisjoint("argmax", arg.data, arg.length, "out", out.data, out.length);
  MaxPoolForward(g, x.data, out.data, arg.data);
  return Undefined(info);
}

// maxPoolBackward(dout, argmax, dx, N, C, H, W, PH, PW, stride, pad)
Napi::Value MaxPoolBackwardJs(const Napi::CallbackInfo& info) {
  Args a(info, "maxPoolBackward", 11);
  F32 dout = a.Floats(0, "dout");
  I32 arg = a.Ints(1, "argmax");
  F32 dx = a.Floats(2, "dx");
  ConvGeom g = ReadPoolGeom(a, 3);
  a.ExpectLength("dout", dout.length, {g.N, g.C, g.OH, g.OW});
  a.ExpectLength("argmax", arg.length, {g.N, g.C, g.OH, g.OW});
  a.ExpectLength("dx", dx.length, {g.N, g.C, g.H, g.W});
  a.ExpectDisjoint("dx", dx.data, dx.length, "dout", dout.data, dout.length);
  a.ExpectDisjoint("dx", dx.data, dx.length, "argmax", arg.data, arg.length);
  MaxPoolBackward(g, dout.data, arg.data, dx.data);
  return Undefined(info);
}

// avgPoolForward(x, out, N, C, H, W, PH, PW, stride, pad)
Napi::Value AvgPoolForwardJs(const Napi::CallbackInfo& info) {
  Args a(info, "avgPoolForward", 10);
  F32 x = a.Floats(0, "x"), out = a.Floats(1, "out");
  ConvGeom g = ReadPoolGeom(a, 2);
  a.ExpectLength("x", x.length, {g.N, g.C, g.H, g.W});
  a.ExpectLength("out", out.length, {g.N, g.C, g.OH, g.OW});
  a.ExpectDisjoint("out", out.data, out.length, "x", x.data, x.length);
  AvgPoolForward(g, x.data, out.data);
  return Undefined(info);
}

// avgPoolBackward(dout, dx, N, C, H, W, PH, PW, stride, pad)
Napi::Value AvgPoolBackwardJs(const Napi::CallbackInfo& info) {
  Args a(info, "avgPoolBackward", 10);
  F32 dout = a.Floats(0, "dout"), dx = a.Floats(1, "dx");
  ConvGeom g = ReadPoolGeom(a, 2);
  a.ExpectLength("dout", dout.length, {g.N, g.C, g.OH, g.OW});
  a.ExpectLength("dx", dx.length, {g.N, g.C, g.H, g.W});
  a.ExpectDisjoint("dx", dx.data, dx.length, "dout", dout.data, dout.length);
  AvgPoolBackward(g, dout.data, dx.data);
  return Undefined(info);
}

// Unary element-wise kernels: name(a, b) with equal lengths; b is written.
template <void (*Kernel)(const float*, float*, int64_t)>
Napi::Value UnaryJs(const Napi::CallbackInfo& info, const char* fn) {
  Args a(info, fn, 2);
  F32 x = a.Floats(0, "x"), out = a.Floats(1, "out");
  a.ExpectLength("out", out.length, {static_cast<int64_t>(x.length)});
  a.ExpectDisjoint("out", out.data, out.length, "x", x.data, x.length);
  Kernel(x.data, out.data, static_cast<int64_t>(x.length));
  return Undefined(info);
}

// Binary backward kernels: name(saved, dout, dx); dx is written.
template <void (*Kernel)(const float*, const float*, float*, int64_t)>
Napi::Value BackwardJs(const Napi::CallbackInfo& info, const char* fn, const char* saved) {
  Args a(info, fn, 3);
  F32 s = a.Floats(0, saved), dout = a.Floats(1, "dout"), dx = a.Floats(2, "dx");
  a.ExpectLength("dout", dout.length, {static_cast<int64_t>(s.length)});
  a.ExpectLength("dx", dx.length, {static_cast<int64_t>(s.length)});
  a.ExpectDisjoint("dx", dx.data, dx.length, saved, s.data, s.length);
  a.ExpectDisjoint("dx", dx.data, dx.length, "dout", dout.data, dout.length);
  Kernel(s.data, dout.data, dx.data, static_cast<int64_t>(s.length));
  return Undefined(info);
}

Napi::Value ReluForwardJs(const Napi::CallbackInfo& info) { return UnaryJs<ReluForward>(info, "reluForward"); }
Napi::Value SigmoidForwardJs(const Napi::CallbackInfo& info) { return UnaryJs<SigmoidForward>(info, "sigmoidForward"); }
Napi::Value TanhForwardJs(const Napi::CallbackInfo& info) { return UnaryJs<TanhForward>(info, "tanhForward"); }
Napi::Value ReluBackwardJs(const Napi::CallbackInfo& info) { return BackwardJs<ReluBackward>(info, "reluBackward", "x"); }
Napi::Value SigmoidBackwardJs(const Napi::CallbackInfo& info) { return BackwardJs<SigmoidBackward>(info, "sigmoidBackward", "out"); }
Napi::Value TanhBackwardJs(const Napi::CallbackInfo& info) { return BackwardJs<TanhBackward>(info, "tanhBackward", "out"); }

// optimizerStep(kind, p, g, s1 | null, s2 | null, h0, h1, h2, h3)
Napi::Value OptimizerStepJs(const Napi::CallbackInfo& info) {
  Args a(info, "optimizerStep", 9);
  int64_t kind = a.Int(0, "kind", 0);
  if (kind > 5) a.Range("argument 0 'kind' must be 0..5, got " + std::to_string(kind));
  F32 p = a.Floats(1, "p"), g = a.Floats(2, "g");
  F32 s1 = a.OptionalFloats(3, "s1"), s2 = a.OptionalFloats(4, "s2");
  const int64_t n = static_cast<int64_t>(p.length);
  a.ExpectLength("g", g.length, {n});
  const bool need1 = kind >= 1, need2 = kind == 5;
  if (need1 != s1.present()) a.Type(need1 ? "'s1' is required for this optimizer" : "'s1' must be null for SGD");
  if (need2 != s2.present()) a.Type(need2 ? "'s2' is required for Adam" : "'s2' must be null for this optimizer");
  if (need1) a.ExpectLength("s1", s1.length, {n});
  if (need2) a.ExpectLength("s2", s2.length, {n});
  a.ExpectDisjoint("p", p.data, p.length, "g", g.data, g.length);
  a.ExpectDisjoint("p", p.data, p.length, "s1", s1.data, s1.length);
  a.ExpectDisjoint("p", p.data, p.length, "s2", s2.data, s2.length);
  a.ExpectDisjoint("s1", s1.data, s1.length, "g", g.data, g.length);
  a.ExpectDisjoint("s2", s2.data, s2.length, "g", g.data, g.length);
  a.ExpectDisjoint("s1", s1.data, s1.length, "s2", s2.data, s2.length);
  double hyper[4];
  const char* names[] = {"h0", "h1", "h2", "h3"};
  for (int i = 0; i < 4; ++i) {
    Napi::Value v = info[5 + i];
    if (!v.IsNumber()) a.Type(std::string("argument ") + std::to_string(5 + i) + " '" + names[i] + "' must be a number");
    hyper[i] = v.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(hyper[i])) a.Range(std::string("argument ") + std::to_string(5 + i) + " '" + names[i] + "' must be finite");
  }
  // The ranges the optimizer classes enforce: a negative rate climbs the loss, a decay of 1 or
  // more never forgets (or grows), and eps 0 turns a zero gradient into 0/0 = NaN.
  struct Role {
    const char* name;
    char range;  // 'r': >= 0, 'd': [0, 1), 'e': > 0, 0: unused
  };
  static const Role roles[6][4] = {
      {{"learning rate", 'r'}},
      {{"learning rate", 'r'}, {"momentum", 'd'}},
      {{"learning rate", 'r'}, {"momentum", 'd'}},
      {{"learning rate", 'r'}, {"eps", 'e'}},
      {{"learning rate", 'r'}, {"decay rate", 'd'}, {"eps", 'e'}},
      {{"step size lr_t", 'r'}, {"beta1", 'd'}, {"beta2", 'd'}, {"eps", 'e'}},
  };
  for (int i = 0; i < 4; ++i) {
    const Role& r = roles[kind][i];
    const double v = hyper[i];
    const bool ok = r.range == 'r' ? v >= 0 : r.range == 'd' ? (v >= 0 && v < 1) : r.range == 'e' ? v > 0 : true;
    if (!ok) {
      char shown[32];
      std::snprintf(shown, sizeof shown, "%.17g", v);
      a.Range(std::string("argument ") + std::to_string(5 + i) + " '" + names[i] + "' (" + r.name + ") must be " +
              (r.range == 'r' ? ">= 0" : r.range == 'd' ? "in [0, 1)" : "> 0") + ", got " + shown);
    }
  }
  OptimizerStep(static_cast<int>(kind), p.data, g.data, s1.data, s2.data, hyper, n);
  return Undefined(info);
}

// batchNormForward(x, gamma, beta, runMean, runVar, xc, xn, std, out, N, D, momentum, eps, train)
Napi::Value BatchNormForwardJs(const Napi::CallbackInfo& info) {
  Args a(info, "batchNormForward", 14);
  F32 x = a.Floats(0, "x"), gamma = a.Floats(1, "gamma"), beta = a.Floats(2, "beta");
  F32 rm = a.Floats(3, "runMean"), rv = a.Floats(4, "runVar"), xc = a.Floats(5, "xc");
  F32 xn = a.Floats(6, "xn"), sd = a.Floats(7, "std"), out = a.Floats(8, "out");
  int64_t N = a.Int(9, "N", 1), D = a.Int(10, "D", 1);
  double momentum = a.Double(11, "momentum"), eps = a.Double(12, "eps");
  bool train = a.Bool(13, "train");
  if (momentum < 0 || momentum > 1) a.Range("argument 11 'momentum' must be in [0, 1]");
  if (!(eps > 0)) a.Range("argument 12 'eps' must be > 0");
  for (auto [name, f] : {std::pair<const char*, F32*>{"x", &x}, {"xc", &xc}, {"xn", &xn}, {"out", &out}}) {
    a.ExpectLength(name, f->length, {N, D});
  }
  for (auto [name, f] : {std::pair<const char*, F32*>{"gamma", &gamma}, {"beta", &beta}, {"runMean", &rm},
                         {"runVar", &rv}, {"std", &sd}}) {
    a.ExpectLength(name, f->length, {D});
  }
  const F32* outs[] = {&rm, &rv, &xc, &xn, &sd, &out};
  const char* out_names[] = {"runMean", "runVar", "xc", "xn", "std", "out"};
  const F32* ins[] = {&x, &gamma, &beta};
  for (int i = 0; i < 6; ++i) {
    for (auto* in : ins) a.ExpectDisjoint(out_names[i], outs[i]->data, outs[i]->length, "an input", in->data, in->length);
    for (int j = i + 1; j < 6; ++j) {
      a.ExpectDisjoint(out_names[i], outs[i]->data, outs[i]->length, out_names[j], outs[j]->data, outs[j]->length);
    }
  }
  BatchNormForward(x.data, gamma.data, beta.data, rm.data, rv.data, xc.data, xn.data, sd.data,
                   out.data, N, D, momentum, eps, train);
  return Undefined(info);
}

// batchNormBackward(dout, gamma, xc, xn, std, dgamma, dbeta, dx, N, D, train)
Napi::Value BatchNormBackwardJs(const Napi::CallbackInfo& info) {
  Args a(info, "batchNormBackward", 11);
  F32 dout = a.Floats(0, "dout"), gamma = a.Floats(1, "gamma"), xc = a.Floats(2, "xc");
  F32 xn = a.Floats(3, "xn"), sd = a.Floats(4, "std"), dgamma = a.Floats(5, "dgamma");
  F32 dbeta = a.Floats(6, "dbeta"), dx = a.Floats(7, "dx");
  int64_t N = a.Int(8, "N", 1), D = a.Int(9, "D", 1);
  bool train = a.Bool(10, "train");
  for (auto [name, f] : {std::pair<const char*, F32*>{"dout", &dout}, {"xc", &xc}, {"xn", &xn}, {"dx", &dx}}) {
    a.ExpectLength(name, f->length, {N, D});
  }
  for (auto [name, f] : {std::pair<const char*, F32*>{"gamma", &gamma}, {"std", &sd}, {"dgamma", &dgamma}, {"dbeta", &dbeta}}) {
    a.ExpectLength(name, f->length, {D});
  }
  const F32* outs[] = {&dgamma, &dbeta, &dx};
  const char* out_names[] = {"dgamma", "dbeta", "dx"};
  const F32* ins[] = {&dout, &gamma, &xc, &xn, &sd};
  for (int i = 0; i < 3; ++i) {
    for (auto* in : ins) a.ExpectDisjoint(out_names[i], outs[i]->data, outs[i]->length, "an input", in->data, in->length);
    for (int j = i + 1; j < 3; ++j) {
      a.ExpectDisjoint(out_names[i], outs[i]->data, outs[i]->length, out_names[j], outs[j]->data, outs[j]->length);
    }
  }
  BatchNormBackward(dout.data, gamma.data, xc.data, xn.data, sd.data, dgamma.data, dbeta.data,
                    dx.data, N, D, train);
  return Undefined(info);
}

// dropoutForward(x, out, mask, ratio, keep, seedHigh, seedLow)
Napi::Value DropoutForwardJs(const Napi::CallbackInfo& info) {
  Args a(info, "dropoutForward", 7);
  F32 x = a.Floats(0, "x"), out = a.Floats(1, "out"), mask = a.Floats(2, "mask");
  double ratio = a.Double(3, "ratio");
  float keep = a.Float(4, "keep");
  int64_t hi = a.Int(5, "seedHigh", 0), lo = a.Int(6, "seedLow", 0);
  if (ratio < 0 || ratio >= 1) a.Range("argument 3 'ratio' must be in [0, 1)");
  const int64_t n = static_cast<int64_t>(x.length);
  a.ExpectLength("out", out.length, {n});
  a.ExpectLength("mask", mask.length, {n});
  a.ExpectDisjoint("out", out.data, out.length, "x", x.data, x.length);
  a.ExpectDisjoint("mask", mask.data, mask.length, "x", x.data, x.length);
  a.ExpectDisjoint("mask", mask.data, mask.length, "out", out.data, out.length);
  DropoutForward(x.data, out.data, mask.data, n, ratio, keep,
                 (static_cast<uint64_t>(hi) << 31) ^ static_cast<uint64_t>(lo));
  return Undefined(info);
}

// An element-wise output may be its input exactly (out[i] reads only in[i]); shifted against
// it, the loop would read elements it has already written.
void ExpectSameOrDisjoint(const Args& a, const char* out_name, const F32& out, const char* in_name, const F32& in) {
  if (out.data == in.data && out.length == in.length) return;
  auto o = reinterpret_cast<uintptr_t>(out.data), i = reinterpret_cast<uintptr_t>(in.data);
  if (out.length > 0 && in.length > 0 && o < i + in.length * 4 && i < o + out.length * 4) {
    a.Range(std::string("'") + out_name + "' overlaps '" + in_name +
            "' without being the same view: pass the same array to work in place, or separate memory");
  }
}

// multiply(a, b, out): out = a * b
Napi::Value MultiplyJs(const Napi::CallbackInfo& info) {
  Args a(info, "multiply", 3);
  F32 x = a.Floats(0, "a"), y = a.Floats(1, "b"), out = a.Floats(2, "out");
  const int64_t n = static_cast<int64_t>(x.length);
  a.ExpectLength("b", y.length, {n});
  a.ExpectLength("out", out.length, {n});
  ExpectSameOrDisjoint(a, "out", out, "a", x);
  ExpectSameOrDisjoint(a, "out", out, "b", y);
  Multiply(x.data, y.data, out.data, n);
  return Undefined(info);
}

// scale(x, out, s): out = x * s
Napi::Value ScaleJs(const Napi::CallbackInfo& info) {
  Args a(info, "scale", 3);
  F32 x = a.Floats(0, "x"), out = a.Floats(1, "out");
  float s = a.Float(2, "s");
  a.ExpectLength("out", out.length, {static_cast<int64_t>(x.length)});
  ExpectSameOrDisjoint(a, "out", out, "x", x);
  Scale(x.data, out.data, static_cast<int64_t>(x.length), s);
  return Undefined(info);
}

// setNumThreads(n): OpenBLAS threads and the loop kernels' threads together.
Napi::Value SetNumThreadsJs(const Napi::CallbackInfo& info) {
  Args a(info, "setNumThreads", 1);
  int64_t n = a.Int(0, "n", 1);
  if (n > 256) a.Range("argument 0 'n' must be at most 256, got " + std::to_string(n));
  SetLoopThreads(static_cast<int>(n));
  return Undefined(info);
}

Napi::Value GetNumThreadsJs(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), LoopThreads());
}

Napi::Value BlasInfoJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("library", "OpenBLAS");
  o.Set("config", std::string(openblas_get_config()));
  o.Set("corename", std::string(openblas_get_corename()));
  o.Set("numThreads", LoopThreads());
  o.Set("openblasThreads", openblas_get_num_threads());
  o.Set("parallel", openblas_get_parallel());
  return o;
}

}  // namespace
}  // namespace blasnet

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  using namespace blasnet;
  struct Entry {
    const char* name;
    Napi::Value (*fn)(const Napi::CallbackInfo&);
  };
  const Entry entries[] = {
      {"sgemm", SgemmJs},
      {"affineForward", AffineForwardJs},
      {"affineBackward", AffineBackwardJs},
      {"addRowVector", AddRowVectorJs},
      {"columnSums", ColumnSumsJs},
      {"im2col", Im2colJs},
      {"col2im", Col2imJs},
      {"convForward", ConvForwardJs},
      {"convBackward", ConvBackwardJs},
      {"convPoolForward", ConvPoolForwardJs},
      {"convPoolBackward", ConvPoolBackwardJs},
      {"maxPoolForward", MaxPoolForwardJs},
      {"maxPoolBackward", MaxPoolBackwardJs},
      {"avgPoolForward", AvgPoolForwardJs},
      {"avgPoolBackward", AvgPoolBackwardJs},
      {"reluForward", ReluForwardJs},
      {"reluBackward", ReluBackwardJs},
      {"sigmoidForward", SigmoidForwardJs},
      {"sigmoidBackward", SigmoidBackwardJs},
      {"tanhForward", TanhForwardJs},
      {"tanhBackward", TanhBackwardJs},
      {"optimizerStep", OptimizerStepJs},
      {"batchNormForward", BatchNormForwardJs},
      {"batchNormBackward", BatchNormBackwardJs},
      {"dropoutForward", DropoutForwardJs},
      {"multiply", MultiplyJs},
      {"scale", ScaleJs},
      {"setNumThreads", SetNumThreadsJs},
      {"getNumThreads", GetNumThreadsJs},
      {"blasInfo", BlasInfoJs},
  };
  for (const auto& e : entries) exports.Set(e.name, Napi::Function::New(env, e.fn, e.name));
  return exports;
}

}  // namespace

NODE_API_MODULE(NODE_GYP_MODULE_NAME, Init)
