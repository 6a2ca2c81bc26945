// Small SVG charts for the overview (no library): bars per hour, and lines for the lag percentiles.
// Each chart is an image with a text summary for screen readers; each bar or point has a tooltip.
import { el, fmtDuration, fmtHour } from './common.js';

const SVG = 'http://www.w3.org/2000/svg';
const W = 480;
const H = 160;
const PAD = { top: 10, right: 8, bottom: 22, left: 52 };
const compact = new Intl.NumberFormat(undefined, { notation: 'compact', maximumFractionDigits: 1 });

/** Axis labels stay short: 40 s, 2 min, 1.5 h. */
function shortDuration(ms) {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)} min`;
  return `${compact.format(ms / 3_600_000)} h`;
}

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A round upper bound for the axis (1, 2, 5 × 10^n). */
function niceMax(value) {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (value <= step * power) return step * power;
  return 10 * power;
}

function frame(hours, max, formatY, label) {
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': label, class: 'chart' });
  const plotH = H - PAD.top - PAD.bottom;
  for (const fraction of [0, 0.5, 1]) {
    const y = PAD.top + plotH * (1 - fraction);
    root.append(svg('line', { x1: PAD.left, x2: W - PAD.right, y1: y, y2: y, class: 'grid' }));
    root.append(
      svg(
        'text',
        { x: PAD.left - 6, y: y + 4, 'text-anchor': 'end', class: 'axis' },
        formatY(max * fraction),
      ),
    );
  }
  const step = (W - PAD.left - PAD.right) / hours.length;
  hours.forEach((h, i) => {
    if (i % 6 !== 0) return;
    root.append(svg('text', { x: PAD.left + i * step, y: H - 6, class: 'axis' }, fmtHour(h.hour)));
  });
  return { root, plotH, step };
}

/** Bars of `valueAt(hour)` for each hour. */
export function barChart(hours, { label, valueAt, unit, tone = 'ok' }) {
  const values = hours.map(valueAt);
  const total = values.reduce((a, b) => a + b, 0);
  const peak = Math.max(0, ...values);
  // Counts are whole numbers: an axis up to at least 2 keeps its middle line on one.
  const max = Math.max(2, niceMax(peak));
  const peakAt = values.indexOf(peak);
  const summary =
    total === 0
      ? `${label}: none in the last ${hours.length} hours`
      : `${label}: ${total.toLocaleString()} in the last ${hours.length} hours, at most ${peak.toLocaleString()} ` +
        `(hour from ${fmtHour(hours[peakAt].hour)})`;
  const { root, plotH, step } = frame(hours, max, (v) => compact.format(v), summary);
  values.forEach((v, i) => {
    const height = (v / max) * plotH;
    const bar = svg('rect', {
      x: PAD.left + i * step + 1,
      y: PAD.top + plotH - height,
      width: Math.max(1, step - 2),
      height: Math.max(0, height),
      class: `bar ${tone}`,
    });
    bar.append(svg('title', {}, `${fmtHour(hours[i].hour)}: ${v.toLocaleString()} ${unit}`));
    root.append(bar);
  });
  return figure(label, root);
}

/** Lines of the lag percentiles (p50 and p95) per hour; hours without conversions leave gaps. */
export function lagChart(hours, label) {
  const peak = Math.max(0, ...hours.map((h) => h.lagP95Ms ?? 0));
  const max = niceMax(peak);
  const measured = hours.filter((h) => h.lagP50Ms !== null);
  const summary =
    measured.length === 0
      ? `${label}: no conversions in the last ${hours.length} hours`
      : `${label}: latest hour with conversions p50 ${fmtDuration(measured.at(-1).lagP50Ms)}, ` +
        `p95 ${fmtDuration(measured.at(-1).lagP95Ms)}; highest p95 ${fmtDuration(peak)}`;
  const { root, plotH, step } = frame(hours, max, shortDuration, summary);
  for (const [field, cls] of [
    ['lagP95Ms', 'p95'],
    ['lagP50Ms', 'p50'],
  ]) {
    let d = '';
    hours.forEach((h, i) => {
      const v = h[field];
      if (v === null) return;
      const x = PAD.left + i * step + step / 2;
      const y = PAD.top + plotH - (v / max) * plotH;
      d += `${d && hours[i - 1]?.[field] !== null ? 'L' : 'M'}${x.toFixed(1)},${y.toFixed(1)} `;
      const dot = svg('circle', { cx: x, cy: y, r: 2.5, class: `dot ${cls}` });
      dot.append(svg('title', {}, `${fmtHour(h.hour)}: ${cls} ${fmtDuration(v)}`));
      root.append(dot);
    });
    if (d) root.append(svg('path', { d, class: `line ${cls}` }));
  }
  const legend = el(
    'p',
    { class: 'legend' },
    el('span', { class: 'key p50' }, 'p50'),
    ' median ',
    el('span', { class: 'key p95' }, 'p95'),
    ' 95th percentile',
  );
  return figure(label, root, legend);
}

function figure(label, chart, ...extra) {
  return el('figure', { class: 'chart-figure' }, el('figcaption', {}, label), chart, ...extra);
}
