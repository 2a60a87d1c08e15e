// SPDX-License-Identifier: MIT
// The native kernels, as the public `kernels` namespace: every function reads and writes the
// caller's typed arrays in place (their own memory, byteOffset honoured: a subarray works),
// outputs preallocated by the caller; shapes are row-major, images NCHW. Each function, its
// arguments and their rules are declared once, in contract.ts; native-api.ts (generated from it)
// exports them typed and documented, and the addon checks every argument (a TypeError or
// RangeError naming the function and the argument). What is policy rather than memory safety
// (learning rates, momentum ranges, layer shapes that fit) the layers and optimizers check.
import { outExtent } from './errors';
import { MAX_THREADS } from './contract';
import { CoreReason, cpuIsa, narrowCoreWarning, readCpuInfo } from './cpu';
import { coreDecision } from './native';
import { getNumThreads, isaInfo, openblasConfig, threadInfo } from './native-api';

export * from './native-api';
export { MAX_THREADS, SCRATCH_CAP_BYTES, SCRATCH_KEEP_BYTES } from './contract';

/** The output extent (OH, OW) of a window over an input, or a RangeError naming `fn` when it does not fit. */
export function windowOutput(fn: string, g: { H: number; W: number; FH: number; FW: number; stride: number; pad: number }):
  { OH: number; OW: number } {
  return {
    OH: outExtent(fn, 'input height', g.H, g.FH, g.stride, g.pad),
    OW: outExtent(fn, 'input width', g.W, g.FW, g.stride, g.pad),
  };
}

export interface BlasInfo {
  /** always 'OpenBLAS' */
  library: string;
  /** OpenBLAS version number, e.g. '0.3.21' */
  version: string;
  /** OpenBLAS's own configuration string */
  config: string;
  /** the CPU kernels OpenBLAS runs, e.g. 'Zen', 'Haswell' or 'SkylakeX' */
  corename: string;
  /**
   * why those: 'detected' (OpenBLAS's own choice), 'chosen by blasnet from the CPU flags'
   * (OpenBLAS would have fallen back to generic kernels on this CPU) or 'set by OPENBLAS_CORETYPE'
   */
  coreReason: CoreReason;
  /** one line on the decision, e.g. why blasnet chose the core */
  coreNote: string;
  /** the CPU model name, and the widest instruction set its flags allow */
  cpu: { model: string; isa: 'avx512' | 'avx2' | 'generic' };
  /**
   * the instruction-set level of blasnet's own loops (convolution transforms, pooling,
   * element-wise, optimizers): the widest the CPU supports unless BLASNET_ISA asks for a
   * narrower one ('avx512', 'avx2' or 'generic')
   */
  isa: 'avx512' | 'avx2' | 'generic';
  /** why that level: 'the widest this CPU supports', 'set by BLASNET_ISA', or what was wrong with BLASNET_ISA */
  isaReason: string;
  /** the most threads blasnet uses for calls from this thread: large gemms and the batch loops are split over them */
  numThreads: number;
  /**
   * 'auto' (the default, setNumThreads(0)): each call runs on one thread or on numThreads,
   * whichever the calls' own timings show to be faster now; 'fixed': setNumThreads(n)
   */
  threadMode: 'auto' | 'fixed';
  /** the thread count the next call uses (in 'auto' mode 1 or numThreads, as measured) */
  threadsInUse: number;
  /** the most threads setNumThreads accepts */
  maxThreads: number;
  /** OpenBLAS's own thread count: 1, blasnet splits the work itself */
  openblasThreads: number;
  /** OpenBLAS threading model: 'sequential', 'pthreads' or 'openmp' */
  threading: string;
}

/**
 * What BLAS blasnet runs on: library, version, configuration, threads and CPU kernel.
 * @example
 *   console.log(blasInfo().corename); // e.g. 'Haswell'
 *   console.log(blasInfo().isa);      // e.g. 'avx512' (BLASNET_ISA=avx2 holds blasnet's loops to AVX2)
 */
export function blasInfo(): BlasInfo {
  const raw = openblasConfig();
  const m = /OpenBLAS\s+([0-9][0-9.]*\S*)/.exec(raw.config);
  const cpu = readCpuInfo();
  const isa = isaInfo();
  const threads = threadInfo();
  return {
    library: 'OpenBLAS',
    version: m ? m[1] : 'unknown',
    config: raw.config,
    corename: raw.corename,
    coreReason: coreDecision.reason,
    coreNote: coreDecision.note,
    cpu: { model: cpu?.modelName ?? 'unknown', isa: cpuIsa(cpu) },
    isa: isa.isa as BlasInfo['isa'],
    isaReason: isa.reason,
    numThreads: getNumThreads(),
    threadMode: threads.mode as BlasInfo['threadMode'],
    threadsInUse: threads.inUse,
    maxThreads: MAX_THREADS,
    openblasThreads: raw.openblasThreads,
    threading: ['sequential', 'pthreads', 'openmp'][raw.parallel] ?? `unknown (${raw.parallel})`,
  };
}

// Said once per process when OpenBLAS runs kernels narrower than the CPU allows and nobody
// chose them (a CPU whose model this check does not predict): the fix is one variable.
if (process.env.BLASNET_OPENBLAS_CORE !== 'off') {
  const warning = narrowCoreWarning(coreDecision, openblasConfig().corename);
  if (warning !== null) process.emitWarning(warning, { code: 'BLASNET_OPENBLAS_CORE' });
}

// A BLASNET_ISA that could not be honoured (an unknown value, or a level above the CPU's) is
// said once per process; the kernels run at the CPU's own level then.
{
  const isa = isaInfo();
  if (isa.reason.startsWith('BLASNET_ISA=')) process.emitWarning(`blasnet: ${isa.reason}`, { code: 'BLASNET_ISA' });
}
