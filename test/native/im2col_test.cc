// SPDX-License-Identifier: MIT
// native/im2col.cc: the course's im2col/col2im and the transposed per-sample im2colT/col2imT
// that the convolution uses (its plain, strided, "same" (flat) and wider-padded paths).
#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "check.h"
#include "im2col.h"
#include "reference.h"

namespace {

using blasnet::ConvGeom;
using ref::DVec;
using ref::Vec;

std::string Name(const ConvGeom& g) {
  return "(N" + std::to_string(g.N) + " C" + std::to_string(g.C) + " " + std::to_string(g.H) + "x" +
         std::to_string(g.W) + " window " + std::to_string(g.FH) + "x" + std::to_string(g.FW) +
         " stride " + std::to_string(g.stride) + " pad " + std::to_string(g.pad) + ")";
}

// Geometries that reach every path: plain, strided (2, 3), "same" stride-1 convolutions (the
// flat path, odd windows with 2*pad == FW-1, also non-square ones), stride 1 padded wider than
// "same" (DeepConvNet's 3x3 pad 2: the padded-copy path), windows that hang over every edge,
// a 1-row input, 1x1 windows and windows as large as the padded input.
std::vector<ConvGeom> Geometries() {
  return {
      ref::Window(2, 3, 7, 6, 3, 3, 1, 0),   ref::Window(2, 2, 8, 8, 3, 3, 1, 1),
      ref::Window(1, 3, 5, 9, 5, 5, 1, 2),   ref::Window(2, 2, 6, 7, 3, 3, 1, 2),
      ref::Window(1, 1, 4, 4, 5, 5, 1, 3),   ref::Window(2, 3, 9, 8, 3, 3, 2, 1),
      ref::Window(1, 2, 11, 10, 4, 2, 3, 1), ref::Window(2, 1, 6, 6, 2, 2, 2, 0),
      ref::Window(1, 2, 1, 9, 3, 3, 1, 1),   ref::Window(1, 2, 5, 6, 1, 3, 1, 1),
      ref::Window(1, 2, 6, 5, 3, 1, 1, 0),   ref::Window(1, 3, 4, 4, 1, 1, 1, 0),
      ref::Window(1, 1, 3, 3, 5, 5, 1, 1),   ref::Window(3, 2, 12, 12, 5, 5, 1, 2),
      ref::Window(1, 1, 7, 7, 2, 2, 1, 1),   ref::Window(1, 2, 9, 9, 3, 3, 4, 2),
  };
}

}  // namespace

TEST_CASE(im2col, course_layout_matches_the_definition) {
  uint64_t seed = 1;
  for (const ConvGeom& g : Geometries()) {
    ref::Rng rng(seed++);
    const Vec x = rng.Fill(g.N * g.in_size());
    Vec col(g.N * g.rows() * g.cols(), 7.0f);
    blasnet::Im2col(g, x.data(), col.data());
    const DVec want = ref::Im2col(g, x);
    // A copy: exact.
    CHECK_NEAR_ABS("im2col " + Name(g), col.data(), want.data(), col.size(), 0, 0);
  }
}

TEST_CASE(im2col, col2im_is_the_adjoint) {
  uint64_t seed = 50;
  for (const ConvGeom& g : Geometries()) {
    ref::Rng rng(seed++);
    const Vec col = rng.Fill(g.N * g.rows() * g.cols());
    Vec dx(g.N * g.in_size(), 7.0f);
    blasnet::Col2im(g, col.data(), dx.data());
    DVec want, scale;
    ref::Col2im(g, col, &want, &scale);
    const double taps = static_cast<double>(g.FH * g.FW);
    CHECK_NEAR_ARR("col2im " + Name(g), dx.data(), want.data(), scale.data(), dx.size(),
                   (taps + 1) * FLT_EPSILON, 0);
    // <im2col(x), col> == <x, col2im(col)> for any x.
    const Vec x = rng.Fill(g.N * g.in_size());
    const DVec cx = ref::Im2col(g, x);
    double lhs = 0, rhs = 0, mag = 0;
    for (size_t i = 0; i < cx.size(); ++i) lhs += cx[i] * col[i], mag += std::fabs(cx[i] * col[i]);
    for (size_t i = 0; i < x.size(); ++i) rhs += static_cast<double>(x[i]) * dx[i];
    CHECK_MSG(std::fabs(lhs - rhs) <= 1e-5 * mag, Name(g) << ": " << lhs << " vs " << rhs);
  }
}

