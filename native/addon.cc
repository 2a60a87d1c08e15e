// SPDX-License-Identifier: MIT
// Registers the entry points (native/generated/contract.h lists them, from
// lib/core/contract.ts); each goes through the one wrapper of binding.h.
#include "binding.h"
#include "gemm.h"
#include "generated/contract.h"

#ifndef BLASNET_BUILD_ID
#error "BLASNET_BUILD_ID comes from the build (CMakeLists.txt, binding.gyp: scripts/build-id.js)"
#endif

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  using namespace blasnet;
  SetUpBlas();
  // This environment's thread setting (the main thread's, or one worker_thread's): automatic.
  env.SetInstanceData(new EnvThreads{DefaultThreads(), true});
#define BLASNET_REGISTER(js_name, Args) \
  exports.Set(#js_name,                 \
              Napi::Function::New(env, Bind<Args>, #js_name, const_cast<char*>(#js_name)));
  BLASNET_ENTRY_POINTS(BLASNET_REGISTER)
#undef BLASNET_REGISTER
  // Read by the loader before anything is called: a build older than lib/core/contract.ts is
  // refused (scripts/build-id.js).
  exports.Set("buildId", Napi::String::New(env, BLASNET_BUILD_ID));
  return exports;
}

}  // namespace

NODE_API_MODULE(NODE_GYP_MODULE_NAME, Init)
