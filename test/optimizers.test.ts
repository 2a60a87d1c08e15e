// SPDX-License-Identifier: MIT
// Optimizers and weight-decay helpers against test/fixtures/optimizers.json, produced by the
// independent numpy (and torch.optim) script test/fixtures/optimizers.py. Regenerate with
//   /usr/bin/python3 test/fixtures/optimizers.py > test/fixtures/optimizers.json
import { describe, expect, test } from '@jest/globals';
import { readFileSync } from 'fs';
import { join } from 'path';
import {
  AdaGrad, Adam, addWeightDecayGrad, l1Penalty, l2Penalty, Momentum, Nesterov, optimizerFromName,
  RMSprop, SGD, StatefulOptimizer, WeightDecayOptions,
} from '../lib/train/optimizers';
import { Tensor, tensor } from '../lib/core/tensor';

type Values = Record<string, number[]>;
interface Fixture {
  shapes: Record<string, number[]>;
  params0: Values;
  grads: Values[];
  cases: { optimizer: string; options: Record<string, number>; decay: WeightDecayOptions | null; after: Values[] }[];
  torch: { optimizer: string; options: Record<string, number>; after: Values[] }[];
  penalties: { lambda: number; l2: number; l1: number };
}

const fx: Fixture = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'optimizers.json'), 'utf8'));

// Constructors by fixture name; the fixture's "{}" options run the constructor with no argument,
// so the course's defaults are what is tested there.
const MAKE: Record<string, (o?: Record<string, number>) => StatefulOptimizer> = {
  sgd: (o) => new SGD(o),
  momentum: (o) => new Momentum(o),
  nesterov: (o) => new Nesterov(o),
  adagrad: (o) => new AdaGrad(o),
  rmsprop: (o) => new RMSprop(o),
  adam: (o) => new Adam(o),
};

function toTensors(values: Values): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const key of Object.keys(values)) out[key] = new Tensor(Float32Array.from(values[key]), fx.shapes[key]);
  return out;
}

/** |a - e| <= rtol·|e| + atol for every element; the error names the key, step and element. */
function expectClose(actual: Record<string, Tensor>, expected: Values, what: string, rtol = 1e-5, atol = 1e-7): void {
  for (const key of Object.keys(expected)) {
    const a = actual[key].data;
    const e = expected[key];
    expect(a.length).toBe(e.length);
    for (let i = 0; i < e.length; i++) {
      if (!(Math.abs(a[i] - e[i]) <= rtol * Math.abs(e[i]) + atol)) {
        throw new Error(`${what}: ${key}[${i}] is ${a[i]}, expected ${e[i]}`);
      }
    }
  }
}

function caseLabel(c: { optimizer: string; options: object; decay?: object | null }): string {
  return `${c.optimizer} ${JSON.stringify(c.options)}${c.decay ? ' decay ' + JSON.stringify(c.decay) : ''}`;
}

describe('against the numpy reference of the course formulas', () => {
  test('the fixture covers every optimizer, defaults and non-defaults, with and without decay', () => {
    const names = new Set(fx.cases.map((c) => c.optimizer));
    expect([...names].sort()).toEqual(Object.keys(MAKE).sort());
    for (const name of names) {
      const cs = fx.cases.filter((c) => c.optimizer === name);
      expect(cs.some((c) => Object.keys(c.options).length === 0 && !c.decay)).toBe(true);
      expect(cs.some((c) => Object.keys(c.options).length > 0)).toBe(true);
      expect(cs.some((c) => c.decay)).toBe(true);
    }
    expect(fx.grads.length).toBeGreaterThanOrEqual(5);
  });

  test.each(fx.cases.map((c) => [caseLabel(c), c] as const))('%s', (_label, c) => {
    const opt = MAKE[c.optimizer](Object.keys(c.options).length ? c.options : undefined);
    const params = toTensors(fx.params0);
    fx.grads.forEach((g, step) => {
      const grads = toTensors(g);
      if (c.decay) for (const key of Object.keys(grads)) addWeightDecayGrad(grads[key], params[key], c.decay);
      opt.update(params, grads);
      expectClose(params, c.after[step], `${caseLabel(c)} step ${step + 1}`);
    });
    expect(opt.state().iter).toBe(fx.grads.length);
  });

  test('optimizerFromName builds the same optimizers (any case)', () => {
    for (const c of fx.cases.filter((cc) => !cc.decay && Object.keys(cc.options).length > 0)) {
      const opt = optimizerFromName(c.optimizer.toUpperCase(), c.options);
      expect(opt).toBeInstanceOf(MAKE[c.optimizer]().constructor);
      expect(opt.name).toBe(c.optimizer);
      const params = toTensors(fx.params0);
      fx.grads.forEach((g, step) => {
        opt.update(params, toTensors(g));
        expectClose(params, c.after[step], `optimizerFromName ${caseLabel(c)} step ${step + 1}`);
      });
    }
  });

  test('reset() forgets state: a second run from the start gives the first run again', () => {
    for (const c of fx.cases.filter((cc) => !cc.decay)) {
      const opt = MAKE[c.optimizer](Object.keys(c.options).length ? c.options : undefined);
      for (let run = 0; run < 2; run++) {
        const params = toTensors(fx.params0);
        fx.grads.forEach((g, step) => {
          opt.update(params, toTensors(g));
          expectClose(params, c.after[step], `run ${run + 1} of ${caseLabel(c)} step ${step + 1}`);
        });
        opt.reset();
        expect(opt.state().iter).toBe(0);
      }
    }
  });
});

