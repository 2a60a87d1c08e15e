// SPDX-License-Identifier: MIT
// The data the experiments hand to the report module.

/** One line of a chart: y against x, drawn in the order of increasing x. */
export interface Series {
  /** Legend label; unique within a chart. */
  name: string;
  x: number[];
  /** Same length as x; NaN or ±Infinity (a diverged loss) leaves that point out. */
  y: number[];
}

/** A line chart with one line per series. */
export interface LineChart {
  /** File-name safe id: letters, digits, '.', '_', '-' (e.g. 'sigmoid-std0.01'). */
  id: string;
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** Fixed y axis, e.g. [0, 1] for accuracy (the course's axes); points outside are clipped. */
  yDomain?: [number, number];
  /** Fixed x axis. */
  xDomain?: [number, number];
  /** 'log' for sweeps over learning rates or λ; every x (or y) must then be > 0. Default 'linear'. */
  xScale?: 'linear' | 'log';
  yScale?: 'linear' | 'log';
  /** Plot size in SVG pixels (without axes and legend). Defaults 520 x 300. */
  width?: number;
  height?: number;
}

export interface Table {
  columns: string[];
  /** Each row has one cell per column. */
  rows: (string | number)[][];
}

/** A ready-made SVG picture, e.g. a grid of convolution filters. */
export interface Picture {
  /** File-name safe id, unique among charts and pictures. */
  id: string;
  title: string;
  svg: string;
}

export interface ReportSection {
  heading: string;
  /** A paragraph of plain text. */
  text?: string;
  /** Ids of charts from Report.charts, shown in this order. */
  charts?: string[];
  table?: Table;
  pictures?: Picture[];
  /** One line each, computed from the numbers (e.g. "did not learn: test accuracy stayed at 0.11"). */
  observations?: string[];
}

export interface Report {
  title: string;
  intro?: string;
  charts: LineChart[];
  sections: ReportSection[];
  /** Every number behind the charts; written as results.json. */
  results: unknown;
}
