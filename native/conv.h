// SPDX-License-Identifier: MIT
// Convolution over NCHW, per sample: the transposed im2col of the sample (colT, C·FH·FW x
// OH·OW) in a per-thread scratch that stays in cache, then out_n (FN x OH·OW) = W · colT + b.
// Backward recomputes colT from x rather than keeping the whole batch's columns.
#pragma once

#include <cstdint>

#include "im2col.h"

namespace blasnet {

// A 2x2, stride-2, unpadded max pooling (with the Relu before it when relu) applied to a
// convolution's output: the pooled output and the winners' plane indices, as MaxPoolForward
// writes them. A convolution kernel that computes 2x2 output tiles (Winograd) applies it to each
// tile directly.
struct PoolFusion {
  float* pooled;
  int32_t* argmax;
  bool relu;
};

// Its backward: the pooled gradient, the pooled output and the winners (N·FN·POH·POW each).
struct PoolGradFusion {
  const float* dpooled;
  const float* pooled;
  const int32_t* argmax;
  bool relu;
  int64_t total;
};

// Where each sample's convolution output goes in forward: the caller's array, or a per-thread
// scratch when a fused layer after it reduces it first (native/conv_fused.cc).
class ConvOutput {
 public:
  virtual ~ConvOutput() = default;
  // Sample n's (FN x OH·OW) output buffer, or nullptr for a per-thread scratch.
  virtual float* Sample(int64_t n) const = 0;
  // Called once sample n's output y (bias included) is complete.
  virtual void Done(int64_t n, float* y) const = 0;
  // Non-null when all that is wanted is a 2x2 stride-2 max pooling of the output (even OH and
  // OW), which a kernel may then apply itself instead of calling Sample and Done: the results
  // must be the same bits.
  virtual const PoolFusion* pool2x2() const { return nullptr; }
};

// Where each sample's gradient of the convolution output comes from in backward: dout as
// given, or routed back through fused layers into a per-thread scratch.
class ConvOutputGrad {
 public:
  virtual ~ConvOutputGrad() = default;
  // Sample n's (FN x OH·OW) gradient; `scratch` (FN·OH·OW floats) is there to write it into.
  virtual const float* Sample(int64_t n, float* scratch) const = 0;
  virtual bool uses_scratch() const = 0;
  // Non-null when the gradient comes through a 2x2 stride-2 max pooling (even OH and OW), which
  // a kernel may then route itself instead of calling Sample: the results must be the same bits,
  // but for dW and db, which a kernel may sum over the windows' winners alone (within float
  // rounding; the direct kernels do, see PooledBackward in conv_direct_kernels.h).
  virtual const PoolGradFusion* pool2x2() const { return nullptr; }
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

// The convolution algorithm (the kernels' `algorithm` argument): kAuto takes Winograd where it
// applies and pays (WinogradPays), the direct kernels for thin layers where they pay
// (DirectPays), im2col + sgemm elsewhere.
enum class ConvAlgorithm : int { kAuto = 0, kIm2col = 1, kWinograd = 2, kDirect = 3 };

// Which pass a call computes: kAuto may choose differently for each.
enum class Pass { kForward, kBackward };

// The algorithm a call runs: throws a Refusal when Winograd or the direct kernels are asked for
// where they do not apply.
ConvAlgorithm ChooseAlgorithm(const ConvGeom& g, int64_t FN, int64_t algorithm, Pass pass);

// x (N, C, H, W), W (FN, C·FH·FW), b (FN): each sample's convolution into `out`.
void ConvForward(const ConvGeom& g, int64_t FN, const float* x, const float* W, const float* b,
                 const ConvOutput& out);

// dW (FN, C·FH·FW), db (FN) and, unless dx is null, dx (N, C, H, W) from the gradient of the
// convolution output. dW and db are sums over the batch: each of a fixed number of sample
// blocks (ReductionBlocks) sums its samples, and the block sums are added in block order, so
// the result is the same at any thread count.
void ConvBackward(const ConvGeom& g, int64_t FN, const float* x, const float* W,
                  const ConvOutputGrad& dout, float* dW, float* db, float* dx);

// The same two, with the algorithm chosen (ChooseAlgorithm): the entry points call these.
void ConvForwardWith(ConvAlgorithm algorithm, const ConvGeom& g, int64_t FN, const float* x,
                     const float* W, const float* b, const ConvOutput& out);
void ConvBackwardWith(ConvAlgorithm algorithm, const ConvGeom& g, int64_t FN, const float* x,
                      const float* W, const ConvOutputGrad& dout, float* dW, float* db, float* dx);

// The direct convolution of thin layers (native/conv_direct.cc): stride 1 and at most
// kDirectMaxTaps taps C·FH·FW, any padding. Same contract as ConvForward and ConvBackward.
constexpr int64_t kDirectMaxTaps = 32;
bool DirectFits(const ConvGeom& g);
// Whether kAuto takes them for this pass at the active instruction-set level.
bool DirectPays(const ConvGeom& g, Pass pass);
void DirectForward(const ConvGeom& g, int64_t FN, const float* x, const float* W, const float* b,
                   const ConvOutput& out);
void DirectBackward(const ConvGeom& g, int64_t FN, const float* x, const float* W,
                    const ConvOutputGrad& dout, float* dW, float* db, float* dx);

// Shared by the algorithms' backward passes: the per-block sums (each block K·FN of dW^T, then
// FN of db) added in block order into dW (FN x K) and db.
void AddBlockSums(float* partials, int64_t blocks, int64_t K, int64_t FN, float* dW, float* db);

}  // namespace blasnet
