// SPDX-License-Identifier: MIT
// native/pooling.cc: max and average pooling, forward and backward, against loops written from
// the definition (padding as the course's im2col gives it; the first maximum wins).
#include <cfloat>
#include <cmath>
#include <limits>
#include <string>

#include "check.h"
#include "pooling.h"
#include "reference.h"

namespace {

using blasnet::ConvGeom;
using ref::DVec;
using ref::Vec;

std::string Name(const ConvGeom& g) {
  return "(" + std::to_string(g.H) + "x" + std::to_string(g.W) + " window " + std::to_string(g.FH) +
         "x" + std::to_string(g.FW) + " stride " + std::to_string(g.stride) + " pad " +
         std::to_string(g.pad) + ")";
}

std::vector<ConvGeom> Geometries() {
  return {
      ref::Window(2, 3, 8, 8, 2, 2, 2, 0),  // the course's pooling (the vectorised path)
      ref::Window(2, 2, 7, 9, 2, 2, 2, 0),  // odd sizes: the last row and column unused
      ref::Window(1, 2, 7, 7, 3, 3, 2, 1),  // padded: padded zeros take part
      ref::Window(1, 1, 6, 5, 3, 2, 1, 0),  // overlapping windows
      ref::Window(1, 2, 5, 5, 2, 2, 1, 1), ref::Window(1, 1, 3, 3, 5, 5, 1, 2),
      ref::Window(3, 1, 1, 4, 1, 2, 2, 0), ref::Window(1, 1, 9, 9, 4, 3, 3, 2),
  };
}

}  // namespace

TEST_CASE(pooling, max_forward_matches_the_definition) {
  uint64_t seed = 1;
  for (const ConvGeom& g : Geometries()) {
    // Random values, all-negative values (padded zeros win) and values from a small set (ties:
    // the first maximum wins).
    for (int kind = 0; kind < 3; ++kind) {
      ref::Rng rng(seed++);
      Vec x = rng.Fill(g.N * g.in_size(), kind == 1 ? -2.0f : -1.0f, kind == 1 ? -0.5f : 1.0f);
      if (kind == 2) {
        for (auto& v : x) v = std::round(v * 2.0f);
      }
      Vec out(g.N * g.C * g.OH * g.OW, 7.0f), want;
      std::vector<int32_t> argmax(out.size(), 7), want_arg;
      blasnet::MaxPoolForward(g, x.data(), out.data(), argmax.data());
      ref::MaxPool(g, x, &want, &want_arg);
      const std::string what = "max pool " + Name(g) + " kind " + std::to_string(kind);
      CHECK_SAME_BITS(what, out.data(), want.data(), out.size());
      CHECK_SAME_INTS(what + " argmax", argmax.data(), want_arg.data(), out.size());
    }
  }
}

TEST_CASE(pooling, max_forward_with_nan_and_infinities) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  uint64_t seed = 30;
  for (const ConvGeom& g : Geometries()) {
    ref::Rng rng(seed++);
    Vec x = rng.Fill(g.N * g.in_size());
    for (size_t i = 0; i < x.size(); i += 7) x[i] = nan;
    for (size_t i = 3; i < x.size(); i += 11) x[i] = (i & 1) ? inf : -inf;
    Vec out(g.N * g.C * g.OH * g.OW), want;
    std::vector<int32_t> argmax(out.size()), want_arg;
    blasnet::MaxPoolForward(g, x.data(), out.data(), argmax.data());
    ref::MaxPool(g, x, &want, &want_arg);
    const DVec w = ref::ToDouble(want);
    CHECK_NEAR_ABS("max pool with NaN " + Name(g), out.data(), w.data(), out.size(), 0, 0);
    CHECK_SAME_INTS("max pool argmax with NaN " + Name(g), argmax.data(), want_arg.data(),
                    out.size());
  }
}

TEST_CASE(pooling, max_backward_routes_to_the_argmax) {
  uint64_t seed = 60;
  for (const ConvGeom& g : Geometries()) {
    ref::Rng rng(seed++);
    const Vec x = rng.Fill(g.N * g.in_size());
    Vec out(g.N * g.C * g.OH * g.OW);
    std::vector<int32_t> argmax(out.size());
    blasnet::MaxPoolForward(g, x.data(), out.data(), argmax.data());
    const Vec dout = rng.Fill(out.size());
    Vec dx(x.size(), 7.0f);
    blasnet::MaxPoolBackward(g, dout.data(), argmax.data(), dx.data());
    const DVec want = ref::MaxPoolBackward(g, dout, argmax);
    // Overlapping windows add a few values: within a few roundings.
    CHECK_NEAR_ABS("max pool backward " + Name(g), dx.data(), want.data(), dx.size(),
                   (g.FH * g.FW + 1) * FLT_EPSILON, 1e-30);
  }
  // Indices the caller made up: outside the plane they are ignored, never written.
  const ConvGeom g = ref::Window(1, 2, 4, 4, 2, 2, 2, 0);
  std::vector<int32_t> argmax = {-1, 0, 15, 16, 1 << 30, -7, 5, 5};
  const Vec dout = {1, 2, 3, 4, 5, 6, 7, 8};
  Vec dx(32, 7.0f);
  blasnet::MaxPoolBackward(g, dout.data(), argmax.data(), dx.data());
  const DVec want = ref::MaxPoolBackward(g, dout, argmax);
  CHECK_NEAR_ABS("max pool backward, made-up indices", dx.data(), want.data(), dx.size(), 0, 0);
}

