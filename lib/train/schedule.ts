// SPDX-License-Identifier: MIT
// Learning-rate schedules: pure functions of the iteration, so a run resumed from a checkpoint
// gets exactly the rates the uninterrupted run had. The Trainer sets `optimizer.lr` from its
// schedule before every update; the optimizer keeps its moments and step count throughout.
import { describe, expectInt, expectNumber, readOptions } from '../core/errors';

/**
 * The learning rate of the update made at `iteration` (0-based index of the training step),
 * given the optimizer's learning rate when training started (`baseLr`).
 */
export type LrSchedule = (iteration: number, baseLr: number) => number;

export interface StepDecayOptions {
  /**
   * Iterations at which the rate is multiplied by `factor` (the update at that 0-based index is
   * the first at the lower rate), in increasing order. Give this or `every`.
   */
  milestones?: number[];
  /** Multiply the rate by `factor` every this many iterations (at every, 2·every, ...). */
  every?: number;
  /** What the rate is multiplied by at each drop, in (0, 1]; 0.1 by default. */
  factor?: number;
}

/**
 * Step decay: baseLr · factor^k, where k is the number of drops reached (milestones <= iteration,
 * or floor(iteration / every)). The `--lr-drop` of `blasnet train` is one milestone with factor 0.1.
 * @example
 *   // Adam at 0.001, then 0.0001 from the 2400th update on; its moments are kept.
 *   new Trainer(net, x, t, xt, tt, { optimizer: 'adam', lrSchedule: stepDecay({ milestones: [2400] }) });
 */
export function stepDecay(options: StepDecayOptions): LrSchedule {
  const fn = 'stepDecay';
  if (options === undefined) throw new TypeError(`${fn}: options { milestones } or { every } are required`);
  const o = readOptions(fn, options, ['milestones', 'every', 'factor']);
  const factor = expectNumber(fn, 'factor', o.factor === undefined ? 0.1 : o.factor, { min: 0, minExclusive: true, max: 1 });
  if ((o.milestones === undefined) === (o.every === undefined)) {
    throw new TypeError(`${fn}: give exactly one of milestones (a list of iterations) and every (a period), got ${o.milestones === undefined ? 'neither' : 'both'}`);
  }
  if (o.every !== undefined) {
    const every = expectInt(fn, 'every', o.every, 1);
    return (iteration, baseLr) => baseLr * factor ** Math.floor(iteration / every);
  }
  if (!Array.isArray(o.milestones)) throw new TypeError(`${fn}: milestones must be an array of iterations, got ${describe(o.milestones)}`);
  const milestones = o.milestones.map((m, i) => expectInt(fn, `milestones[${i}]`, m, 0));
  milestones.forEach((m, i) => {
    if (i > 0 && m <= milestones[i - 1]) {
      throw new RangeError(`${fn}: milestones must increase, got ${milestones[i - 1]} then ${m} (at ${i})`);
    }
  });
  return (iteration, baseLr) => {
    let k = 0;
    while (k < milestones.length && milestones[k] <= iteration) k++;
    return baseLr * factor ** k;
  };
}

/**
 * Exponential decay: baseLr · factor^iteration.
 * @example
 *   const schedule = exponentialDecay({ factor: 0.999 });
 */
export function exponentialDecay(options: { factor: number }): LrSchedule {
  const fn = 'exponentialDecay';
  if (options === undefined) throw new TypeError(`${fn}: options { factor } are required`);
  const o = readOptions(fn, options, ['factor']);
  const factor = expectNumber(fn, 'factor', o.factor, { min: 0, minExclusive: true, max: 1 });
  return (iteration, baseLr) => baseLr * factor ** iteration;
}
