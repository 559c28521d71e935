// Admin: every contributed key (masked) with its owner and state; force a check of one key or
// of all of them, enable or disable.
import { h } from '../dom.js';
import { t } from '../i18n.js';
import { get, patch, post } from '../api.js';
import { listOf, ownerOf } from '../adapters.js';
import { fmtNum } from '../format.js';
import { card, load, table, paged, badge, field, busy, toast, pageHeader, empty } from '../ui.js';
import { KEY_STATES } from './dashboard.js';
import { stateCell, checkCell, isDisabled, accountCell, spentCell } from './keys.js';

export function render(root) {
  const box = h('div');
  const listBox = h('div');
  const stateSel = h('select', { class: 'input' }, h('option', { value: '', text: t('pool.all_states') }), KEY_STATES.map((s) => h('option', { value: s, text: t(`state.${s}`) })));
  const search = h('input', { type: 'search', class: 'input', placeholder: t('pool.search') });
  let all = [];

  async function check(k, btn) {
    await busy(btn, async () => {
      try {
        const r = await post(`/admin/keys/${encodeURIComponent(k.id)}/check`, {});
        const st = r && (r.state ?? r.key?.state);
        toast(st ? t('pool.checked', { state: t(`state.${st}`) }) : t('pool.checked_plain'));
        refresh();
      } catch (e) { toast(e.message, 'error'); }
    });
  }

  // checkAll probes every key now (POST /admin/health-check), one after the other.
  async function checkAll(btn) {
    await busy(btn, async () => {
      try {
        const r = await post('/admin/health-check', {});
        toast(t('pool.checked_all', { n: r?.checked ?? 0, failed: r?.failed ?? 0 }));
        refresh();
      } catch (e) { toast(e.message, 'error'); }
    });
  }
  const checkAllBtn = h('button', { type: 'button', class: 'btn', text: t('pool.check_all'), attrs: { 'data-action': 'check-all' } });
  checkAllBtn.addEventListener('click', () => checkAll(checkAllBtn));

  async function toggle(k, btn) {
    const enable = isDisabled(k);
    await busy(btn, async () => {
      try { await patch(`/admin/keys/${encodeURIComponent(k.id)}`, { enabled: enable }); toast(enable ? t('keys.enabled_toast') : t('keys.disabled_toast')); refresh(); } catch (e) { toast(e.message, 'error'); }
    });
  }

  function draw() {
    const st = stateSel.value;
    const q = search.value.trim().toLowerCase();
    const rows = all.filter((k) => (!st || k.state === st) && (!q || String(ownerOf(k) ?? '').toLowerCase().includes(q) || String(k.masked ?? '').toLowerCase().includes(q) || String(k.note ?? '').toLowerCase().includes(q)));
    if (!rows.length) return empty(t('pool.none'));
    return paged(rows, 25, (page) => table([
      { label: t('keys.key'), cell: (k) => h('div', null, h('code', { class: 'mono', text: k.masked || '—' }), k.note ? h('div', { class: 'muted small', text: k.note }) : null) },
      { label: t('pool.owner'), cell: (k) => String(ownerOf(k) ?? '—') },
      { label: t('keys.state'), cell: stateCell },
      { label: t('keys.account'), cell: accountCell },
      { label: t('keys.paid'), cell: (k) => (k.allow_paid ? t('keys.paid_yes', { max: k.max_anlas_per_request ?? '∞', floor: k.anlas_floor ?? 0 }) : t('keys.paid_no')) },
      { label: t('keys.uses_today'), cell: (k) => fmtNum(k.uses_today), class: 'num' },
      { label: t('keys.spent'), cell: spentCell, class: 'num' },
      { label: t('keys.last_check'), cell: checkCell },
      {
        label: t('common.actions'), class: 'actions', cell: (k) => {
          const c = h('button', { type: 'button', class: 'btn btn-sm', text: t('pool.check') });
          c.addEventListener('click', () => check(k, c));
          const tg = h('button', { type: 'button', class: 'btn btn-sm', text: isDisabled(k) ? t('common.enable') : t('common.disable') });
          tg.addEventListener('click', () => toggle(k, tg));
          return h('div', { class: 'btn-row' }, c, tg);
        },
      },
    ], page, { caption: t('nav.admin_pool') }));
  }

  function summary() {
    const counts = {};
    for (const k of all) counts[k.state] = (counts[k.state] || 0) + 1;
    return h('ul', { class: 'state-counts' }, KEY_STATES.filter((s) => counts[s]).map((s) => h('li', null, badge(s), h('span', { class: 'state-count', text: fmtNum(counts[s]) }))));
  }

  function refresh() {
    load(box, () => get('/admin/keys'), (resp) => {
      all = listOf(resp, 'keys');
      listBox.replaceChildren(draw());
      return [summary(), listBox];
    });
  }
  stateSel.addEventListener('change', () => listBox.replaceChildren(draw()));
  search.addEventListener('input', () => listBox.replaceChildren(draw()));
  root.append(pageHeader(t('nav.admin_pool'), t('pool.intro'), checkAllBtn, h('button', { type: 'button', class: 'btn', text: t('common.refresh'), on: { click: () => refresh() } })),
    card(null, h('div', { class: 'filters' }, field(t('keys.state'), stateSel), field(t('pool.search_label'), search)), box));
  refresh();
}
