// SPDX-License-Identifier: MIT
// The exercises in a row, each in a subfolder of one run folder.
import * as path from 'path';
import { activationsExperiment, ActivationsOptions } from './activations';
import { convnetExperiment, ConvnetOptions } from './convnet';
import { ExperimentOptions, ExperimentOutcome, experimentData, prepareOutDir } from './common';
import { optimizersExperiment, OptimizersOptions } from './optimizers';
import { overfittingExperiment, OverfittingOptions } from './overfitting';
import { vanishingGradient, VanishingGradientOptions } from './vanishing-gradient';

export { activationsExperiment, vanishingGradient, optimizersExperiment, overfittingExperiment, convnetExperiment };
export type { ActivationsOptions, VanishingGradientOptions, OptimizersOptions, OverfittingOptions, ConvnetOptions };
export * from './common';

/** Names accepted by `blasnet experiment`. */
export const EXPERIMENT_NAMES = ['activations', 'vanishing-gradient', 'optimizers', 'overfitting', 'convnet', 'all'] as const;
export type ExperimentName = typeof EXPERIMENT_NAMES[number];

/** Options for any experiment; `iterations` applies to each exercise when given. */
export type AnyExperimentOptions = ExperimentOptions & { iterations?: number; batchSize?: number; lr?: number; sweep?: boolean };

/** Runs one exercise by name, or all five (each into `<out>/<name>`). */
export async function runExperiment(name: ExperimentName, o: AnyExperimentOptions): Promise<ExperimentOutcome[]> {
  switch (name) {
    case 'activations': return [await activationsExperiment({ out: o.out, seed: o.seed, lang: o.lang, log: o.log })];
    case 'vanishing-gradient': return [await vanishingGradient(o)];
    case 'optimizers': return [await optimizersExperiment(o)];
    case 'overfitting': return [await overfittingExperiment(o)];
    case 'convnet': return [await convnetExperiment(o)];
    case 'all': {
      prepareOutDir(o.out);
      const data = experimentData(o);
      const out: ExperimentOutcome[] = [];
      for (const n of ['activations', 'vanishing-gradient', 'optimizers', 'overfitting', 'convnet'] as const) {
        if (o.stop?.stopped) break;
        o.log?.(`=== ${n} ===`);
        out.push(...await runExperiment(n, { ...o, data, out: path.join(o.out, n) }));
      }
      return out;
    }
    default: throw new RangeError(`runExperiment: name must be one of ${EXPERIMENT_NAMES.join(', ')}, got ${String(name)}`);
  }
}
