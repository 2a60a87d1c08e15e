// SPDX-License-Identifier: MIT
// Every file that uses N-API includes napi.h through this header. NAPI_VERSION is written once,
// in package.json (binary.napi_versions); CMakeLists.txt and binding.gyp pass it to the compiler.
#pragma once

#ifndef NAPI_VERSION
#error "NAPI_VERSION comes from package.json (binary.napi_versions) through the build"
#endif
#include <napi.h>
