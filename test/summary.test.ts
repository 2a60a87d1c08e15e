// SPDX-License-Identifier: MIT
// net.summary(): layers in order, output shapes and parameter counts, checked against counts
// worked out by hand from the course's layer sizes (W: in x out, b: out; conv: FN x C x FH x FW + FN).
import { describe, expect, test } from '@jest/globals';
import {
  Affine, DeepConvNet, MultiLayerNet, MultiLayerNetExtend, Relu, Sequential, SimpleConvNet, Tensor,
} from '../lib';

interface Row { index: string; layer: string; shape: string; params: number }

/** The table rows of a summary: cells are separated by two or more spaces. */
function rows(text: string): Row[] {
  const lines = text.split('\n');
  const header = lines.findIndex((l) => l.startsWith('#  '));
  const out: Row[] = [];
  for (const line of lines.slice(header + 2)) {
    if (line.startsWith('=')) break;
    const cells = line.trim().split(/\s{2,}/);
    if (!/^\d/.test(line)) cells.unshift('');
    out.push({ index: cells[0], layer: cells[1].replace(/ \(fused.*\)$/, ''), shape: cells[2], params: Number(cells[3].replace(/,/g, '')) });
  }
  return out;
}

function total(text: string, what: 'Total' | 'Trainable' | 'Non-trainable'): number {
  const m = new RegExp(`^${what} params: ([\\d,]+)`, 'm').exec(text);
  return Number(m![1].replace(/,/g, ''));
}

describe('summary', () => {
  test('SimpleConvNet: conv 30x1x5x5, pool to 30x12x12, Affine 4320x100 and 100x10', () => {
    const net = new SimpleConvNet();
    const s = net.summary();
    expect(s.split('\n')[0]).toBe('SimpleConvNet: input [N, 1, 28, 28]');
    const r = rows(s);
    expect(r.map((x) => x.layer)).toEqual(['Convolution', 'Relu', 'Pooling', 'Affine', 'Relu', 'Affine', 'SoftmaxWithLoss']);
    expect(r.map((x) => x.shape)).toEqual(['[N, 30, 24, 24]', '[N, 30, 24, 24]', '[N, 30, 12, 12]', '[N, 100]', '[N, 100]', '[N, 10]', 'scalar loss']);
    const conv = 30 * 1 * 5 * 5 + 30, fc1 = 30 * 12 * 12 * 100 + 100, fc2 = 100 * 10 + 10;
    expect(r.map((x) => x.params)).toEqual([conv, 0, 0, fc1, 0, fc2, 0]);
    expect(total(s, 'Total')).toBe(conv + fc1 + fc2);
    expect(total(s, 'Total')).toBe(433890);
    expect(total(s, 'Non-trainable')).toBe(0);
    expect(s).toContain('W1 [30, 1, 5, 5], b1 [30]');
    expect(String(net)).toBe(s);
  });

  test('DeepConvNet: six 3x3 convolutions (16, 16, 32, 32, 64, 64), Affine 64*4*4 x 50 and 50 x 10', () => {
    const s = new DeepConvNet().summary();
    const convs = [[16, 1], [16, 16], [32, 16], [32, 32], [64, 32], [64, 64]].map(([fn, c]) => fn * c * 9 + fn);
    const fcs = [64 * 4 * 4 * 50 + 50, 50 * 10 + 10];
    const r = rows(s).filter((x) => x.params > 0);
    expect(r.map((x) => x.params)).toEqual([...convs, ...fcs]);
    expect(total(s, 'Total')).toBe([...convs, ...fcs].reduce((a, b) => a + b));
    // The pad-2 fourth convolution grows 14x14 to 16x16; three poolings end at 4x4.
    const shapes = rows(s).map((x) => x.shape);
    expect(shapes).toContain('[N, 32, 16, 16]');
    expect(shapes).toContain('[N, 64, 4, 4]');
  });

  test('MultiLayerNetExtend with BatchNorm: gamma/beta trainable, running mean/var non-trainable', () => {
    const s = new MultiLayerNetExtend({ inputSize: 784, hiddenSizeList: [100, 50], outputSize: 10, useBatchnorm: true, useDropout: true }).summary();
    const trainable = (784 * 100 + 100) + 2 * 100 + (100 * 50 + 50) + 2 * 50 + (50 * 10 + 10);
    expect(total(s, 'Trainable')).toBe(trainable);
    expect(total(s, 'Non-trainable')).toBe(2 * 100 + 2 * 50);
    expect(total(s, 'Total')).toBe(trainable + 300);
    expect(rows(s).map((x) => x.layer)).toEqual(['Affine', 'BatchNormalization', 'Relu', 'Dropout', 'Affine', 'BatchNormalization', 'Relu', 'Dropout', 'Affine', 'SoftmaxWithLoss']);
    expect(s.split('\n')[0]).toBe('MultiLayerNetExtend: input [N, 784]');
  });

  test('a network without a known input shape shows ?, and summary(inputShape) fills it in', () => {
    const net = new Sequential([new Relu(), new Affine(Tensor.zeros([6, 2]), Tensor.zeros([2]))]);
    expect(rows(net.summary()).map((x) => x.shape)).toEqual(['?', '?', 'scalar loss']);
    expect(net.summary()).toMatch(/input unknown/);
    expect(rows(net.summary([2, 3])).map((x) => x.shape)).toEqual(['[N, 2, 3]', '[N, 2]', 'scalar loss']);
    expect(() => net.summary([5])).toThrow(/layer 1 \(Affine\)/);
    expect(() => net.summary('x' as never)).toThrow(TypeError);
    expect(total(new MultiLayerNet({ inputSize: 3, hiddenSizeList: [4], outputSize: 2 }).summary(), 'Total')).toBe(3 * 4 + 4 + 4 * 2 + 2);
  });
});
