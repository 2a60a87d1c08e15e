// SPDX-License-Identifier: MIT
// native/winograd.cc: 3x3 stride-1 convolutions by Winograd's transforms (algorithm 2), forward
// and backward, against the convolution's definition (reference.h) and against im2col + sgemm
// (algorithm 1); the same bits at every thread count; a geometry it does not fit is refused.
// ctest's isa_* runs repeat it at each instruction-set level.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <string>
#include <vector>

#include "check.h"
#include "conv.h"
#include "reference.h"

namespace {

using blasnet::ConvGeometry;
using ref::DVec;
using ref::Vec;

constexpr int64_t kIm2col = 1, kWinograd = 2;

std::vector<ConvGeometry> Geometries() {
  return {
      ref::Conv(2, 8, 10, 9, 8, 3, 3, 1, 1),   // "same", odd width (partial tiles)
      ref::Conv(1, 16, 7, 7, 8, 3, 3, 1, 0),   // no padding
      ref::Conv(3, 8, 6, 11, 16, 3, 3, 1, 2),  // pad 2
      ref::Conv(1, 8, 3, 3, 8, 3, 3, 1, 0),    // one output per plane
      ref::Conv(2, 24, 12, 12, 32, 3, 3, 1, 1),
  };
}

std::string Name(const ConvGeometry& g) {
  return "N" + std::to_string(g.N) + " C" + std::to_string(g.C) + " " + std::to_string(g.H) + "x" +
         std::to_string(g.W) + " FN" + std::to_string(g.FN) + " pad " + std::to_string(g.pad);
}

// Winograd's transforms add and subtract scaled copies of the inputs before the products and
// after them, so its rounding error is not bounded entry by entry as a direct sum's is: the bound
// is relative to the largest scale (sum of the absolute values of the terms) of the output. The
// worst error at these shapes, at every level, was 2.2e-7 of it (under 2 eps); 2e-6 leaves a
// margin of about 10 (larger tiles would err more), and a wrong transform errs by order 1.
constexpr double kWinogradRtol = 2e-6;

// got vs ref within rtol * max(scale) everywhere.
void CheckNormwise(const std::string& what, const Vec& got, const DVec& want, const DVec& scale,
                   double rtol) {
  const double top = *std::max_element(scale.begin(), scale.end());
  CHECK_NEAR_ABS(what, got.data(), want.data(), got.size(), 0, rtol * top);
}

struct Data {
  Vec x, W, b, dout;
};

Data MakeData(const ConvGeometry& g, uint64_t seed) {
  ref::Rng rng(seed);
  return {rng.Fill(g.N * g.C * g.H * g.W), rng.Fill(g.FN * g.C * 9), rng.Fill(g.FN),
          rng.Fill(g.N * g.FN * g.OH * g.OW)};
}

Vec Forward(const ConvGeometry& g, Data& d, int64_t algorithm) {
  Vec out(g.N * g.FN * g.OH * g.OW, 7.0f);
  blasnet::ConvForwardArgs a{};
  a.x = ref::Arg(d.x), a.W = ref::Arg(d.W), a.b = ref::Arg(d.b), a.out = ref::Arg(out), a.g = g;
  a.algorithm = algorithm;
  blasnet::Run(a);
  return out;
}

struct Grads {
  Vec dW, db, dx;
};

Grads Backward(const ConvGeometry& g, Data& d, int64_t algorithm) {
  Grads r{Vec(d.W.size(), 7.0f), Vec(g.FN, 7.0f), Vec(d.x.size(), 7.0f)};
  blasnet::ConvBackwardArgs a{};
  a.dout = ref::Arg(d.dout), a.x = ref::Arg(d.x), a.W = ref::Arg(d.W);
  a.dW = ref::Arg(r.dW), a.db = ref::Arg(r.db), a.dx = ref::Arg(r.dx), a.g = g;
  a.algorithm = algorithm;
  blasnet::Run(a);
  return r;
}

}  // namespace

TEST_CASE(winograd, forward_matches_the_definition) {
  uint64_t seed = 300;
  for (const ConvGeometry& g : Geometries()) {
    Data d = MakeData(g, seed++);
    DVec want, scale;
    ref::ConvForward(blasnet::WindowOf(g), g.FN, d.x, d.W, d.b, &want, &scale);
    CheckNormwise("winograd forward " + Name(g), Forward(g, d, kWinograd), want, scale,
                  kWinogradRtol);
    // im2col + sgemm on the same data: within its entry-wise bound.
    const Vec direct = Forward(g, d, kIm2col);
    CHECK_NEAR_ARR("im2col forward " + Name(g), direct.data(), want.data(), scale.data(),
                   direct.size(), (g.C * 9 + 2) * FLT_EPSILON, 1e-30);
  }
}

TEST_CASE(winograd, backward_matches_the_definition) {
  uint64_t seed = 400;
  for (const ConvGeometry& g : Geometries()) {
    Data d = MakeData(g, seed++);
    const Grads got = Backward(g, d, kWinograd);
    const ref::ConvGrads want = ref::ConvBackward(blasnet::WindowOf(g), g.FN, d.x, d.W, d.dout);
    CheckNormwise("winograd dW " + Name(g), got.dW, want.dW, want.dWs, kWinogradRtol);
    CheckNormwise("winograd db " + Name(g), got.db, want.db, want.dbs, kWinogradRtol);
    CheckNormwise("winograd dx " + Name(g), got.dx, want.dx, want.dxs, kWinogradRtol);
  }
}

TEST_CASE(winograd, same_bits_at_every_thread_count) {
  const ConvGeometry g = ref::Conv(6, 16, 14, 13, 16, 3, 3, 1, 1);
  Data d = MakeData(g, 500);
  Vec first_out;
  Grads first;
  for (int threads = 1; threads <= 8; ++threads) {
    ref::Threads t(threads);
    const Vec out = Forward(g, d, kWinograd);
    const Grads gr = Backward(g, d, kWinograd);
    if (threads == 1) {
      first_out = out, first = gr;
      continue;
    }
    const std::string at = " at " + std::to_string(threads) + " threads";
    CHECK_SAME_BITS("forward" + at, out.data(), first_out.data(), out.size());
    CHECK_SAME_BITS("dW" + at, gr.dW.data(), first.dW.data(), gr.dW.size());
    CHECK_SAME_BITS("db" + at, gr.db.data(), first.db.data(), gr.db.size());
    CHECK_SAME_BITS("dx" + at, gr.dx.data(), first.dx.data(), gr.dx.size());
  }
}

TEST_CASE(winograd, a_geometry_it_does_not_fit_is_refused) {
  // 5x5 filters, and 3x3 with 4 channels (not a multiple of 8).
  for (const ConvGeometry& g :
       {ref::Conv(1, 8, 9, 9, 8, 5, 5, 1, 2), ref::Conv(1, 4, 9, 9, 8, 3, 3, 1, 1)}) {
    Data d = MakeData(g, 600);
    Vec out(g.N * g.FN * g.OH * g.OW), W(g.FN * g.C * g.FH * g.FW);
    blasnet::ConvForwardArgs a{};
    a.x = ref::Arg(d.x), a.W = ref::Arg(W), a.b = ref::Arg(d.b), a.out = ref::Arg(out), a.g = g;
    a.algorithm = kWinograd;
    CHECK_THROWS(blasnet::Run(a), blasnet::Refusal, "needs a 3x3 window, stride 1");
  }
}