TEST_CASE(pooling, average_forward_and_backward) {
  uint64_t seed = 90;
  for (const ConvGeom& g : Geometries()) {
    ref::Rng rng(seed++);
    const Vec x = rng.Fill(g.N * g.in_size());
    Vec out(g.N * g.C * g.OH * g.OW, 7.0f);
    blasnet::AvgPoolForward(g, x.data(), out.data());
    const DVec want = ref::AvgPool(g, x);
    const double taps = static_cast<double>(g.FH * g.FW);
    // Values in [-1, 1): a float mean of `taps` of them is within (taps + 2) roundings of 1.
    CHECK_NEAR_ABS("avg pool " + Name(g), out.data(), want.data(), out.size(), 0,
                   (taps + 2) * FLT_EPSILON);
    const Vec dout = rng.Fill(out.size());
    Vec dx(x.size(), 7.0f);
    blasnet::AvgPoolBackward(g, dout.data(), dx.data());
    const DVec wdx = ref::AvgPoolBackward(g, dout);
    CHECK_NEAR_ABS("avg pool backward " + Name(g), dx.data(), wdx.data(), dx.size(), 0,
                   (taps + 2) * FLT_EPSILON);
  }
}

TEST_CASE(pooling, bindings_and_thread_counts) {
  const ConvGeom g = ref::Window(32, 32, 32, 32, 2, 2, 2, 0);
  ref::Rng rng(5);
  Vec x = rng.Fill(g.N * g.in_size()), dout = rng.Fill(g.N * g.C * g.OH * g.OW);
  Vec first_out, first_dx, first_avg, first_adx;
  std::vector<int32_t> first_arg;
  for (int threads = 1; threads <= 8; ++threads) {
    ref::Threads t(threads);
    Vec out(dout.size()), dx(x.size()), avg(dout.size()), adx(x.size());
    std::vector<int32_t> arg(dout.size());
    blasnet::MaxPoolForwardArgs mf{};
    mf.x = ref::Arg(x), mf.out = ref::Arg(out), mf.argmax = ref::Arg(arg), mf.g = ref::WindowArg(g);
    blasnet::Run(mf);
    blasnet::MaxPoolBackwardArgs mb{};
    mb.dout = ref::Arg(dout), mb.argmax = ref::Arg(arg), mb.dx = ref::Arg(dx);
    mb.g = ref::WindowArg(g);
    blasnet::Run(mb);
    blasnet::AvgPoolForwardArgs af{};
    af.x = ref::Arg(x), af.out = ref::Arg(avg), af.g = ref::WindowArg(g);
    blasnet::Run(af);
    blasnet::AvgPoolBackwardArgs ab{};
    ab.dout = ref::Arg(dout), ab.dx = ref::Arg(adx), ab.g = ref::WindowArg(g);
    blasnet::Run(ab);
    if (threads == 1) {
      Vec want;
      std::vector<int32_t> want_arg;
      ref::MaxPool(g, x, &want, &want_arg);
      CHECK_SAME_BITS("Run(MaxPoolForwardArgs)", out.data(), want.data(), out.size());
      CHECK_SAME_INTS("Run(MaxPoolForwardArgs) argmax", arg.data(), want_arg.data(), out.size());
      first_out = out, first_dx = dx, first_avg = avg, first_adx = adx, first_arg = arg;
      continue;
    }
    const std::string at = " at " + std::to_string(threads) + " threads";
    CHECK_SAME_BITS("max" + at, out.data(), first_out.data(), out.size());
    CHECK_SAME_INTS("argmax" + at, arg.data(), first_arg.data(), arg.size());
    CHECK_SAME_BITS("max backward" + at, dx.data(), first_dx.data(), dx.size());
    CHECK_SAME_BITS("avg" + at, avg.data(), first_avg.data(), avg.size());
    CHECK_SAME_BITS("avg backward" + at, adx.data(), first_adx.data(), adx.size());
  }
}
