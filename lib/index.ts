// SPDX-License-Identifier: MIT
// blasnet: the course's deep-learning building blocks over OpenBLAS.
export * as kernels from './kernels';
export { setNumThreads, getNumThreads, blasInfo } from './kernels';
export type { BlasInfo, WindowGeometry } from './kernels';
export { ShapeError } from './errors';
