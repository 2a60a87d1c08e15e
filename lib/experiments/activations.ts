// SPDX-License-Identifier: MIT
// Exercise 0: the course's weight_init_activation_histogram.py. 1000 samples of
// 100 Gaussian features through 5 hidden layers of 100 units (Affine without
// bias, then sigmoid, tanh or ReLU), weights drawn as std x randn for std 1,
// 0.01, Xavier and He; histograms of each layer's activations, one figure per
// setting, and an observation per setting computed from the numbers.
import { setSeed, randn } from '../core/random';
import { Tensor } from '../core/tensor';
import { messages, Messages } from '../i18n';
import { Relu, Sigmoid, Tanh } from '../nn/layers/activations';
import { Affine } from '../nn/layers/dense';
import { Layer } from '../nn/layers/layer';
import { Sequential } from '../nn/network';
import { Picture, writeReport } from '../report';
import { histogram, histogramCounts } from '../report/plot';
import { ExperimentOutcome, prepareOutDir, round4 } from './common';

export interface ActivationsOptions {
  /** Folder the report is written into (created). */
  out: string;
  /** Seed set before each setting, so every setting starts from the same input (1). */
  seed?: number;
  /** Samples (1000). */
  samples?: number;
  /** Units per layer and features per sample (100). */
  nodes?: number;
  /** Hidden layers (5). */
  layers?: number;
  /** Histogram bins (30). */
  bins?: number;
  lang?: 'en' | 'ja';
  log?: (line: string) => void;
}

export type ActivationName = 'sigmoid' | 'tanh' | 'relu';
export const ACTIVATION_INITS = ['std1', 'std0.01', 'xavier', 'he'] as const;
export type ActivationInit = typeof ACTIVATION_INITS[number];

/** The standard deviation of each initialisation for a layer of n inputs. */
export function initStd(init: ActivationInit, n: number): number {
  switch (init) {
    case 'std1': return 1;
    case 'std0.01': return 0.01;
    case 'xavier': return Math.sqrt(1 / n);
    case 'he': return Math.sqrt(2 / n);
  }
}

/** Numbers of one layer's activations that the observation is computed from. */
export interface LayerStats {
  mean: number;
  std: number;
  /** Fraction within 0.02 of the ends of the activation's range (0/1 for sigmoid, -1/1 for tanh). */
  atEnds: number;
  /** Fraction within 0.05 of the centre (0.5 for sigmoid, 0 for tanh and ReLU). */
  atCentre: number;
  /** Fraction exactly 0 (ReLU's dead half). */
  zeros: number;
  /** Fraction outside the histogram's range. */
  outside: number;
}

export type LayerKind = 'saturated' | 'collapsed' | 'spread';
export type Trend = 'collapsed' | 'shrinks' | 'spread' | 'grows';

// Thresholds, read off the distributions of the 12 settings (seed 1, the course's sizes):
// the std 1 runs have 57-82% of their sigmoid/tanh values within 0.02 of the ends in every
// layer, all other settings at most 10%; std 0.01 puts 95-100% within 0.05 of the centre from
// layer 1 (sigmoid) or 2 (tanh) on, all others at most 39%. ReLU's values are unbounded, so its
// trend is the std of layer 5 against layer 1: std 1 grows it about 2700-fold, He keeps it
// (1.2x), Xavier halves it every two layers (0.24x), std 0.01 drives it to 0 (below 0.001x).
const SATURATED = 0.3;
const COLLAPSED = 0.8;

