// SPDX-License-Identifier: MIT
// Instruction-set variants of blasnet's own loops, in one place. On x86-64 a loop marked
// BLASNET_CLONES is compiled once per listed instruction set and the widest one the CPU has is
// picked when the addon loads (GCC/Clang function multiversioning); elsewhere (aarch64: Graviton,
// Apple Silicon) it is compiled once for the target, and the loops stay plain C++ that the
// compiler vectorises for NEON. No file outside this header names an x86 instruction set.
#pragma once

#include <thread>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define BLASNET_X86 1
#define BLASNET_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define BLASNET_X86 0
#define BLASNET_CLONES
#endif

namespace blasnet {

// A pause for spin-wait loops: the x86 `pause` instruction, elsewhere a yield to the scheduler.
inline void CpuRelax() {
#if BLASNET_X86
  __builtin_ia32_pause();
#else
  std::this_thread::yield();
#endif
}

}  // namespace blasnet
