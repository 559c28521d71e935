// Admin: users, their usage and contribution; change role, disable, override the rate.
import { h, uid } from '../dom.js';
import { t } from '../i18n.js';
import { get, patch, del, query } from '../api.js';
import { listOf } from '../adapters.js';
import { fmtTime, fmtNum } from '../format.js';
import * as session from '../session.js';
import { card, load, table, badge, field, formError, busy, confirmDialog, toast, pageHeader, empty } from '../ui.js';

function overrideDialog(u) {
  return new Promise((resolve) => {
    const input = h('input', { type: 'number', class: 'input', min: 0, step: 1, value: u.rpm_override ?? '' });
    const err = formError();
    const save = h('button', { type: 'submit', class: 'btn btn-primary', text: t('common.save') });
    const clearBtn = h('button', { type: 'button', class: 'btn', text: t('users.override_clear') });
    const cancel = h('button', { type: 'button', class: 'btn', text: t('common.cancel') });
    const titleId = uid('dlg');
    const form = h('form', { class: 'dialog-form' }, field(t('users.override'), input, t('users.override_help')), err, h('div', { class: 'dialog-actions' }, cancel, clearBtn, save));
    const dlg = h('dialog', { class: 'dialog', attrs: { 'aria-labelledby': titleId } }, h('h2', { class: 'dialog-title', id: titleId, text: t('users.override_title', { name: u.username }) }), form);
    const done = (v) => { dlg.close(); dlg.remove(); resolve(v); };
    const send = async (btn, value) => busy(btn, async () => {
      try { await patch(`/admin/users/${encodeURIComponent(u.id)}`, { rpm_override: value }); done(true); } catch (e) { err.show(e); }
    });
    cancel.addEventListener('click', () => done(false));
    dlg.addEventListener('cancel', (e) => { e.preventDefault(); done(false); });
    clearBtn.addEventListener('click', () => send(clearBtn, null));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const n = Number(input.value);
      if (input.value === '' || !Number.isInteger(n) || n < 0) { err.show({ message: t('keys.bad_number') }); input.focus(); return; }
      send(save, n);
    });
    document.body.append(dlg);
    dlg.showModal();
    input.focus();
  });
}

const usage = (u) => u.requests_today ?? u.usage_today ?? u.requests ?? u.usage;

