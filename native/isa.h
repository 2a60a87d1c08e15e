// SPDX-License-Identifier: MIT
// Instruction-set variants of blasnet's own loops, in one place: no other file names an x86
// instruction set.
//
// On x86-64 each multi-versioned kernel is compiled three times, for AVX-512 (F, BW, VL, DQ),
// for AVX2 + FMA and for the baseline, and the variant that runs is chosen once, when the addon
// loads: the widest level the CPU (and its operating system) supports, or a narrower one when the
// environment variable BLASNET_ISA asks for it (avx512, avx2 or generic), so that every path can
// be run and tested on one machine. Elsewhere (aarch64: Graviton, Apple Silicon) there is one
// variant, the plain C++ that the compiler vectorises for the target.
//
// Two ways to write a variant:
// - BLASNET_MULTIVERSION(name, impl, avx512_target) turns an inline function template `impl`
//   (marked BLASNET_INLINE) into `name(...)`, which calls impl compiled for the active level.
//   avx512_target is BLASNET_TARGET_AVX512 (AVX-512 instructions on 256-bit registers: loops
//   over short rows, such as 2x2 pooling, run slower with 512-bit vectors) or
//   BLASNET_TARGET_AVX512_ZMM (512-bit vectors: compute-bound loops such as exp).
// - For a whole file of kernels (the Winograd transforms): BLASNET_BEGIN_AVX2 ...
// BLASNET_END_TARGET
//   compiles every function defined between them for that level.
#pragma once

#include <thread>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define BLASNET_X86 1
#else
#define BLASNET_X86 0
#endif

// An inline helper that must be inlined into each variant (and so compiled for its level).
#define BLASNET_INLINE inline __attribute__((always_inline))

#if BLASNET_X86
#define BLASNET_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define BLASNET_TARGET_AVX512 \
  __attribute__((target("avx2,fma,avx512f,avx512vl,avx512bw,avx512dq,prefer-vector-width=256")))
#define BLASNET_TARGET_AVX512_ZMM \
  __attribute__((target("avx2,fma,avx512f,avx512vl,avx512bw,avx512dq,prefer-vector-width=512")))
#if defined(__clang__)
#define BLASNET_BEGIN_AVX2 \
  _Pragma("clang attribute push(__attribute__((target(\"avx2,fma\"))), apply_to = function)")
#define BLASNET_BEGIN_AVX512_ZMM                                                                  \
  _Pragma(                                                                                        \
      "clang attribute push(__attribute__((target(\"avx2,fma,avx512f,avx512vl,avx512bw,avx512dq," \
      "prefer-vector-width=512\"))), apply_to = function)")
#define BLASNET_END_TARGET _Pragma("clang attribute pop")
#else
#define BLASNET_BEGIN_AVX2 _Pragma("GCC push_options") _Pragma("GCC target(\"avx2,fma\")")
#define BLASNET_BEGIN_AVX512_ZMM       \
  _Pragma("GCC push_options") _Pragma( \
      "GCC target(\"avx2,fma,avx512f,avx512vl,avx512bw,avx512dq,prefer-vector-width=512\")")
#define BLASNET_END_TARGET _Pragma("GCC pop_options")
#endif
#else
#define BLASNET_TARGET_AVX2
#define BLASNET_TARGET_AVX512
#define BLASNET_TARGET_AVX512_ZMM
#define BLASNET_BEGIN_AVX2
#define BLASNET_BEGIN_AVX512_ZMM
#define BLASNET_END_TARGET
#endif

namespace blasnet {

// The instruction-set levels, narrowest first.
enum class Isa : int { kGeneric = 0, kAvx2 = 1, kAvx512 = 2 };

namespace isa_internal {
extern Isa active;
}  // namespace isa_internal

// The level blasnet's own loops run at (fixed when the addon loads).
inline Isa ActiveIsa() { return isa_internal::active; }
// The widest level this CPU and its operating system support.
Isa CpuIsa();
// "avx512", "avx2" or "generic".
const char* IsaName(Isa isa);
// Why ActiveIsa() is what it is, one line (for blasInfo()).
const char* IsaReason();

// A pause for spin-wait loops: the x86 `pause` instruction, elsewhere a yield to the scheduler.
inline void CpuRelax() {
#if BLASNET_X86
  __builtin_ia32_pause();
#else
  std::this_thread::yield();
#endif
}

}  // namespace blasnet

#if BLASNET_X86
#define BLASNET_MULTIVERSION(name, impl, avx512_target) \
  template <class... A>                                 \
  avx512_target auto name##Avx512(A... a) {             \
    return impl(a...);                                  \
  }                                                     \
  template <class... A>                                 \
  BLASNET_TARGET_AVX2 auto name##Avx2(A... a) {         \
    return impl(a...);                                  \
  }                                                     \
  template <class... A>                                 \
  auto name##Generic(A... a) {                          \
    return impl(a...);                                  \
  }                                                     \
  template <class... A>                                 \
  inline auto name(A... a) {                            \
    switch (::blasnet::ActiveIsa()) {                   \
      case ::blasnet::Isa::kAvx512:                     \
        return name##Avx512(a...);                      \
      case ::blasnet::Isa::kAvx2:                       \
        return name##Avx2(a...);                        \
      default:                                          \
        return name##Generic(a...);                     \
    }                                                   \
  }
#else
#define BLASNET_MULTIVERSION(name, impl, avx512_target) \
  template <class... A>                                 \
  inline auto name(A... a) {                            \
    return impl(a...);                                  \
  }
#endif
