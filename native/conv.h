// SPDX-License-Identifier: MIT
// Convolution over NCHW, per sample: the transposed im2col of the sample (colT, C·FH·FW x
// OH·OW) in a per-thread scratch that stays in cache, then out_n (FN x OH·OW) = W · colT + b.
// Backward recomputes colT from x rather than keeping the whole batch's columns.
#pragma once

#include <cstdint>

#include "im2col.h"

namespace blasnet {

// Where each sample's convolution output goes in forward: the caller's array, or a per-thread
// scratch when a fused layer after it reduces it first (native/conv_fused.cc).
class ConvOutput {
 public:
  virtual ~ConvOutput() = default;
  // Sample n's (FN x OH·OW) output buffer, or nullptr for a per-thread scratch.
  virtual float* Sample(int64_t n) const = 0;
  // Called once sample n's output y (bias included) is complete.
  virtual void Done(int64_t n, float* y) const = 0;
};

// Where each sample's gradient of the convolution output comes from in backward: dout as
// given, or routed back through fused layers into a per-thread scratch.
class ConvOutputGrad {
 public:
  virtual ~ConvOutputGrad() = default;
  // Sample n's (FN x OH·OW) gradient; `scratch` (FN·OH·OW floats) is there to write it into.
  virtual const float* Sample(int64_t n, float* scratch) const = 0;
  virtual bool uses_scratch() const = 0;
};

// The plain convolution: out (N, FN, OH, OW) is the output, dout its gradient.
class PlainOutput : public ConvOutput {
 public:
  PlainOutput(float* out, int64_t per_sample) : out_(out), per_(per_sample) {}
  float* Sample(int64_t n) const override { return out_ + n * per_; }
  void Done(int64_t, float*) const override {}

 private:
  float* out_;
  int64_t per_;
};

class PlainGrad : public ConvOutputGrad {
 public:
  PlainGrad(const float* dout, int64_t per_sample) : dout_(dout), per_(per_sample) {}
  const float* Sample(int64_t n, float*) const override { return dout_ + n * per_; }
  bool uses_scratch() const override { return false; }

 private:
  const float* dout_;
  int64_t per_;
};

// x (N, C, H, W), W (FN, C·FH·FW), b (FN): each sample's convolution into `out`.
void ConvForward(const ConvGeom& g, int64_t FN, const float* x, const float* W, const float* b,
                 const ConvOutput& out);

// dW (FN, C·FH·FW), db (FN) and, unless dx is null, dx (N, C, H, W) from the gradient of the
// convolution output. dW and db are sums over the batch: each of a fixed number of sample
// blocks (ReductionBlocks) sums its samples, and the block sums are added in block order, so
// the result is the same at any thread count.
void ConvBackward(const ConvGeom& g, int64_t FN, const float* x, const float* W,
                  const ConvOutputGrad& dout, float* dW, float* db, float* dx);

}  // namespace blasnet