export function layerStats(act: ActivationName, values: Float32Array, range: [number, number]): LayerStats {
  const n = values.length;
  let s = 0, q = 0, ends = 0, centre = 0, zeros = 0, outside = 0;
  const [lo, hi] = act === 'tanh' ? [-1, 1] : [0, 1];
  const mid = act === 'sigmoid' ? 0.5 : 0;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    s += v; q += v * v;
    if (act !== 'relu' && (v < lo + 0.02 || v > hi - 0.02)) ends++;
    if (Math.abs(v - mid) < 0.05) centre++;
    if (v === 0) zeros++;
    if (v < range[0] || v > range[1]) outside++;
  }
  const mean = s / n;
  return { mean, std: Math.sqrt(Math.max(0, q / n - mean * mean)), atEnds: ends / n, atCentre: centre / n, zeros: zeros / n, outside: outside / n };
}

/** Saturated, collapsed or spread, for one layer of a bounded activation (sigmoid, tanh). */
export function classifyLayer(s: LayerStats): LayerKind {
  if (s.atEnds > SATURATED) return 'saturated';
  if (s.atCentre > COLLAPSED) return 'collapsed';
  return 'spread';
}

/** ReLU's trend over the layers, from the std of the last layer against the first. */
export function reluTrend(stats: LayerStats[]): Trend {
  const r = stats[stats.length - 1].std / Math.max(stats[0].std, 1e-30);
  if (r < 0.05) return 'collapsed';
  if (r < 0.5) return 'shrinks';
  if (r > 2) return 'grows';
  return 'spread';
}

/** One line per setting, e.g. "saturated at 0 and 1 (layers 1-5; 62% of the values ...)". */
export function observeSetting(act: ActivationName, stats: LayerStats[], m: Messages): { kind: string; word: string; line: string } {
  const ma = m.activations;
  const [lo, hi, mid] = act === 'sigmoid' ? ['0', '1', '0.5'] : ['-1', '1', '0'];
  if (act === 'relu') {
    const t = reluTrend(stats);
    const detail = [ma.detailStd(stats[0].std, stats[stats.length - 1].std)];
    const out = stats[stats.length - 1].outside;
    if (out > 0.05) detail.push(ma.detailOutside(out));
    const word = t === 'collapsed' ? ma.collapsed('0') : t === 'shrinks' ? ma.shrinks : t === 'grows' ? ma.grows : ma.spread;
    return { kind: t, word, line: ma.observation(word, detail) };
  }
  const kinds = stats.map(classifyLayer);
  // The kind of the last layer, and from which layer on it holds.
  const lastKind = kinds[kinds.length - 1];
  let from = kinds.length;
  while (from > 1 && kinds[from - 2] === lastKind) from--;
  const word = lastKind === 'saturated' ? ma.saturated(lo, hi) : lastKind === 'collapsed' ? ma.collapsed(mid) : ma.spread;
  const last = stats[stats.length - 1];
  const detail = lastKind === 'saturated' ? ma.detailSaturated(last.atEnds, lo, hi)
    : lastKind === 'collapsed' ? ma.detailCollapsed(last.atCentre, mid) : ma.detailStd(stats[0].std, last.std);
  return { kind: lastKind, word, line: ma.observation(word, [ma.layers(from, kinds.length), detail]) };
}

function activationLayer(act: ActivationName): Layer {
  return act === 'sigmoid' ? new Sigmoid() : act === 'tanh' ? new Tanh() : new Relu();
}

/** Every hidden layer's activations for one setting, drawn as the course draws them. */
export function activationsOf(act: ActivationName, init: ActivationInit, o: { samples: number; nodes: number; layers: number }): Float32Array[] {
  const x = randn(o.samples, o.nodes);   // input_data = np.random.randn(1000, 100)
  const layers: Layer[] = [];
  for (let i = 0; i < o.layers; i++) {
    // w = np.random.randn(node_num, node_num) * std; a = np.dot(x, w) (no bias)
    layers.push(new Affine(randn([o.nodes, o.nodes], initStd(init, o.nodes)), Tensor.zeros([o.nodes])), activationLayer(act));
  }
  const net = new Sequential(layers);
  return net.layerOutputs(x).filter((_, i) => i % 2 === 1).map((l) => l.output.data);
}

