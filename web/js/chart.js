// Small hand-written SVG charts (stacked bars, lines, horizontal bars). Colours come from
// CSS classes (series-<name>), so the stylesheet decides them and dark mode just works.
import { h, s } from './dom.js';
import { fmtNum } from './format.js';

const W = 640;
const KNOWN = new Set(['ok', 'error', 'rate_limited', 'anlas_protection', 'no_key_available',
  'upstream_unavailable', 'upstream_timeout', 'requests', 'errors', 'active', 'pending',
  'cooling', 'exhausted', 'invalid', 'expired', 'disabled']);

export function seriesClass(key, i) {
  const safe = String(key).replace(/[^a-z0-9_-]/gi, '');
  return KNOWN.has(safe) ? `series-${safe}` : `series-c${i % 8}`;
}

// scale(v) picks a round step (1, 2 or 5 times a power of ten) giving 3 to 5 grid lines
// above zero, and the axis maximum that is a whole number of steps.
function scale(v) {
  if (v <= 4) return { max: 4, step: 1 };
  const raw = v / 4;
  const p = 10 ** Math.floor(Math.log10(raw));
  let step = 10 * p;
  for (const m of [1, 2, 5]) if (m * p >= raw) { step = m * p; break; }
  return { max: Math.ceil(v / step) * step, step };
}

function legend(series) {
  return h('ul', { class: 'chart-legend' }, series.map((se, i) => h('li', null,
    h('span', { class: `swatch ${seriesClass(se.key, i)}`, attrs: { 'aria-hidden': 'true' } }),
    h('span', { text: se.label }))));
}

function yAxis(svg, { max, step }, top, bottom, left, right) {
  const ticks = Math.round(max / step);
  for (let i = 0; i <= ticks; i++) {
    const v = step * i;
    const y = bottom - ((bottom - top) * i) / ticks;
    svg.append(s('line', { x1: left, x2: right, y1: y, y2: y, class: i === 0 ? 'axis' : 'gridline' }));
    svg.append(s('text', { x: left - 6, y: y + 4, class: 'tick', 'text-anchor': 'end' }, fmtNum(Math.round(v * 10) / 10)));
  }
}

// stackedBars({labels, series:[{key,label,values}], title}) draws one stacked bar per label.
export function stackedBars({ labels, series, title, height = 260, summary }) {
  const top = 12, bottom = height - 28, left = 44, right = W - 8;
  const totals = labels.map((_, i) => series.reduce((a, se) => a + (se.values[i] || 0), 0));
  const sc = scale(Math.max(0, ...totals));
  const { max } = sc;
  const svg = s('svg', { viewBox: `0 0 ${W} ${height}`, class: 'chart-svg', role: 'img', 'aria-label': summary || title || '' });
  yAxis(svg, sc, top, bottom, left, right);
  const slot = (right - left) / Math.max(1, labels.length);
  const bw = Math.max(4, Math.min(36, slot * 0.64));
  labels.forEach((lab, i) => {
    const x = left + slot * i + (slot - bw) / 2;
    let y = bottom;
    series.forEach((se, k) => {
      const v = se.values[i] || 0;
      if (!v) return;
      const hgt = ((bottom - top) * v) / max;
      y -= hgt;
      svg.append(s('rect', { x, y, width: bw, height: Math.max(1, hgt), class: `bar ${seriesClass(se.key, k)}` },
        s('title', null, `${lab} · ${se.label}: ${fmtNum(v)}`)));
    });
    const every = labels.length > 16 ? Math.ceil(labels.length / 8) : labels.length > 8 ? 2 : 1;
    if (i % every === 0 || i === labels.length - 1) {
      svg.append(s('text', { x: x + bw / 2, y: bottom + 16, class: 'tick', 'text-anchor': 'middle' }, lab));
    }
  });
  return h('figure', { class: 'chart' }, svg, legend(series),
    title ? h('figcaption', { class: 'visually-hidden', text: title }) : null);
}

// lineChart({labels, series:[{key,label,values}]}) draws one line per series.
export function lineChart({ labels, series, title, height = 220, summary }) {
  const top = 12, bottom = height - 28, left = 44, right = W - 8;
  const sc = scale(Math.max(0, ...series.flatMap((se) => se.values)));
  const { max } = sc;
  const svg = s('svg', { viewBox: `0 0 ${W} ${height}`, class: 'chart-svg', role: 'img', 'aria-label': summary || title || '' });
  yAxis(svg, sc, top, bottom, left, right);
  const n = labels.length;
  const xOf = (i) => (n <= 1 ? (left + right) / 2 : left + ((right - left) * i) / (n - 1));
  series.forEach((se, k) => {
    const pts = se.values.map((v, i) => `${xOf(i).toFixed(1)},${(bottom - ((bottom - top) * (v || 0)) / max).toFixed(1)}`);
    if (pts.length) svg.append(s('polyline', { points: pts.join(' '), class: `line ${seriesClass(se.key, k)}` }));
    if (n <= 30) {
      se.values.forEach((v, i) => svg.append(s('circle', { cx: xOf(i), cy: bottom - ((bottom - top) * (v || 0)) / max, r: 2.5, class: `dot ${seriesClass(se.key, k)}` },
        s('title', null, `${labels[i]} · ${se.label}: ${fmtNum(v)}`))));
    }
  });
  const every = Math.max(1, Math.ceil(n / 6));
  labels.forEach((lab, i) => {
    if (i % every === 0 || i === n - 1) {
      const anchor = n > 1 && i === n - 1 ? 'end' : n > 1 && i === 0 ? 'start' : 'middle';
      svg.append(s('text', { x: xOf(i), y: bottom + 16, class: 'tick', 'text-anchor': anchor }, lab));
    }
  });
  return h('figure', { class: 'chart' }, svg, legend(series), title ? h('figcaption', { class: 'visually-hidden', text: title }) : null);
}

// hbars([{key,label,value}]) draws labelled horizontal bars (keys by state).
export function hbars(items, { title } = {}) {
  const rowH = 26, left = 110, right = W - 60;
  const height = Math.max(1, items.length) * rowH + 8;
  const max = Math.max(1, ...items.map((it) => it.value));
  const svg = s('svg', { viewBox: `0 0 ${W} ${height}`, class: 'chart-svg', role: 'img', 'aria-label': title || '' });
  items.forEach((it, i) => {
    const y = 4 + i * rowH;
    const w = ((right - left) * it.value) / max;
    svg.append(s('text', { x: left - 8, y: y + 16, class: 'tick tick-label', 'text-anchor': 'end' }, it.label));
    svg.append(s('rect', { x: left, y: y + 3, width: Math.max(it.value ? 2 : 0, w), height: rowH - 8, rx: 3, class: `bar ${seriesClass(it.key, i)}` },
      s('title', null, `${it.label}: ${fmtNum(it.value)}`)));
    svg.append(s('text', { x: left + w + 6, y: y + 16, class: 'tick' }, fmtNum(it.value)));
  });
  return h('figure', { class: 'chart' }, svg);
}