// torch.optim only where it computes the same thing as the course (reasons in the fixture
// script): SGD (same formula), SGD with momentum and with nesterov=True (torch's buf equals
// -v/lr for a constant lr, so the iterates coincide), Adagrad and RMSprop with eps = 1e-7.
// Not Adam (torch places eps after the bias correction).
describe('against torch.optim where the formulas coincide', () => {
  test('Nesterov is among them (the course\'s current form is torch\'s nesterov=True)', () => {
    expect(fx.torch.map((c) => c.optimizer)).toContain('nesterov');
  });

  test.each(fx.torch.map((c) => [caseLabel(c), c] as const))('%s', (_label, c) => {
    expect(['sgd', 'momentum', 'nesterov', 'adagrad', 'rmsprop']).toContain(c.optimizer);
    const opt = MAKE[c.optimizer](c.options);
    const params = toTensors(fx.params0);
    fx.grads.forEach((g, step) => {
      opt.update(params, toTensors(g));
      expectClose(params, c.after[step], `torch ${caseLabel(c)} step ${step + 1}`);
    });
  });
});

describe('state keyed by parameter name', () => {
  const a0 = [[0.5, -1], [2, 0.25]];
  const b0 = [1, -2, 3];
  const ga = [[0.1, -0.2], [0.3, 0.4]];
  const gb = [-0.5, 0.25, 1];

  test('two parameters of different shapes get their own slots, with the course names', () => {
    const opt = new Momentum({ lr: 0.1, momentum: 0.5 });
    const params = { a: tensor(a0), b: tensor(b0) };
    opt.update(params, { a: tensor(ga), b: tensor(gb) });
    const s = opt.state();
    expect(s.name).toBe('momentum');
    expect(s.iter).toBe(1);
    expect(Object.keys(s.slots)).toEqual(['v']);
    expect(s.slots.v.a.shape).toEqual([2, 2]);
    expect(s.slots.v.b.shape).toEqual([3]);
    // First step from v = 0: v = -lr * g, in float arithmetic (lr rounded to float, the
    // product of two floats exact in double, rounded once).
    const lr32 = Math.fround(0.1);
    expect(Array.from(s.slots.v.a.data)).toEqual(ga.flat().map((g) => Math.fround(-lr32 * Math.fround(g))));
    expect(Array.from(s.slots.v.b.data)).toEqual(gb.map((g) => Math.fround(-lr32 * Math.fround(g))));
    expect(Object.keys(new Adam().state().slots)).toEqual(['m', 'v']);
    expect(Object.keys(new AdaGrad().state().slots)).toEqual(['h']);
    expect(Object.keys(new RMSprop().state().slots)).toEqual(['h']);
    expect(Object.keys(new SGD().state().slots)).toEqual([]);
  });

  test('updating the parameters one name at a time equals updating them together', () => {
    const together = new Momentum({ lr: 0.1, momentum: 0.9 });
    const apart = new Momentum({ lr: 0.1, momentum: 0.9 });
    const p1 = { a: tensor(a0), b: tensor(b0) };
    const p2 = { a: tensor(a0), b: tensor(b0) };
    for (let step = 0; step < 4; step++) {
      together.update(p1, { a: tensor(ga), b: tensor(gb) });
      apart.update({ b: p2.b }, { b: tensor(gb) });
      apart.update({ a: p2.a }, { a: tensor(ga) });
    }
    expect(Array.from(p2.a.data)).toEqual(Array.from(p1.a.data));
    expect(Array.from(p2.b.data)).toEqual(Array.from(p1.b.data));
  });

  test('state() returns copies', () => {
    const opt = new AdaGrad();
    const params = { a: tensor(a0) };
    opt.update(params, { a: tensor(ga) });
    const s = opt.state();
    s.slots.h.a.data.fill(1e6);
    expect(opt.state().slots.h.a.data[0]).toBeCloseTo(0.01, 6);
  });

  test('a parameter whose size changed under a known name is refused until reset()', () => {
    const opt = new Adam();
    opt.update({ W: tensor(a0) }, { W: tensor(ga) });
    const other = { W: tensor(b0) };
    expect(() => opt.update(other, { W: tensor(gb) })).toThrow(/W.*\[3\].*\[2, 2\].*reset\(\)/);
    expect(Array.from(other.W.data)).toEqual(b0);
    opt.reset();
    opt.update(other, { W: tensor(gb) });
    expect(other.W.data[0]).not.toBe(b0[0]);
  });
});

