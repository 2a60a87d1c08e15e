// SPDX-License-Identifier: MIT
// `blasnet/plot`: the course's figures from plain arrays, to SVG and PNG, headless.
//   import { lineChart, histogram, imageGrid, savePng, saveSvg, smoothCurve } from 'blasnet/plot';
// vega, vega-lite and resvg are loaded by the first call that draws, not by this import.
export {
  lineChart, histogram, histogramCounts, imageGrid, smoothCurve, saveSvg, savePng, toPng,
} from './report/plot';
export type {
  PlotSeries, LineChartOptions, HistogramOptions, HistogramCountsOptions, HistogramPanel, ImageGridOptions, PngOptions,
} from './report/plot';