TEST_CASE(im2col, transposed_layout_matches_the_definition) {
  uint64_t seed = 100;
  for (const ConvGeom& g0 : Geometries()) {
    ConvGeom g = g0;
    g.N = 1;
    ref::Rng rng(seed++);
    const Vec x = rng.Fill(g.in_size());
    Vec colT(g.rows() * g.cols(), 7.0f);
    blasnet::Im2colTOne(g, x.data(), colT.data());
    const DVec want = ref::Im2colT(g, x);
    CHECK_NEAR_ABS("im2colT " + Name(g), colT.data(), want.data(), colT.size(), 0, 0);

    // col2imT: dx = the adjoint of im2colT.
    const Vec dcol = rng.Fill(g.rows() * g.cols());
    Vec dx(g.in_size(), 7.0f);
    blasnet::Col2imTOne(g, dcol.data(), dx.data());
    // The reference adjoint reads the course layout: transpose colT into col.
    Vec col(dcol.size());
    for (int64_t k = 0; k < g.cols(); ++k)
      for (int64_t s = 0; s < g.rows(); ++s) col[s * g.cols() + k] = dcol[k * g.rows() + s];
    DVec rdx, scale;
    ref::Col2im(g, col, &rdx, &scale);
    CHECK_NEAR_ARR("col2imT " + Name(g), dx.data(), rdx.data(), scale.data(), dx.size(),
                   (g.FH * g.FW + 1) * FLT_EPSILON, 0);
  }
}

TEST_CASE(im2col, transposed_one_sample_per_call_in_any_order) {
  // The flat path caches its edge masks per geometry and thread: alternate geometries that
  // share some of the key (same OW, different FW; same S, different pad) and come back.
  const ConvGeom gs[] = {ref::Window(1, 1, 6, 6, 3, 3, 1, 1), ref::Window(1, 1, 6, 6, 5, 5, 1, 2),
                         ref::Window(1, 1, 6, 6, 1, 3, 1, 1), ref::Window(1, 1, 9, 4, 3, 3, 1, 1),
                         ref::Window(1, 1, 4, 9, 3, 3, 1, 1), ref::Window(1, 1, 6, 6, 3, 3, 1, 1)};
  ref::Rng rng(9);
  for (int round = 0; round < 3; ++round) {
    for (const ConvGeom& g : gs) {
      const Vec x = rng.Fill(g.in_size());
      Vec colT(g.rows() * g.cols());
      blasnet::Im2colTOne(g, x.data(), colT.data());
      const DVec want = ref::Im2colT(g, x);
      CHECK_NEAR_ABS("im2colT " + Name(g), colT.data(), want.data(), colT.size(), 0, 0);
    }
  }
}

TEST_CASE(im2col, padding_is_zero_whatever_the_input_holds) {
  // Inputs full of infinities and NaNs: every entry read from the padding is +0 exactly, and
  // every other entry the input's value (the flat path's masks keep the neighbouring row out).
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (const ConvGeom& g0 : Geometries()) {
    ConvGeom g = g0;
    g.N = 1;
    Vec x(g.in_size());
    for (size_t i = 0; i < x.size(); ++i) x[i] = i % 3 == 0 ? nan : (i % 3 == 1 ? inf : -inf);
    Vec colT(g.rows() * g.cols(), 7.0f);
    blasnet::Im2colTOne(g, x.data(), colT.data());
    const DVec want = ref::Im2colT(g, x);
    int bad = 0;
    for (size_t i = 0; i < colT.size(); ++i) {
      const bool ok = std::isnan(want[i]) ? std::isnan(colT[i])
                                          : (colT[i] == want[i] &&
                                             !std::signbit(colT[i]) == !std::signbit(want[i]));
      bad += ok ? 0 : 1;
    }
    CHECK_MSG(bad == 0, "im2colT " << Name(g) << ": " << bad << " entries differ");
  }
}

TEST_CASE(im2col, same_bits_at_every_thread_count) {
  const ConvGeom g = ref::Window(40, 3, 28, 28, 5, 5, 1, 2);
  ref::Rng rng(4);
  const Vec x = rng.Fill(g.N * g.in_size());
  const Vec col0 = rng.Fill(g.N * g.rows() * g.cols());
  Vec first_col, first_dx;
  for (int threads = 1; threads <= 8; ++threads) {
    ref::Threads t(threads);
    Vec col(col0.size()), dx(x.size());
    blasnet::Im2col(g, x.data(), col.data());
    blasnet::Col2im(g, col0.data(), dx.data());
    if (threads == 1) {
      first_col = col;
      first_dx = dx;
      continue;
    }
    CHECK_SAME_BITS("im2col at " + std::to_string(threads), col.data(), first_col.data(),
                    col.size());
    CHECK_SAME_BITS("col2im at " + std::to_string(threads), dx.data(), first_dx.data(), dx.size());
  }
}

TEST_CASE(im2col, bindings_read_the_window_geometry) {
  const ConvGeom g = ref::Window(2, 2, 5, 4, 3, 1, 2, 1);
  ref::Rng rng(5);
  Vec x = rng.Fill(g.N * g.in_size()), col(g.N * g.rows() * g.cols());
  blasnet::Im2colArgs a{};
  a.x = ref::Arg(x), a.col = ref::Arg(col), a.g = ref::WindowArg(g);
  blasnet::Run(a);
  const DVec want = ref::Im2col(g, x);
  CHECK_NEAR_ABS("Run(Im2colArgs)", col.data(), want.data(), col.size(), 0, 0);
}
