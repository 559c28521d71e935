// Relay keys (np-...): create (the full key shown once), rotate (create and revoke all the
// others), list, rename, enable/disable, delete.
import { h, replace } from '../dom.js';
import { t } from '../i18n.js';
import { get, post, patch, del } from '../api.js';
import { listOf } from '../adapters.js';
import { fmtTime } from '../format.js';
import { card, load, table, paged, badge, field, formError, busy, copyButton, confirmDialog, promptDialog, toast, pageHeader, empty } from '../ui.js';

export function render(root) {
  const listBox = h('div');
  const reveal = h('div', { attrs: { 'aria-live': 'polite' } });
  const name = h('input', { type: 'text', class: 'input', maxLength: 64, required: true, placeholder: t('rk.name_placeholder') });
  const err = formError();
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', text: t('rk.create') });
  const rotateBtn = h('button', { type: 'button', class: 'btn', text: t('rk.rotate'), attrs: { 'data-action': 'rotate' } });
  const form = h('form', { class: 'inline-form' }, field(t('rk.name'), name), submit, rotateBtn);

  async function create(btn, rotate) {
    err.show(null);
    const n = name.value.trim();
    if (!n) { err.show({ message: t('rk.name_required') }); name.focus(); return; }
    if (rotate && !(await confirmDialog({ title: t('rk.rotate_title'), message: t('rk.rotate_message'), confirm: t('rk.rotate') }))) return;
    await busy(btn, async () => {
      try {
        const k = await post('/client-keys', { name: n, rotate });
        name.value = '';
        showOnce(k);
        if (rotate) toast(t('rk.rotated_toast', { n: k.revoked ?? 0 }));
        refresh();
      } catch (e2) { err.show(e2); }
    });
  }

  form.addEventListener('submit', (e) => { e.preventDefault(); create(submit, false); });
  rotateBtn.addEventListener('click', () => create(rotateBtn, true));

  function showOnce(k) {
    const keyText = h('code', { class: 'secret-key', text: k.key, attrs: { tabindex: '0' } });
    const dismiss = h('button', { type: 'button', class: 'btn btn-sm', text: t('rk.saved_it'), on: { click: () => replace(reveal) } });
    replace(reveal, h('div', { class: 'alert alert-warn reveal', attrs: { role: 'alert' } },
      h('p', { class: 'reveal-title', text: t('rk.created', { name: k.name }) }),
      h('p', { text: t('rk.once_warning') }),
      h('div', { class: 'copy-row' }, keyText, copyButton(k.key)),
      h('div', null, dismiss)));
    keyText.focus();
  }

  async function rename(k) {
    const n = await promptDialog({ title: t('rk.rename_title'), label: t('rk.name'), value: k.name || '', maxLength: 64 });
    if (!n || n === k.name) return;
    try { await patch(`/client-keys/${encodeURIComponent(k.id)}`, { name: n }); toast(t('common.saved')); refresh(); } catch (e2) { toast(e2.message, 'error'); }
  }

  async function toggle(k, btn) {
    await busy(btn, async () => {
      try { await patch(`/client-keys/${encodeURIComponent(k.id)}`, { enabled: !k.enabled }); toast(k.enabled ? t('rk.disabled_toast') : t('rk.enabled_toast')); refresh(); } catch (e2) { toast(e2.message, 'error'); }
    });
  }

  async function remove(k) {
    const ok = await confirmDialog({ title: t('rk.delete_title'), message: t('rk.delete_message'), detail: `${k.name} (${k.prefix || ''}…)`, confirm: t('common.delete') });
    if (!ok) return;
    try { await del(`/client-keys/${encodeURIComponent(k.id)}`); toast(t('common.deleted')); refresh(); } catch (e2) { toast(e2.message, 'error'); }
  }

  function refresh() {
    load(listBox, () => get('/client-keys'), (resp) => {
      const keys = listOf(resp, 'keys', 'client_keys');
      if (!keys.length) return empty(t('rk.none'));
      return paged(keys, 25, (rows) => table([
        { label: t('rk.name'), cell: (k) => h('span', { class: 'strong', text: k.name || '—' }) },
        { label: t('rk.prefix'), cell: (k) => h('code', { class: 'mono', text: k.prefix ? `${k.prefix}…` : '—' }) },
        { label: t('rk.status'), cell: (k) => badge(k.enabled === false ? 'disabled' : 'enabled', 'rkstate') },
        { label: t('common.created_at'), cell: (k) => fmtTime(k.created_at) },
        { label: t('rk.last_used'), cell: (k) => (k.last_used_at ? fmtTime(k.last_used_at) : t('rk.never')) },
        {
          label: t('common.actions'), class: 'actions', cell: (k) => {
            const tg = h('button', { type: 'button', class: 'btn btn-sm', text: k.enabled === false ? t('common.enable') : t('common.disable') });
            tg.addEventListener('click', () => toggle(k, tg));
            return h('div', { class: 'btn-row' },
              h('button', { type: 'button', class: 'btn btn-sm', text: t('rk.rename'), on: { click: () => rename(k) } }),
              tg,
              h('button', { type: 'button', class: 'btn btn-sm btn-danger-ghost', text: t('common.delete'), on: { click: () => remove(k) } }));
          },
        },
      ], rows, { caption: t('rk.list_title') }));
    });
  }

  root.append(
    pageHeader(t('rk.title'), t('rk.intro')),
    card(t('rk.create_title'), form, err, reveal),
    card(t('rk.list_title'), listBox));
  refresh();
}