export function render(root) {
  const box = h('div');
  const search = h('input', { type: 'search', class: 'input', placeholder: t('users.search'), maxLength: 32 });
  const PAGE = 50;
  let offset = 0;
  let timer = null;

  async function change(u, body, btn, msg) {
    await busy(btn, async () => {
      try { await patch(`/admin/users/${encodeURIComponent(u.id)}`, body); toast(msg || t('common.saved')); refresh(); } catch (e) { toast(e.message, 'error'); refresh(); }
    });
  }

  function draw(rows) {
    if (!rows.length) return empty(t('users.none'));
    const meId = session.current()?.id;
    return table([
      { label: t('login.username'), cell: (u) => h('span', { class: 'strong', text: u.username ?? '—' }) },
      {
        label: t('account.role'), cell: (u) => {
          const sel = h('select', { class: 'input input-sm', attrs: { 'aria-label': t('users.role_of', { name: u.username }) }, disabled: u.id === meId },
            ['user', 'admin'].map((r) => h('option', { value: r, text: t(`role.${r}`), selected: u.role === r })));
          sel.addEventListener('change', async () => {
            const ok = await confirmDialog({ title: t('users.role_title'), message: t('users.role_message', { name: u.username, role: t(`role.${sel.value}`) }), danger: false });
            if (ok) change(u, { role: sel.value }, sel); else sel.value = u.role;
          });
          return sel;
        },
      },
      { label: t('users.state'), cell: (u) => badge(u.disabled ? 'disabled' : 'enabled', 'rkstate') },
      { label: t('users.rpm'), cell: (u) => h('span', null, fmtNum(u.rpm_limit ?? u.rpm), u.rpm_override !== null && u.rpm_override !== undefined ? h('span', { class: 'badge badge-pending', text: t('users.overridden', { n: u.rpm_override }) }) : null) },
      { label: t('users.keys'), cell: (u) => `${fmtNum(u.healthy_keys)} / ${fmtNum(u.contributed_keys)}`, class: 'num' },
      { label: t('users.relay_keys'), cell: (u) => fmtNum(u.relay_keys), class: 'num', when: rows.some((u) => u.relay_keys !== undefined) },
      { label: t('users.usage'), cell: (u) => fmtNum(usage(u)), class: 'num', when: rows.some((u) => usage(u) !== undefined) },
      { label: t('common.created_at'), cell: (u) => fmtTime(u.created_at) },
      { label: t('rk.last_used'), cell: (u) => fmtTime(u.last_used_at ?? u.last_login_at ?? u.last_seen_at), when: rows.some((u) => (u.last_used_at ?? u.last_login_at ?? u.last_seen_at) !== undefined) },
      {
        label: t('common.actions'), class: 'actions', cell: (u) => {
          const dis = h('button', { type: 'button', class: u.disabled ? 'btn btn-sm' : 'btn btn-sm btn-danger-ghost', text: u.disabled ? t('common.enable') : t('common.disable'), disabled: u.id === meId });
          dis.addEventListener('click', async () => {
            if (!u.disabled && !(await confirmDialog({ title: t('users.disable_title'), message: t('users.disable_message', { name: u.username }), confirm: t('common.disable') }))) return;
            change(u, { disabled: !u.disabled }, dis);
          });
          const ov = h('button', { type: 'button', class: 'btn btn-sm', text: t('users.override_button') });
          ov.addEventListener('click', async () => { if (await overrideDialog(u)) { toast(t('common.saved')); refresh(); } });
          // After a takeover: the keys someone minted with a stolen password must go.
          const rk = h('button', { type: 'button', class: 'btn btn-sm btn-danger-ghost', text: t('users.revoke_keys'), disabled: !u.relay_keys });
          rk.addEventListener('click', async () => {
            if (!(await confirmDialog({ title: t('users.revoke_keys_title'), message: t('users.revoke_keys_message', { name: u.username }), confirm: t('users.revoke_keys') }))) return;
            await busy(rk, async () => {
              try { await del(`/admin/users/${encodeURIComponent(u.id)}/relay-keys`); toast(t('common.deleted')); refresh(); } catch (e) { toast(e.message, 'error'); }
            });
          });
          return h('div', { class: 'btn-row' }, ov, rk, dis);
        },
      },
    ], rows, { caption: t('nav.admin_users') });
  }

  // The server pages (limit/offset) and searches (q) the users itself.
  function refresh() {
    const q = search.value.trim();
    load(box, () => get(`/admin/users${query({ limit: PAGE, offset, q })}`), (resp) => {
      const rows = listOf(resp, 'users');
      const prev = h('button', { type: 'button', class: 'btn btn-sm', text: t('common.prev'), disabled: offset === 0, on: { click: () => { offset = Math.max(0, offset - PAGE); refresh(); } } });
      const next = h('button', { type: 'button', class: 'btn btn-sm', text: t('common.next'), disabled: rows.length < PAGE, on: { click: () => { offset += PAGE; refresh(); } } });
      const info = h('span', { class: 'pager-info', text: rows.length ? t('users.range', { from: offset + 1, to: offset + rows.length }) : '' });
      return [draw(rows), offset > 0 || rows.length >= PAGE ? h('div', { class: 'pager' }, prev, info, next) : null];
    });
  }
  search.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => { offset = 0; refresh(); }, 300);
  });
  root.append(pageHeader(t('nav.admin_users'), t('users.intro')), card(null, h('div', { class: 'filters' }, field(t('users.search_label'), search)), box));
  refresh();
  return () => clearTimeout(timer);
}