describe('updates in place', () => {
  test.each(Object.keys(MAKE))('%s mutates the same Float32Array and leaves grads alone', (name) => {
    const opt = MAKE[name]();
    const start: Values = { a: [0.5, -1, 2, 0.25], b: [1, -2, 3] };
    const params = { a: tensor(start.a, [2, 2]), b: tensor(start.b) };
    const grads = { a: tensor([0.1, -0.2, 0.3, 0.4], [2, 2]), b: tensor([-0.5, 0.25, 1]) };
    const buffers = Object.fromEntries(Object.entries(params).map(([k, t]) => [k, t.data]));
    const gradCopies = Object.fromEntries(Object.entries(grads).map(([k, t]) => [k, Array.from(t.data)]));
    opt.update(params, grads);
    opt.update(params, grads);
    for (const key of ['a', 'b'] as const) {
      expect(params[key].data).toBe(buffers[key]);
      expect(Array.from(params[key].data)).not.toEqual(start[key]);
      expect(Array.from(grads[key].data)).toEqual(gradCopies[key]);
    }
  });
});

// A decaying state of a parameter whose gradient stays 0 would otherwise shrink into the
// subnormal floats and stay there for good (0.9 times the smallest one rounds back to it),
// which costs a microcode assist per vector instruction on Intel cores.
describe('decaying states never hold subnormal floats', () => {
  const FLT_MIN = 1.1754943508222875e-38;
  const subnormal = (a: Float32Array): number[] => Array.from(a).filter((v) => v !== 0 && Math.abs(v) < FLT_MIN);
  test.each(['momentum', 'nesterov', 'rmsprop', 'adam'])('%s: states below FLT_MIN become 0, the parameters move as without the flush', (name) => {
    const opt = MAKE[name]();
    const p0 = [0.5, -0.25, 1e-3, 3, 2e-30];
    const params = { w: tensor(p0, [5]) };
    // One real step puts every state entry at a normal value, then the state is scaled down to
    // just above FLT_MIN (loadState) and the gradient is 0 from there on.
    opt.update(params, { w: tensor([1, -1, 1e-3, 0.5, -2], [5]) });
    const st = opt.state();
    for (const slot of Object.values(st.slots)) {
      const a = slot.w.data;
      for (let i = 0; i < a.length; i++) a[i] = Math.fround(Math.sign(a[i]) * 4 * FLT_MIN * (1 + i / 10));
    }
    opt.loadState(st);
    const before = Array.from(params.w.data);
    const zero = { w: tensor([0, 0, 0, 0, 0], [5]) };
    for (let k = 0; k < 2500; k++) opt.update(params, zero);
    for (const [slotName, slot] of Object.entries(opt.state().slots)) {
      expect({ slotName, subnormal: subnormal(slot.w.data) }).toEqual({ slotName, subnormal: [] });
    }
    // The updates such tiny states would make (at most ~lr·4e-38/eps) move no normal parameter,
    // so the parameters after the zero-gradient steps are those before them.
    expect(Array.from(params.w.data).slice(0, 4)).toEqual(before.slice(0, 4));
  });

  test('a state at a normal value is kept: the first zero-gradient step decays it exactly', () => {
    const opt = new Momentum({ lr: 0.01, momentum: 0.5 });
    const params = { w: tensor([1], [1]) };
    opt.update(params, { w: tensor([Math.fround(4 * FLT_MIN) / 0.01], [1]) });
    const v = opt.state().slots.v.w.data[0];
    expect(v).toBe(Math.fround(-4 * FLT_MIN));
    opt.update(params, { w: tensor([0], [1]) });
    expect(opt.state().slots.v.w.data[0]).toBe(Math.fround(-2 * FLT_MIN));
    opt.update(params, { w: tensor([0], [1]) });
    expect(opt.state().slots.v.w.data[0]).toBe(Math.fround(-FLT_MIN));
    opt.update(params, { w: tensor([0], [1]) });
    expect(opt.state().slots.v.w.data[0]).toBe(0);
  });
});

