// SPDX-License-Identifier: MIT
// The runner: `blasnet_native_tests [suite ...]` runs the named suites (all without arguments),
// `--list` prints the suites. Exit status 0 when every case passed.
#include "check.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <set>

#include "gemm.h"
#include "isa.h"

namespace check {
namespace {

int failures = 0;
constexpr int kMaxPrinted = 20;

bool BothNan(double a, double b) { return std::isnan(a) && std::isnan(b); }

}  // namespace

std::vector<Case>& Registry() {
  static std::vector<Case> cases;
  return cases;
}

void Fail(const char* file, int line, const std::string& what) {
  if (failures < kMaxPrinted) std::fprintf(stderr, "  %s:%d: %s\n", file, line, what.c_str());
  if (failures == kMaxPrinted) std::fprintf(stderr, "  (further failures not printed)\n");
  ++failures;
}

int Failures() { return failures; }

bool Near(const char* file, int line, const std::string& what, const float* got, const double* ref,
          const double* scale, size_t n, double rtol, double atol) {
  size_t bad = 0;
  double worst = 0;
  std::ostringstream os;
  for (size_t i = 0; i < n; ++i) {
    const double g = got[i], r = ref[i];
    const double bound = atol + rtol * (scale != nullptr ? scale[i] : std::fabs(r));
    const bool ok = BothNan(g, r) || (g == r) || std::fabs(g - r) <= bound;
    if (ok) continue;
    if (bad < 5)
      os << "\n    [" << i << "] got " << g << ", reference " << r << " (bound " << bound << ")";
    if (std::isfinite(g - r)) worst = std::max(worst, std::fabs(g - r));
    ++bad;
  }
  if (bad == 0) return true;
  std::ostringstream msg;
  msg << what << ": " << bad << " of " << n << " values off (largest difference " << worst << ")"
      << os.str();
  Fail(file, line, msg.str());
  return false;
}

bool Near(const char* file, int line, const std::string& what, const float* got, const double* ref,
          size_t n, double rtol, double atol) {
  return Near(file, line, what, got, ref, nullptr, n, rtol, atol);
}

bool SameBits(const char* file, int line, const std::string& what, const float* a, const float* b,
              size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (std::memcmp(a + i, b + i, sizeof(float)) != 0) {
      std::ostringstream msg;
      msg << what << ": differ first at [" << i << "]: " << a[i] << " vs " << b[i];
      Fail(file, line, msg.str());
      return false;
    }
  }
  return true;
}

bool SameInts(const char* file, int line, const std::string& what, const int32_t* a,
              const int32_t* b, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) {
      std::ostringstream msg;
      msg << what << ": differ first at [" << i << "]: " << a[i] << " vs " << b[i];
      Fail(file, line, msg.str());
      return false;
    }
  }
  return true;
}

}  // namespace check

int main(int argc, char** argv) {
  using check::Registry;
  std::set<std::string> suites;
  for (const auto& c : Registry()) suites.insert(c.suite);
  if (argc == 2 && std::strcmp(argv[1], "--list") == 0) {
    for (const auto& s : suites) std::printf("%s\n", s.c_str());
    return 0;
  }
  std::set<std::string> wanted;
  for (int i = 1; i < argc; ++i) {
    if (suites.count(argv[i]) == 0) {
      std::fprintf(stderr, "no test suite named '%s' (--list shows them)\n", argv[i]);
      return 2;
    }
    wanted.insert(argv[i]);
  }
  // What the addon does when it loads (native/addon.cc): OpenBLAS held at one thread.
  blasnet::SetUpBlas();
  std::printf("instruction-set level: %s (%s)\n", blasnet::IsaName(blasnet::ActiveIsa()),
              blasnet::IsaReason());
  // Under BLASNET_ISA (ctest's isa_* runs) the level asked for must be the one that runs,
  // unless the CPU lacks it.
  if (const char* asked = std::getenv("BLASNET_ISA"); asked != nullptr && *asked != '\0') {
    const std::string want = asked;
    const bool known = want == "generic" || want == "avx2" || want == "avx512";
    const bool cpu_has = static_cast<int>(blasnet::CpuIsa()) >= (want == "avx512" ? 2
                                                                 : want == "avx2" ? 1
                                                                                  : 0);
    if (known && cpu_has && want != blasnet::IsaName(blasnet::ActiveIsa())) {
      std::fprintf(stderr, "BLASNET_ISA=%s but the active level is %s\n", asked,
                   blasnet::IsaName(blasnet::ActiveIsa()));
      return 1;
    }
  }
  int cases = 0, failed = 0;
  for (const auto& c : Registry()) {
    if (!wanted.empty() && wanted.count(c.suite) == 0) continue;
    ++cases;
    std::printf("[ RUN  ] %s.%s\n", c.suite, c.name);
    std::fflush(stdout);
    const int before = check::Failures();
    try {
      c.fn();
    } catch (const std::exception& e) {
      check::Fail(__FILE__, __LINE__, std::string("uncaught exception: ") + e.what());
    } catch (...) {
      check::Fail(__FILE__, __LINE__, "uncaught exception of unknown type");
    }
    const bool ok = check::Failures() == before;
    if (!ok) ++failed;
    std::printf("[ %s ] %s.%s\n", ok ? " OK " : "FAIL", c.suite, c.name);
    std::fflush(stdout);
  }
  std::printf("%d cases, %d failed\n", cases, failed);
  return failed == 0 && cases > 0 ? 0 : 1;
}
