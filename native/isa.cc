// SPDX-License-Identifier: MIT
// Which instruction-set variant of blasnet's loops runs (isa.h): decided once, when the addon
// loads, from the CPU's features and the environment variable BLASNET_ISA.
#include "isa.h"

#include <cctype>
#include <cstdlib>
#include <string>

#include "generated/contract.h"

namespace blasnet {
namespace {

Isa DetectCpuIsa() {
#if BLASNET_X86
  // __builtin_cpu_supports also checks that the operating system saves the wide registers.
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") &&
                      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512dq");
  return avx512 ? Isa::kAvx512 : avx2 ? Isa::kAvx2 : Isa::kGeneric;
#else
  return Isa::kGeneric;
#endif
}

struct Choice {
  Isa cpu;
  Isa active;
  std::string reason;
};

// The level BLASNET_ISA asks for (an unknown value counts as absent, and says so).
Choice Decide() {
  Choice c;
  c.cpu = DetectCpuIsa();
  c.active = c.cpu;
  const char* env = std::getenv("BLASNET_ISA");
  std::string want = env != nullptr ? env : "";
  for (char& ch : want) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (want.empty() || want == "auto") {
    c.reason = "the widest this CPU supports";
    return c;
  }
  Isa asked;
  if (want == "avx512") {
    asked = Isa::kAvx512;
  } else if (want == "avx2") {
    asked = Isa::kAvx2;
  } else if (want == "generic") {
    asked = Isa::kGeneric;
  } else {
    c.reason = "BLASNET_ISA=" + std::string(env) +
               " is not one of avx512, avx2, generic (ignored): the widest this CPU supports";
    return c;
  }
  if (asked > c.cpu) {
    c.reason =
        "BLASNET_ISA=" + want + " asks for more than this CPU supports (" + IsaName(c.cpu) + ")";
    return c;
  }
  c.active = asked;
  c.reason = "set by BLASNET_ISA";
  return c;
}

const Choice& TheChoice() {
  static const Choice choice = Decide();
  return choice;
}

}  // namespace

namespace isa_internal {
Isa active = TheChoice().active;
}  // namespace isa_internal

Isa CpuIsa() { return TheChoice().cpu; }

const char* IsaName(Isa isa) {
  switch (isa) {
    case Isa::kAvx512:
      return "avx512";
    case Isa::kAvx2:
      return "avx2";
    default:
      return "generic";
  }
}

const char* IsaReason() { return TheChoice().reason.c_str(); }

// ---- Binding: isaInfo (lib/core/contract.ts) ----

IsaInfo Run(const IsaInfoArgs&) {
  return IsaInfo{IsaName(ActiveIsa()), IsaName(CpuIsa()), IsaReason()};
}

}  // namespace blasnet
