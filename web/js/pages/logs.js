// My requests, newest first, with status and route filters and keyset "load more".
import { h, replace } from '../dom.js';
import { t } from '../i18n.js';
import { get, query } from '../api.js';
import { adaptPage } from '../adapters.js';
import { fmtTime, fmtMs, fmtBytes, dash } from '../format.js';
import { card, table, loading, errorBox, pageHeader, empty, field, busy } from '../ui.js';
import { statusLabel } from './dashboard.js';

export const STATUS_FILTERS = ['ok', 'error', 'rate_limited', 'anlas_protection', 'no_key_available', 'upstream_unavailable', 'upstream_timeout', 'canceled'];
export const ROUTE_SUGGESTIONS = ['/ai/generate-image', '/ai/generate-image-stream', '/ai/augment-image', '/ai/upscale', '/ai/encode-vibe', '/ai/generate', '/ai/generate-stream', '/oa/v1/completions', '/oa/v1/chat/completions'];
const PAGE = 50;

export function statusCell(row) {
  const st = row.status === undefined || row.status === null ? 'unknown' : String(row.status);
  const kind = st === 'ok' || /^2\d\d$/.test(st) ? 'ok' : 'error';
  return h('span', { class: `badge badge-${kind === 'ok' ? 'active' : 'invalid'}`, text: statusLabel(st) });
}

function size(row) {
  if (!row.width && !row.height) return null;
  return `${row.width ?? '?'}×${row.height ?? '?'}`;
}

// logColumns is shared with the admin view of logs.
export function logColumns(extra = []) {
  return [
    { label: t('logs.time'), cell: (r) => fmtTime(r.time ?? r.created_at) },
    { label: t('logs.route'), cell: (r) => h('code', { class: 'mono', text: dash(r.route) }) },
    { label: t('logs.model'), cell: (r) => dash(r.model) },
    { label: t('logs.size'), cell: (r) => size(r) },
    { label: t('logs.steps'), cell: (r) => dash(r.steps), class: 'num' },
    { label: t('logs.samples'), cell: (r) => dash(r.n_samples), class: 'num' },
    { label: t('logs.status'), cell: (r) => h('div', null, statusCell(r), r.error ? h('div', { class: 'error-text small', text: r.error }) : null) },
    { label: t('logs.latency'), cell: (r) => fmtMs(r.latency_ms), class: 'num' },
    { label: t('logs.bytes'), cell: (r) => fmtBytes(r.bytes), class: 'num' },
    ...extra,
    { label: t('logs.request_id'), cell: (r) => h('code', { class: 'mono small', text: dash(r.request_id) }) },
  ];
}

export function render(root) {
  const status = h('select', { class: 'input' },
    h('option', { value: '', text: t('logs.all_statuses') }),
    STATUS_FILTERS.map((s) => h('option', { value: s, text: statusLabel(s) })));
  const listId = 'route-suggestions';
  const route = h('input', { type: 'text', class: 'input mono', placeholder: '/ai/generate-image', attrs: { list: listId } });
  const apply = h('button', { type: 'submit', class: 'btn btn-primary', text: t('logs.apply') });
  const reset = h('button', { type: 'button', class: 'btn', text: t('logs.reset') });
  const form = h('form', { class: 'filters' },
    field(t('logs.status'), status), field(t('logs.route'), route), h('div', { class: 'filter-actions' }, apply, reset),
    h('datalist', { id: listId }, ROUTE_SUGGESTIONS.map((r) => h('option', { value: r }))));
  const results = h('div');
  const more = h('button', { type: 'button', class: 'btn', text: t('logs.load_more') });
  const moreBox = h('div', { class: 'load-more' });
  let rows = [];
  let cursor = null;
  let filters = {};
  let seq = 0;

  function draw() {
    if (!rows.length) { replace(results, empty(t('logs.none'))); return; }
    replace(results, h('p', { class: 'muted', text: t('logs.shown', { n: rows.length }) }), table(logColumns(), rows, { caption: t('logs.title') }));
  }

  async function fetchPage(first) {
    const my = ++seq;
    const q = query({ limit: PAGE, before: first ? null : cursor, status: filters.status, route: filters.route });
    if (first) { rows = []; cursor = null; replace(results, loading()); replace(moreBox); }
    try {
      const page = adaptPage(await get(`/logs${q}`), 'logs');
      if (my !== seq) return;
      rows = rows.concat(page.rows);
      cursor = page.next;
      draw();
      replace(moreBox, page.rows.length >= PAGE && cursor !== null ? more : h('p', { class: 'muted', text: rows.length ? t('logs.end') : '' }));
    } catch (err) {
      if (my !== seq) return;
      if (first) replace(results, errorBox(err, () => fetchPage(true)));
      else replace(moreBox, errorBox(err, () => fetchPage(false)));
    }
  }

  more.addEventListener('click', () => busy(more, () => fetchPage(false)));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    filters = { status: status.value, route: route.value.trim() };
    busy(apply, () => fetchPage(true));
  });
  reset.addEventListener('click', () => { status.value = ''; route.value = ''; filters = {}; fetchPage(true); });

  root.append(pageHeader(t('logs.title'), t('logs.intro')), card(null, form), card(null, results, moreBox));
  fetchPage(true);
}
