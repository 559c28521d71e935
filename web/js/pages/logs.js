// My requests, newest first, with status and route filters and keyset "load more".
import { h, replace } from '../dom.js';
import { t, has } from '../i18n.js';
import { get, query } from '../api.js';
import { adaptPage } from '../adapters.js';
import { fmtTime, fmtMs, fmtBytes, fmtNum, dash } from '../format.js';
import { card, table, loading, errorBox, pageHeader, empty, field, busy } from '../ui.js';
import { statusLabel } from './dashboard.js';

// The audit service filters on HTTP statuses: ok (1xx-3xx), error (4xx-5xx), a class or a code.
export const STATUS_FILTERS = ['ok', 'error', '4xx', '5xx', '400', '401', '402', '429', '499', '502', '503', '504'];
export const ROUTE_SUGGESTIONS = ['/ai/generate-image', '/ai/generate-image-stream', '/ai/augment-image', '/ai/upscale', '/ai/encode-vibe', '/ai/generate', '/ai/generate-stream', '/oa/v1/completions', '/oa/v1/chat/completions'];
const PAGE = 50;

// statusCell shows the HTTP status as a badge (green below 400) and the error's code, in words
// when the dictionary knows it.
export function statusCell(row) {
  const st = row.status === undefined || row.status === null ? 'unknown' : String(row.status);
  const good = st === 'ok' || (/^\d+$/.test(st) && Number(st) < 400);
  const badgeEl = h('span', { class: `badge badge-${good ? 'active' : 'invalid'}`, text: /^\d+$/.test(st) ? st : statusLabel(st) });
  const err = row.error ? (has(`status.${row.error}`) ? t(`status.${row.error}`) : row.error) : null;
  return h('div', { class: 'status-cell' }, badgeEl, err ? h('div', { class: 'error-text small', text: err, attrs: { title: String(row.error) } }) : null);
}

// params is the image request in one line: size, steps, images.
function params(row) {
  const parts = [];
  if (row.width || row.height) parts.push(`${row.width ?? '?'}×${row.height ?? '?'}`);
  if (row.steps !== null && row.steps !== undefined) parts.push(t('logs.n_steps', { n: row.steps }));
  if (row.n_samples !== null && row.n_samples !== undefined) parts.push(t('logs.n_images', { n: row.n_samples }));
  return parts.length ? h('span', { class: 'nowrap-parts', text: parts.join(' · ') }) : null;
}

// logColumns is shared with the admin view of logs.
export function logColumns(extra = []) {
  return [
    { label: t('logs.time'), cell: (r) => h('div', null, h('div', { text: fmtTime(r.time ?? r.created_at) }), r.request_id ? h('code', { class: 'mono small muted', attrs: { title: `${t('logs.request_id')}: ${r.request_id}` }, text: String(r.request_id).slice(0, 16) }) : null), class: 'nowrap' },
    { label: t('logs.route'), cell: (r) => h('code', { class: 'mono', text: dash(r.route) }), class: 'nowrap' },
    { label: t('logs.model'), cell: (r) => dash(r.model) },
    { label: t('logs.params'), cell: params, class: 'nowrap' },
    { label: t('logs.status'), cell: statusCell },
    { label: t('logs.cost'), cell: (r) => (r.cost == null ? '—' : fmtNum(r.cost)), class: 'num' },
    { label: t('logs.latency'), cell: (r) => fmtMs(r.latency_ms), class: 'num' },
    { label: t('logs.bytes'), cell: (r) => fmtBytes(r.bytes), class: 'num' },
    ...extra,
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
    replace(results, h('p', { class: 'muted count-line', text: t('logs.shown', { n: rows.length }) }), table(logColumns(), rows, { caption: t('logs.title') }));
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
