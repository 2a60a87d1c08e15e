// SPDX-License-Identifier: MIT
// A convolution with the Relu and/or the max pooling that follow it, applied to each sample's
// output while it is in cache: the full convolution output of a pooled layer is never written
// out. The results equal those of the separate kernels bit for bit (the same arithmetic on the
// same values), but for the filter and bias gradients behind a 2x2 max pooling on the direct
// kernels, which sum only the windows' winners (within float rounding). Used by the network's
// fused step (lib/nn/layers/fused.ts).
#include "activations.h"
#include "conv.h"
#include "generated/contract.h"
#include "pooling.h"

namespace blasnet {
namespace {

// Conv + Relu: the output is max(0, conv), written to the caller's array.
class ReluOutput : public ConvOutput {
 public:
  ReluOutput(float* out, int64_t per_sample) : out_(out), per_(per_sample) {}
  float* Sample(int64_t n) const override { return out_ + n * per_; }
  void Done(int64_t, float* y) const override { ReluRange(y, y, per_); }

 private:
  float* out_;
  int64_t per_;
};

// Its backward: no gradient where the output was clamped to zero.
class ReluGrad : public ConvOutputGrad {
 public:
  ReluGrad(const float* dout, const float* out, int64_t per_sample)
      : dout_(dout), out_(out), per_(per_sample) {}
  const float* Sample(int64_t n, float* scratch) const override {
    ReluBackwardRange(out_ + n * per_, dout_ + n * per_, scratch, per_);
    return scratch;
  }
  bool uses_scratch() const override { return true; }

 private:
  const float* dout_;
  const float* out_;
  int64_t per_;
};

// The pooling over one (OH, OW) output plane.
PoolGeom PlaneOf(const ConvPoolGeometry& g) {
  return PoolGeom{1, 1, g.OH, g.OW, g.PH, g.PW, g.poolStride, g.poolPad, g.POH, g.POW};
}

// Conv [+ Relu] + max pooling: the sample's output stays in a scratch; only the pooled planes
// and their argmax are written.
// A 2x2, stride-2, unpadded pooling of even (OH, OW) planes: whole tiles of 2x2 outputs.
bool Pool2x2(const ConvPoolGeometry& g) {
  return g.PH == 2 && g.PW == 2 && g.poolStride == 2 && g.poolPad == 0 && g.OH % 2 == 0 &&
         g.OW % 2 == 0;
}

class PoolOutput : public ConvOutput {
 public:
  PoolOutput(const ConvPoolGeometry& g, bool relu, float* pooled, int32_t* argmax)
      : plane_(PlaneOf(g)),
        FN_(g.FN),
        relu_(relu),
        pooled_(pooled),
        argmax_(argmax),
        fusion_{pooled, argmax, relu},
        pool2x2_(Pool2x2(g)) {}
  float* Sample(int64_t) const override { return nullptr; }
  const PoolFusion* pool2x2() const override { return pool2x2_ ? &fusion_ : nullptr; }
  void Done(int64_t n, float* y) const override {
    const int64_t S = plane_.H * plane_.W, P = plane_.OH * plane_.OW;
    if (relu_) ReluRange(y, y, FN_ * S);
    for (int64_t f = 0; f < FN_; ++f) {
      MaxPoolPlane(plane_, y + f * S, pooled_ + (n * FN_ + f) * P, argmax_ + (n * FN_ + f) * P);
    }
  }

 private:
  PoolGeom plane_;
  int64_t FN_;
  bool relu_;
  float* pooled_;
  int32_t* argmax_;
  PoolFusion fusion_;
  bool pool2x2_;
};

// Its backward: the pooled gradient routed through argmax (and, after a Relu, dropped where
// the pooled output is <= 0) into the sample's (FN x OH·OW) gradient.
class PoolGrad : public ConvOutputGrad {
 public:
  PoolGrad(const ConvPoolGeometry& g, bool relu, const float* dpooled, const float* pooled,
           const int32_t* argmax)
      : plane_(PlaneOf(g)),
        FN_(g.FN),
        relu_(relu),
        dpooled_(dpooled),
        pooled_(pooled),
        argmax_(argmax),
        fusion_{dpooled, pooled, argmax, relu, g.N * g.FN * g.POH * g.POW},
        pool2x2_(Pool2x2(g)) {}
  const float* Sample(int64_t n, float* scratch) const override {
    const int64_t S = plane_.H * plane_.W, P = plane_.OH * plane_.OW;
    for (int64_t f = 0; f < FN_; ++f) {
      const int64_t o = (n * FN_ + f) * P;
      MaxPoolPlaneBackward(plane_, dpooled_ + o, argmax_ + o, scratch + f * S,
                           relu_ ? pooled_ + o : nullptr);
    }
    return scratch;
  }
  bool uses_scratch() const override { return true; }
  const PoolGradFusion* pool2x2() const override { return pool2x2_ ? &fusion_ : nullptr; }

 private:
  PoolGeom plane_;
  int64_t FN_;
  bool relu_;
  const float* dpooled_;
  const float* pooled_;
  const int32_t* argmax_;
  PoolGradFusion fusion_;
  bool pool2x2_;
};

}  // namespace

// ---- Bindings: the fused convolutions (lib/core/contract.ts) ----

// Each runs the algorithm the plain convolution would (ChooseAlgorithm), so that the fused
// step and the separate layers give the same bits.

void Run(const ConvReluForwardArgs& a) {
  const ConvGeom g = WindowOf(a.g);
  ConvForwardWith(ChooseAlgorithm(g, a.g.FN, a.algorithm, Pass::kForward), g, a.g.FN, a.x.data,
                  a.W.data, a.b.data, ReluOutput(a.out.data, a.g.FN * g.rows()));
}

void Run(const ConvReluBackwardArgs& a) {
  const ConvGeom g = WindowOf(a.g);
  ConvBackwardWith(ChooseAlgorithm(g, a.g.FN, a.algorithm, Pass::kBackward), g, a.g.FN, a.x.data,
                   a.W.data, ReluGrad(a.dout.data, a.out.data, a.g.FN * g.rows()), a.dW.data,
                   a.db.data, a.dx.data);
}

void Run(const ConvPoolForwardArgs& a) {
  const ConvGeom g = WindowOf(a.g);
  ConvForwardWith(ChooseAlgorithm(g, a.g.FN, a.algorithm, Pass::kForward), g, a.g.FN, a.x.data,
                  a.W.data, a.b.data, PoolOutput(a.g, a.relu, a.pooled.data, a.argmax.data));
}

void Run(const ConvPoolBackwardArgs& a) {
  const ConvGeom g = WindowOf(a.g);
  ConvBackwardWith(ChooseAlgorithm(g, a.g.FN, a.algorithm, Pass::kBackward), g, a.g.FN, a.x.data,
                   a.W.data, PoolGrad(a.g, a.relu, a.dpooled.data, a.pooled.data, a.argmax.data),
                   a.dW.data, a.db.data, a.dx.data);
}

}  // namespace blasnet
