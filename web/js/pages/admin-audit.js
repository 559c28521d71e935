// Admin: the audit log (admin actions, auth events, key state changes), newest first, with
// keyset "load more".
import { h, replace } from '../dom.js';
import { t, has } from '../i18n.js';
import { get, query } from '../api.js';
import { adaptPage, listOf } from '../adapters.js';
import { fmtTime, dash } from '../format.js';
import { card, table, loading, errorBox, pageHeader, empty, field, busy } from '../ui.js';

const PAGE = 50;
const TYPE_PREFIXES = ['auth.', 'admin.', 'key.', 'config.', 'proxy.', 'user.'];

// userNames maps user ids to names so the audit rows can say who; without it, ids show.
async function userNames() {
  try { return new Map(listOf(await get('/admin/users'), 'users').map((u) => [u.id, u.username])); } catch { return new Map(); }
}

function actorOf(e, names) {
  const name = e.actor ?? e.actor_username ?? e.username ?? null;
  if (name) return String(name);
  const id = e.actor_user_id ?? e.user_id ?? null;
  if (id === null || id === undefined) return t('audit.system');
  return names.has(id) ? `${names.get(id)} (#${id})` : `#${id}`;
}

function detailText(e) {
  const d = e.details ?? e.detail ?? e.data ?? e.payload ?? null;
  if (d === null || d === undefined) return '';
  if (typeof d === 'string') return d;
  try { return JSON.stringify(d); } catch { return ''; }
}

export function render(root) {
  // The audit service takes an exact type (auth.login_failed) or a prefix ending in a dot.
  const kind = h('select', { class: 'input' }, h('option', { value: '', text: t('audit.all_types') }),
    TYPE_PREFIXES.map((p) => h('option', { value: p, text: t(`audit.p.${p}`) })));
  const apply = h('button', { type: 'submit', class: 'btn btn-primary', text: t('logs.apply') });
  const form = h('form', { class: 'filters' }, field(t('audit.kind'), kind), h('div', { class: 'filter-actions' }, apply));
  let names = new Map();
  const results = h('div');
  const moreBox = h('div', { class: 'load-more' });
  const more = h('button', { type: 'button', class: 'btn', text: t('logs.load_more') });
  let rows = [];
  let cursor = null;
  let seq = 0;

  async function fetchPage(first) {
    const my = ++seq;
    if (first) { rows = []; cursor = null; replace(results, loading()); replace(moreBox); }
    try {
      if (first && !names.size) names = await userNames();
      const page = adaptPage(await get(`/admin/audit${query({ limit: PAGE, before: first ? null : cursor, type: kind.value })}`), 'events', 'audit');
      if (my !== seq) return;
      rows = rows.concat(page.rows);
      cursor = page.next;
      if (!rows.length) replace(results, empty(t('audit.none')));
      else {
        replace(results, table([
          { label: t('logs.time'), cell: (e) => fmtTime(e.time ?? e.created_at ?? e.at) },
          { label: t('audit.kind'), cell: (e) => { const k = e.kind ?? e.type ?? e.event ?? e.action; return h('code', { class: 'mono', text: has(`audit.k.${k}`) ? t(`audit.k.${k}`) : dash(k) }); } },
          { label: t('audit.actor'), cell: (e) => actorOf(e, names) },
          { label: t('audit.target'), cell: (e) => dash(e.target ?? e.subject ?? e.key_id ?? e.target_id) },
          { label: t('audit.detail'), cell: (e) => h('span', { class: 'mono small wrap', text: detailText(e) || '—' }) },
          { label: t('audit.node'), cell: (e) => h('span', { class: 'mono small', text: dash(e.producer_id ?? e.node ?? e.node_id) }) },
        ], rows, { caption: t('nav.admin_audit') }));
      }
      replace(moreBox, page.rows.length >= PAGE && cursor !== null ? more : h('p', { class: 'muted', text: rows.length ? t('logs.end') : '' }));
    } catch (err) {
      if (my !== seq) return;
      if (first) replace(results, errorBox(err, () => fetchPage(true)));
      else replace(moreBox, errorBox(err, () => fetchPage(false)));
    }
  }
  more.addEventListener('click', () => busy(more, () => fetchPage(false)));
  form.addEventListener('submit', (e) => { e.preventDefault(); busy(apply, () => fetchPage(true)); });
  root.append(pageHeader(t('nav.admin_audit'), t('audit.intro')), card(null, form), card(null, results, moreBox));
  fetchPage(true);
}
