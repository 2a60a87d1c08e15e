// SPDX-License-Identifier: MIT
// native/conv.cc, native/conv_direct.cc and native/conv_fused.cc: convolution forward and
// backward against the definition (no im2col in the reference), by im2col + sgemm and by the
// direct kernels where they apply; the fused conv+relu and conv[+relu]+max-pool steps against the
// separate kernels (bit for bit) and against the reference, at any thread count.
#include <algorithm>
#include <array>
#include <cfloat>
#include <string>

#include "activations.h"
#include "check.h"
#include "conv.h"
#include "pooling.h"
#include "reference.h"

namespace {

using blasnet::ConvGeom;
using blasnet::ConvGeometry;
using ref::DVec;
using ref::Vec;

std::string Name(const ConvGeometry& g) {
  return "(N" + std::to_string(g.N) + " C" + std::to_string(g.C) + " " + std::to_string(g.H) + "x" +
         std::to_string(g.W) + " FN" + std::to_string(g.FN) + " " + std::to_string(g.FH) + "x" +
         std::to_string(g.FW) + " stride " + std::to_string(g.stride) + " pad " +
         std::to_string(g.pad) + ")";
}

std::vector<ConvGeometry> Geometries() {
  return {
      ref::Conv(3, 2, 7, 6, 4, 3, 3, 1, 1),     // "same" (flat path)
      ref::Conv(2, 3, 6, 6, 5, 3, 3, 1, 2),     // pad 2: the padded copy
      ref::Conv(2, 1, 9, 9, 3, 5, 5, 1, 2),     // 5x5 same
      ref::Conv(2, 2, 9, 8, 3, 3, 3, 2, 1),     // stride 2
      ref::Conv(1, 2, 11, 10, 2, 4, 2, 3, 1),   // non-square, stride 3
      ref::Conv(2, 3, 5, 5, 4, 1, 1, 1, 0),     // 1x1
      ref::Conv(30, 1, 6, 5, 2, 3, 3, 1, 0),    // more samples than reduction blocks
      ref::Conv(1, 1, 1, 1, 1, 1, 1, 1, 0),     // a single value
      ref::Conv(3, 1, 28, 28, 30, 5, 5, 1, 0),  // SimpleConvNet's first layer (direct by default)
      ref::Conv(2, 1, 28, 28, 16, 3, 3, 1, 1),  // DeepConvNet's first layer
      ref::Conv(2, 2, 7, 19, 7, 2, 3, 1, 3),    // pad 3, rows wider than a vector
      ref::Conv(3, 1, 4, 3, 5, 4, 3, 1, 0),     // a 1x1 output, rows far narrower than a vector
  };
}

// The algorithms to check a geometry with: im2col, and the direct kernels where they apply.
// (kAuto takes the direct kernels at the avx2 level, and for forward at avx512, so the fused
// tests below run them too in ctest's runs at those levels.)
constexpr int64_t kIm2col = 1, kDirect = 3;
std::vector<int64_t> Algorithms(const ConvGeometry& g) {
  if (blasnet::DirectFits(blasnet::WindowOf(g))) return {kIm2col, kDirect};
  return {kIm2col};
}

std::string Name(const ConvGeometry& g, int64_t algorithm) {
  return Name(g) + (algorithm == kDirect ? " direct" : " im2col");
}

struct Data {
  Vec x, W, b, dout;
};

Data MakeData(const ConvGeometry& g, uint64_t seed) {
  ref::Rng rng(seed);
  return {rng.Fill(g.N * g.C * g.H * g.W), rng.Fill(g.FN * g.C * g.FH * g.FW), rng.Fill(g.FN),
          rng.Fill(g.N * g.FN * g.OH * g.OW)};
}

double Eps(double terms) { return (terms + 2) * FLT_EPSILON; }

// Forward through the binding's struct (algorithm 0: auto).
Vec Forward(const ConvGeometry& g, Data& d, int64_t algorithm = 0) {
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

void CheckGrads(const std::string& what, const ConvGeometry& g, const Grads& got,
                const ref::ConvGrads& want, bool with_dx) {
  CHECK_NEAR_ARR(what + " dW", got.dW.data(), want.dW.data(), want.dWs.data(), got.dW.size(),
                 Eps(static_cast<double>(g.N * g.OH * g.OW)), 1e-30);
  CHECK_NEAR_ARR(what + " db", got.db.data(), want.db.data(), want.dbs.data(), got.db.size(),
                 Eps(static_cast<double>(g.N * g.OH * g.OW)), 1e-30);
  if (with_dx) {
    CHECK_NEAR_ARR(what + " dx", got.dx.data(), want.dx.data(), want.dxs.data(), got.dx.size(),
                   Eps(static_cast<double>(g.FN * g.FH * g.FW)), 1e-30);
  }
}

}  // namespace

TEST_CASE(conv, forward_matches_the_definition) {
  uint64_t seed = 1;
  for (const ConvGeometry& g : Geometries()) {
    Data d = MakeData(g, seed++);
    DVec want, scale;
    ref::ConvForward(blasnet::WindowOf(g), g.FN, d.x, d.W, d.b, &want, &scale);
    for (int64_t algorithm : Algorithms(g)) {
      const Vec out = Forward(g, d, algorithm);
      CHECK_NEAR_ARR("conv forward " + Name(g, algorithm), out.data(), want.data(), scale.data(),
                     out.size(), Eps(static_cast<double>(g.C * g.FH * g.FW)), 1e-30);
    }
  }
}

TEST_CASE(conv, backward_matches_the_definition) {
  uint64_t seed = 20;
  for (const ConvGeometry& g : Geometries()) {
    Data d = MakeData(g, seed++);
    const ref::ConvGrads want = ref::ConvBackward(blasnet::WindowOf(g), g.FN, d.x, d.W, d.dout);
    for (int64_t algorithm : Algorithms(g)) {
      Grads got{Vec(d.W.size(), 7.0f), Vec(g.FN, 7.0f), Vec(d.x.size(), 7.0f)};
      blasnet::ConvBackwardArgs a{};
      a.dout = ref::Arg(d.dout), a.x = ref::Arg(d.x), a.W = ref::Arg(d.W);
      a.dW = ref::Arg(got.dW), a.db = ref::Arg(got.db), a.dx = ref::Arg(got.dx), a.g = g;
      a.algorithm = algorithm;
      blasnet::Run(a);
      CheckGrads("conv backward " + Name(g, algorithm), g, got, want, true);

      // dx = null (the first layer): the same dW and db.
      Grads no_dx{Vec(d.W.size()), Vec(g.FN), {}};
      a.dW = ref::Arg(no_dx.dW), a.db = ref::Arg(no_dx.db), a.dx = ref::Null();
      blasnet::Run(a);
      const std::string at = Name(g, algorithm);
      CHECK_SAME_BITS("dW without dx " + at, no_dx.dW.data(), got.dW.data(), got.dW.size());
      CHECK_SAME_BITS("db without dx " + at, no_dx.db.data(), got.db.data(), got.db.size());
    }
  }
}

TEST_CASE(conv, the_direct_kernels_refuse_what_they_do_not_fit) {
  // Stride 2, and 3 x 4 x 3 = 36 taps (more than kDirectMaxTaps).
  for (const ConvGeometry& g :
       {ref::Conv(1, 1, 9, 9, 4, 3, 3, 2, 0), ref::Conv(1, 3, 9, 9, 4, 4, 3, 1, 0)}) {
    Data d = MakeData(g, 700);
    Vec out(g.N * g.FN * g.OH * g.OW);
    blasnet::ConvForwardArgs a{};
    a.x = ref::Arg(d.x), a.W = ref::Arg(d.W), a.b = ref::Arg(d.b), a.out = ref::Arg(out), a.g = g;
    a.algorithm = kDirect;
    CHECK_THROWS(blasnet::Run(a), blasnet::Refusal, "algorithm 3 (direct) needs stride 1");
  }
}

TEST_CASE(conv, relu_fused_equals_conv_then_relu) {
  uint64_t seed = 40;
  for (const ConvGeometry& g : Geometries()) {
    Data d = MakeData(g, seed++);
    Vec sep = Forward(g, d);
    blasnet::ReluForward(sep.data(), sep.data(), static_cast<int64_t>(sep.size()));
    Vec fused(sep.size(), 7.0f);
    blasnet::ConvReluForwardArgs f{};
    f.x = ref::Arg(d.x), f.W = ref::Arg(d.W), f.b = ref::Arg(d.b), f.out = ref::Arg(fused), f.g = g;
    blasnet::Run(f);
    CHECK_SAME_BITS("convRelu forward " + Name(g), fused.data(), sep.data(), sep.size());

    // Backward: the gradient passes where the output is > 0.
    Grads got{Vec(d.W.size()), Vec(g.FN), Vec(d.x.size())};
    blasnet::ConvReluBackwardArgs b{};
    b.dout = ref::Arg(d.dout), b.x = ref::Arg(d.x), b.W = ref::Arg(d.W), b.out = ref::Arg(fused);
    b.dW = ref::Arg(got.dW), b.db = ref::Arg(got.db), b.dx = ref::Arg(got.dx), b.g = g;
    blasnet::Run(b);
    Vec dconv = d.dout;
    for (size_t i = 0; i < dconv.size(); ++i) {
      if (!(fused[i] > 0.0f)) dconv[i] = 0.0f;
    }
    const ref::ConvGrads want = ref::ConvBackward(blasnet::WindowOf(g), g.FN, d.x, d.W, dconv);
    CheckGrads("convRelu backward " + Name(g), g, got, want, true);
  }
}

TEST_CASE(conv, pool_fused_equals_the_separate_kernels_and_the_definition) {
  uint64_t seed = 60;
  for (const ConvGeometry& c : Geometries()) {
    for (const auto& p :
         {std::array<int, 4>{2, 2, 2, 0}, {3, 3, 2, 1}, {2, 1, 1, 0}, {1, 1, 1, 0}}) {
      const blasnet::ConvPoolGeometry g = ref::ConvPool(c, p[0], p[1], p[2], p[3]);
      if (g.POH < 1 || g.POW < 1) continue;
      for (bool relu : {false, true}) {
        Data d = MakeData(c, seed++);
        const std::string what = "convPool " + Name(c) + " pool " + std::to_string(p[0]) + "x" +
                                 std::to_string(p[1]) + "/" + std::to_string(p[2]) + " pad " +
                                 std::to_string(p[3]) + (relu ? " relu" : "");
        // The separate kernels: convolution, relu, max pooling of each output plane.
        Vec conv = Forward(c, d);
        if (relu) blasnet::ReluForward(conv.data(), conv.data(), static_cast<int64_t>(conv.size()));
        const ConvGeom plane =
            ref::Window(g.N, g.FN, g.OH, g.OW, g.PH, g.PW, g.poolStride, g.poolPad);
        const size_t P = g.N * g.FN * g.POH * g.POW;
        Vec sep(P);
        std::vector<int32_t> sep_arg(P);
        blasnet::MaxPoolForward(plane, conv.data(), sep.data(), sep_arg.data());

        Vec pooled(P, 7.0f);
        std::vector<int32_t> argmax(P, 7);
        blasnet::ConvPoolForwardArgs f{};
        f.x = ref::Arg(d.x), f.W = ref::Arg(d.W), f.b = ref::Arg(d.b), f.pooled = ref::Arg(pooled);
        f.argmax = ref::Arg(argmax), f.g = g, f.relu = relu;
        blasnet::Run(f);
        CHECK_SAME_BITS(what + " pooled", pooled.data(), sep.data(), P);
        CHECK_SAME_INTS(what + " argmax", argmax.data(), sep_arg.data(), P);
        // And the pooled values against the definition: the max over each window of the
        // (relu'd) reference convolution.
        DVec rc, rs;
        ref::ConvForward(blasnet::WindowOf(c), c.FN, d.x, d.W, d.b, &rc, &rs);
        Vec rconv(rc.begin(), rc.end());
        if (relu) {
          for (auto& v : rconv) v = v > 0 ? v : 0.0f;
        }
        Vec rpooled;
        std::vector<int32_t> rarg;
        ref::MaxPool(plane, rconv, &rpooled, &rarg);
        const DVec rp = ref::ToDouble(rpooled);
        double max_scale = 0;
        for (double s : rs) max_scale = std::max(max_scale, s);
        CHECK_NEAR_ABS(what + " pooled vs definition", pooled.data(), rp.data(), P, 0,
                       Eps(static_cast<double>(c.C * c.FH * c.FW)) * max_scale + 1e-30);

        // Backward: dpooled routed through argmax (dropped where a relu'd pooled value is <= 0).
        ref::Rng rng(seed * 7);
        Vec dpooled = rng.Fill(P);
        Grads got{Vec(d.W.size()), Vec(g.FN), Vec(d.x.size())};
        blasnet::ConvPoolBackwardArgs b{};
        b.dpooled = ref::Arg(dpooled), b.x = ref::Arg(d.x), b.W = ref::Arg(d.W);
        b.pooled = ref::Arg(pooled), b.argmax = ref::Arg(argmax), b.dW = ref::Arg(got.dW);
        b.db = ref::Arg(got.db), b.dx = ref::Arg(got.dx), b.g = g, b.relu = relu;
        blasnet::Run(b);
        Vec routed = dpooled;
        if (relu) {
          for (size_t i = 0; i < P; ++i) {
            if (!(pooled[i] > 0.0f)) routed[i] = 0.0f;
          }
        }
        const DVec dconv_d = ref::MaxPoolBackward(plane, routed, argmax);
        const Vec dconv(dconv_d.begin(), dconv_d.end());
        const ref::ConvGrads want = ref::ConvBackward(blasnet::WindowOf(c), c.FN, d.x, d.W, dconv);
        CheckGrads(what + " backward", c, got, want, true);
      }
    }
  }
}

TEST_CASE(conv, same_bits_at_every_thread_count) {
  // Large enough that the batch is split over the threads (and the reduction blocks hold
  // several samples each): 27 taps (the direct kernels), 36 (im2col).
  for (const ConvGeometry& g :
       {ref::Conv(50, 3, 14, 14, 16, 3, 3, 1, 1), ref::Conv(50, 4, 14, 14, 16, 3, 3, 1, 1)}) {
    const blasnet::ConvPoolGeometry gp = ref::ConvPool(g, 2, 2, 2, 0);
    Data d = MakeData(g, 99);
    ref::Rng rng(98);
    Vec dpooled = rng.Fill(g.N * g.FN * gp.POH * gp.POW);
    struct Result {
      Vec out, dW, db, dx, pooled, pdW, pdb, pdx;
      std::vector<int32_t> argmax;
    };
    Result first;
    for (int threads = 1; threads <= 8; ++threads) {
      ref::Threads t(threads);
      Result r;
      r.out = Forward(g, d);
      r.dW.resize(d.W.size()), r.db.resize(g.FN), r.dx.resize(d.x.size());
      blasnet::ConvBackwardArgs a{};
      a.dout = ref::Arg(d.dout), a.x = ref::Arg(d.x), a.W = ref::Arg(d.W);
      a.dW = ref::Arg(r.dW), a.db = ref::Arg(r.db), a.dx = ref::Arg(r.dx), a.g = g;
      blasnet::Run(a);
      r.pooled.resize(dpooled.size()), r.argmax.resize(dpooled.size());
      blasnet::ConvPoolForwardArgs f{};
      f.x = ref::Arg(d.x), f.W = ref::Arg(d.W), f.b = ref::Arg(d.b), f.pooled = ref::Arg(r.pooled);
      f.argmax = ref::Arg(r.argmax), f.g = gp, f.relu = true;
      blasnet::Run(f);
      r.pdW.resize(d.W.size()), r.pdb.resize(g.FN), r.pdx.resize(d.x.size());
      blasnet::ConvPoolBackwardArgs b{};
      b.dpooled = ref::Arg(dpooled), b.x = ref::Arg(d.x), b.W = ref::Arg(d.W);
      b.pooled = ref::Arg(r.pooled), b.argmax = ref::Arg(r.argmax), b.dW = ref::Arg(r.pdW);
      b.db = ref::Arg(r.pdb), b.dx = ref::Arg(r.pdx), b.g = gp, b.relu = true;
      blasnet::Run(b);
      if (threads == 1) {
        first = r;
        continue;
      }
      const std::string at = " " + Name(g) + " at " + std::to_string(threads) + " threads";
      CHECK_SAME_BITS("out" + at, r.out.data(), first.out.data(), r.out.size());
      CHECK_SAME_BITS("dW" + at, r.dW.data(), first.dW.data(), r.dW.size());
      CHECK_SAME_BITS("db" + at, r.db.data(), first.db.data(), r.db.size());
      CHECK_SAME_BITS("dx" + at, r.dx.data(), first.dx.data(), r.dx.size());
      CHECK_SAME_BITS("pooled" + at, r.pooled.data(), first.pooled.data(), r.pooled.size());
      CHECK_SAME_INTS("argmax" + at, r.argmax.data(), first.argmax.data(), r.argmax.size());
      CHECK_SAME_BITS("pool dW" + at, r.pdW.data(), first.pdW.data(), r.pdW.size());
      CHECK_SAME_BITS("pool db" + at, r.pdb.data(), first.pdb.data(), r.pdb.size());
      CHECK_SAME_BITS("pool dx" + at, r.pdx.data(), first.pdx.data(), r.pdx.size());
    }
  }
}
