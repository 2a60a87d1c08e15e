// SPDX-License-Identifier: MIT
#include "scratch.h"

#include <cstdio>
#include <string>

#include "common.h"
#include "generated/contract.h"

namespace blasnet {
namespace {

// This thread's scratch buffers, as an intrusive list: a plain pointer, so that it needs no
// destructor of its own whatever order the thread's objects are destroyed in.
thread_local ScratchBase* scratch_head = nullptr;

std::string Size(double bytes) {
  char buf[64];
  if (bytes >= 1024.0 * 1024 * 1024) {
    std::snprintf(buf, sizeof buf, "%.1f GiB", bytes / (1024.0 * 1024 * 1024));
  } else {
    std::snprintf(buf, sizeof buf, "%.1f MiB", bytes / (1024.0 * 1024));
  }
  return buf;
}

}  // namespace

ScratchBase::ScratchBase() : next_(scratch_head) { scratch_head = this; }

ScratchBase::~ScratchBase() {
  for (ScratchBase** p = &scratch_head; *p != nullptr; p = &(*p)->next_) {
    if (*p == this) {
      *p = next_;
      break;
    }
  }
}

void ScratchBase::CheckCap(size_t count, size_t element_size) {
  size_t bytes = 0;
  if (!MulOk(count, element_size, &bytes) || bytes > static_cast<size_t>(kScratchCapBytes)) {
    throw Refusal("needs a scratch buffer of " +
                  Size(static_cast<double>(count) * static_cast<double>(element_size)) +
                  " per thread, above the cap of " + Size(static_cast<double>(kScratchCapBytes)));
  }
}

size_t ThreadScratchBytes() {
  size_t total = 0;
  for (ScratchBase* s = scratch_head; s != nullptr; s = s->next_) total += s->bytes();
  return total;
}

void ReleaseLargeScratch() {
  if (ThreadScratchBytes() <= static_cast<size_t>(kScratchKeepBytes)) return;
  for (ScratchBase* s = scratch_head; s != nullptr; s = s->next_) s->Release();
}

}  // namespace blasnet
