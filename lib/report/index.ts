// SPDX-License-Identifier: MIT
// Charts and reports for the experiments: Vega-Lite line charts rendered
// headless to SVG, resvg for PNG, and report.md / self-contained report.html.
export type { Series, LineChart, Table, Picture, ReportSection, Report } from './types';
export { renderChart, lineChartSpec } from './chart';
export { svgToPng, svgToPixels, FONT_FAMILY } from './png';
export type { SvgToPngOptions } from './png';
export { filterGridSvg } from './filters';
export type { FilterGridOptions } from './filters';
export { writeReport, writeFileAtomic, resultsJson, formatCell } from './write';
export type { WriteReportOptions } from './write';