describe('weight decay helpers', () => {
  const weights = () => Object.values(toTensors(fx.params0));

  test('penalties equal the numpy values and a naive sum', () => {
    const lam = fx.penalties.lambda;
    expect(l2Penalty(weights(), lam)).toBeCloseTo(fx.penalties.l2, 10);
    expect(l1Penalty(weights(), lam)).toBeCloseTo(fx.penalties.l1, 10);
    const W = tensor([[1, -2], [0, 3]]);
    const b = tensor([-0.5]);
    expect(l2Penalty([W, b], 0.1)).toBeCloseTo(0.5 * 0.1 * (1 + 4 + 0 + 9 + 0.25), 12);
    expect(l1Penalty([W, b], 0.1)).toBeCloseTo(0.1 * (1 + 2 + 0 + 3 + 0.5), 12);
    expect(l2Penalty([W], 0)).toBe(0);
    expect(l1Penalty([], 1)).toBe(0);
  });

  test('addWeightDecayGrad adds l2·W + l1·sign(W) in place, sign(0) = 0', () => {
    const W = tensor([[1, -2], [0, 3]]);
    const grad = tensor([[0.5, 0.5], [0.5, 0.5]]);
    const buf = grad.data;
    const ret = addWeightDecayGrad(grad, W, { l2: 0.1, l1: 0.01 });
    expect(ret).toBe(grad);
    expect(grad.data).toBe(buf);
    const expected = [0.5 + 0.1 + 0.01, 0.5 - 0.2 - 0.01, 0.5, 0.5 + 0.3 + 0.01].map(Math.fround);
    expect(Array.from(grad.data)).toEqual(expected);
    expect(Array.from(W.data)).toEqual([1, -2, 0, 3]);
    addWeightDecayGrad(grad, W);
    expect(Array.from(grad.data)).toEqual(expected);
  });

  test('L2 decay then SGD is W - lr·(g + λW): the course loop', () => {
    const W = tensor([[1, -2], [0, 3]]);
    const g = tensor([[0.5, -0.5], [0.25, 0]]);
    const want = [1, -2, 0, 3].map((w, i) => Math.fround(w - 0.1 * ([0.5, -0.5, 0.25, 0][i] + 0.2 * w)));
    addWeightDecayGrad(g, W, { l2: 0.2 });
    new SGD({ lr: 0.1 }).update({ W }, { W: g });
    expect(Array.from(W.data)).toEqual(want);
  });

  test('rejects bad input', () => {
    const W = tensor([[1, 2]]);
    expect(() => l2Penalty([W], -0.1)).toThrow(RangeError);
    expect(() => l2Penalty([W], -0.1)).toThrow(/lambda/);
    expect(() => l1Penalty([W], NaN)).toThrow(/lambda.*NaN/);
    expect(() => l2Penalty(W as unknown as Tensor[], 0.1)).toThrow(TypeError);
    expect(() => l1Penalty([W, 3] as unknown as Tensor[], 0.1)).toThrow(/weights\[1\]/);
    expect(() => addWeightDecayGrad(tensor([1, 2]), W, { l2: 0.1 })).toThrow(/grad has shape \[2\] but W has shape \[1, 2\]/);
    expect(() => addWeightDecayGrad(tensor([[1, 2]]), W, { l2: -1 })).toThrow(/l2/);
    expect(() => addWeightDecayGrad(tensor([[1, 2]]), W, { l1: Infinity })).toThrow(/l1/);
    expect(() => addWeightDecayGrad(tensor([[1, 2]]), W, { lambda: 1 } as WeightDecayOptions)).toThrow(/unknown option 'lambda'/);
  });
});

