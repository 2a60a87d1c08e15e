# SPDX-License-Identifier: MIT
# Cross-compiling for 64-bit ARM Linux (Graviton, Raspberry Pi 4/5, Ampere) on an x86-64 Debian
# or Ubuntu machine, as CI does (`node scripts/native-check.js aarch64`):
#   dpkg --add-architecture arm64 && apt-get update
#   apt-get install -y g++-aarch64-linux-gnu libopenblas-dev:arm64 qemu-user
#   cmake -S . -B build-native/aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake -DBLASNET_TESTS=ON
# The test program then runs under qemu-user (ctest uses CMAKE_CROSSCOMPILING_EMULATOR).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
# The arm64 packages of the multiarch tree (/usr/lib/aarch64-linux-gnu), not the build machine's.
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
# OPENBLAS_NUM_THREADS=1: under qemu-user, OpenBLAS's start of its own thread pool (when the
# library loads, before main) never returns, even for a program that only links it; blasnet
# holds OpenBLAS at one thread anyway (SetUpBlas, native/gemm.cc).
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L /usr/aarch64-linux-gnu -E OPENBLAS_NUM_THREADS=1)
