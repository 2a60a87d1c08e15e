// SPDX-License-Identifier: MIT
// Per-thread scratch buffers. A kernel keeps one `thread_local Scratch<T>` per use and asks it
// for n elements; the buffer grows to the largest request and is then reused, so a training
// step allocates nothing. Two limits keep one huge call from costing the process:
// - a request above kScratchCapBytes is refused (a Refusal, a RangeError in JavaScript naming
//   the call and the size) before anything is allocated;
// - when a call (or a parallel chunk on a worker) ends with more than kScratchKeepBytes held by
//   the thread, all of that thread's scratch is freed.
#pragma once

#include <cstddef>
#include <memory>

namespace blasnet {

class ScratchBase {
 public:
  ScratchBase();
  virtual ~ScratchBase();
  ScratchBase(const ScratchBase&) = delete;
  ScratchBase& operator=(const ScratchBase&) = delete;

 protected:
  virtual size_t bytes() const = 0;
  virtual void Release() = 0;

 protected:
  // Throws a Refusal when count elements of element_size bytes are above the cap.
  static void CheckCap(size_t count, size_t element_size);

 private:
  friend void ReleaseLargeScratch();
  friend size_t ThreadScratchBytes();
  ScratchBase* next_;
};

template <class T>
class Scratch : public ScratchBase {
 public:
  // n elements (contents unspecified), valid until the next Get on this slot or the end of the
  // call.
  T* Get(size_t n) {
    if (n > size_) {
      CheckCap(n, sizeof(T));
      buf_.reset();
      size_ = 0;
      buf_.reset(new T[n]);
      size_ = n;
      ++allocations_;
    }
    return buf_.get();
  }

  // How many times this slot has allocated: a caller that caches contents in it compares this
  // to know that they are still there (a release and a new allocation may reuse the address).
  size_t allocations() const { return allocations_; }

 public:
  size_t bytes() const override { return size_ * sizeof(T); }
  void Release() override {
    buf_.reset();
    size_ = 0;
  }

 private:
  std::unique_ptr<T[]> buf_;
  size_t size_ = 0;
  size_t allocations_ = 0;
};

// Frees every scratch buffer of the calling thread when together they exceed kScratchKeepBytes.
void ReleaseLargeScratch();
// Bytes of scratch the calling thread holds (for tests and the release rule).
size_t ThreadScratchBytes();

}  // namespace blasnet