describe('rejects bad input', () => {
  test.each([
    ['SGD', () => new SGD({ lr: 0 }), RangeError, /SGD: lr .*> 0.*0/],
    ['SGD', () => new SGD({ lr: -0.1 }), RangeError, /lr/],
    ['SGD', () => new SGD({ lr: Infinity }), RangeError, /lr.*Infinity/],
    ['SGD', () => new SGD({ lr: NaN }), RangeError, /lr.*NaN/],
    ['SGD', () => new SGD({ lr: '0.1' as unknown as number }), TypeError, /lr.*string/],
    ['SGD', () => new SGD({ momentum: 0.9 } as never), RangeError, /unknown option 'momentum'.*lr/],
    ['SGD', () => new SGD(null as never), TypeError, /options/],
    ['Momentum', () => new Momentum({ momentum: 1 }), RangeError, /Momentum: momentum .*< 1/],
    ['Momentum', () => new Momentum({ momentum: -0.1 }), RangeError, /momentum/],
    ['Nesterov', () => new Nesterov({ momentum: 1.5 }), RangeError, /Nesterov: momentum/],
    ['Nesterov', () => new Nesterov({ lr: 0 }), RangeError, /Nesterov: lr/],
    ['AdaGrad', () => new AdaGrad({ lr: -1 }), RangeError, /AdaGrad: lr/],
    ['RMSprop', () => new RMSprop({ decayRate: 1 }), RangeError, /RMSprop: decayRate/],
    ['RMSprop', () => new RMSprop({ decay_rate: 0.9 } as never), RangeError, /did you mean 'decayRate'/],
    ['Adam', () => new Adam({ beta1: 1 }), RangeError, /Adam: beta1/],
    ['Adam', () => new Adam({ beta2: -0.001 }), RangeError, /Adam: beta2/],
    ['Adam', () => new Adam({ lr: 0 }), RangeError, /Adam: lr/],
  ] as const)('%s constructor: %#', (_name, make, type, message) => {
    expect(make).toThrow(type);
    expect(make).toThrow(message);
  });

  test('boundary values that are allowed', () => {
    expect(new Momentum({ momentum: 0 }).momentum).toBe(0);
    expect(new RMSprop({ decayRate: 0 }).decayRate).toBe(0);
    expect(new Adam({ beta1: 0, beta2: 0.999999 }).beta2).toBe(0.999999);
    expect(new Adam().lr).toBe(0.001);
    expect(new SGD().lr).toBe(0.01);
    expect(new SGD({ lr: undefined }).lr).toBe(0.01);
  });

  test('optimizerFromName: unknown names list the valid ones', () => {
    expect(() => optimizerFromName('adamw')).toThrow(RangeError);
    expect(() => optimizerFromName('adamw')).toThrow(/sgd, momentum, nesterov, adagrad, rmsprop, adam.*"adamw"/);
    expect(() => optimizerFromName(3 as unknown as string)).toThrow(TypeError);
    expect(() => optimizerFromName('Adam', { lr: -1 })).toThrow(/Adam: lr/);
    expect(optimizerFromName('RMSProp')).toBeInstanceOf(RMSprop);
    expect(optimizerFromName('ADAGRAD')).toBeInstanceOf(AdaGrad);
  });

  test('mismatched grads name the key and leave every parameter untouched', () => {
    const make = () => ({ W1: tensor([[1, 2], [3, 4]]), b1: tensor([5, 6]) });
    const cases: [Record<string, unknown>, ErrorConstructor, RegExp][] = [
      [{ W1: tensor([[1, 1], [1, 1]]) }, RangeError, /Adam\.update: grads has no entry 'b1'/],
      [{ W1: tensor([[1, 1], [1, 1]]), b1: tensor([1, 1, 1]) }, RangeError, /grads\.b1 has shape \[3\].*params\.b1 has shape \[2\]/],
      [{ W1: tensor([1, 1, 1, 1]), b1: tensor([1, 1]) }, RangeError, /grads\.W1 has shape \[4\].*params\.W1 has shape \[2, 2\]/],
      [{ W1: tensor([[1, 1], [1, 1]]), b1: tensor([1, 1]), W2: tensor([1]) }, RangeError, /'W2'/],
      [{ W1: tensor([[1, 1], [1, 1]]), b1: [1, 1] }, TypeError, /grads\.b1 must be a Tensor/],
    ];
    for (const [grads, type, message] of cases) {
      const opt = new Adam();
      const params = make();
      expect(() => opt.update(params, grads as Record<string, Tensor>)).toThrow(type);
      expect(() => opt.update(params, grads as Record<string, Tensor>)).toThrow(message);
      expect(Array.from(params.W1.data)).toEqual([1, 2, 3, 4]);
      expect(Array.from(params.b1.data)).toEqual([5, 6]);
      expect(opt.state().iter).toBe(0);
    }
    const opt = new SGD();
    expect(() => opt.update(null as never, {})).toThrow(/SGD\.update: params must be an object/);
    expect(() => opt.update({}, tensor([1]) as never)).toThrow(/grads must be an object/);
    expect(() => opt.update({ W: new Float32Array(2) as never }, { W: tensor([1, 2]) })).toThrow(/params\.W must be a Tensor/);
  });
});