export async function activationsExperiment(o: ActivationsOptions): Promise<ExperimentOutcome> {
  const dir = prepareOutDir(o.out);
  const m = messages(o.lang);
  const ma = m.activations;
  const seed = o.seed ?? 1;
  const size = { samples: o.samples ?? 1000, nodes: o.nodes ?? 100, layers: o.layers ?? 5 };
  const bins = o.bins ?? 30;
  const log = o.log ?? (() => {});
  const acts: ActivationName[] = ['sigmoid', 'tanh', 'relu'];
  const settings: Array<{ id: string; act: ActivationName; init: ActivationInit; label: string; range: [number, number];
    stats: LayerStats[]; histograms: { counts: number[]; edges: number[] }[]; kind: string; word: string; observation: string; svg: string }> = [];
  for (const act of acts) {
    for (const init of ACTIVATION_INITS) {
      setSeed(seed);
      const outs = activationsOf(act, init, size);
      // The course draws (0, 1); tanh's negative half would be cut off there.
      const range: [number, number] = act === 'tanh' ? [-1, 1] : [0, 1];
      const stats = outs.map((v) => layerStats(act, v, range));
      const { kind, word, line } = observeSetting(act, stats, m);
      const label = ma.setting(ma[act], ma.init[init]);
      // ReLU's bar at 0 holds half of all values; as the book's figure, the count axis stops at
      // 7% of them (7000 of 100,000) so that the rest of the distribution can be seen.
      const yLim: [number, number] | undefined = act === 'relu' ? [0, Math.round(0.07 * size.samples * size.nodes)] : undefined;
      const svg = await histogram(outs.map((v, i) => ({ title: ma.layer(i + 1), values: v })),
        { bins, range, title: label, xLabel: ma.xLabel, yLabel: ma.yLabel, yLim });
      settings.push({
        id: `${act}-${init}`, act, init, label, range, stats, kind, word, observation: line, svg,
        histograms: outs.map((v) => histogramCounts(v, { bins, range })),
      });
      log(`${label}: ${line}`);
    }
  }
  const get = (act: ActivationName, init: ActivationInit) => settings.find((s) => s.act === act && s.init === init)!;
  const word = (act: ActivationName, init: ActivationInit): string => get(act, init).word;
  const findings = [
    ma.lessonSigmoid(word('sigmoid', 'std1'), word('sigmoid', 'std0.01'), word('sigmoid', 'xavier')),
    ma.lessonTanh(word('tanh', 'xavier')),
    ma.lessonRelu(word('relu', 'std0.01'), word('relu', 'xavier'), word('relu', 'he')),
  ];
  const table = {
    columns: [...ma.tableColumns],
    rows: settings.map((s) => [s.label, ...s.stats.map((st) => round4(st.std)), s.word]),
  };
  const sections = [
    { heading: m.common.findings, observations: findings, text: ma.thresholds },
    { heading: ma.tableHeading, table },
    ...acts.map((act) => ({
      heading: ma.figuresHeading(ma[act]),
      pictures: settings.filter((s) => s.act === act).map((s): Picture => ({ id: s.id, title: s.label, svg: s.svg })),
      observations: settings.filter((s) => s.act === act).map((s) => `${s.label}: ${s.observation}`),
    })),
  ];
  const results = {
    experiment: 'activations', seed, lang: m.lang, settings: { ...size, bins },
    findings,
    runs: settings.map((s) => ({
      id: s.id, activation: s.act, init: s.init, label: s.label, range: s.range, kind: s.kind, observation: s.observation,
      layers: s.stats.map((st, i) => ({ ...st, counts: s.histograms[i].counts, edges: s.histograms[i].edges })),
    })),
  };
  const { files } = await writeReport(dir, {
    title: ma.title, intro: ma.intro(size.samples, size.nodes, size.layers), charts: [], sections, results,
  }, { lang: m.lang });
  return { name: 'activations', dir, files, stopped: false, results };
}
