// Admin: egress proxies with their health, add and remove them, and the settings that
// decide how sensitive the health checks are.
import { h } from '../dom.js';
import { t } from '../i18n.js';
import { get, post, patch, del } from '../api.js';
import { listOf } from '../adapters.js';
import { fmtTime, fmtMs, fmtNum, fmtRelative, toDate } from '../format.js';
import { card, load, table, paged, badge, field, formError, busy, confirmDialog, toast, pageHeader, empty } from '../ui.js';
import { configForm } from '../config-form.js';

function cooling(p) {
  const d = toDate(p.cooldown_until);
  return d && d > new Date() ? h('div', { class: 'muted small', text: t('keys.cooldown_until', { when: fmtRelative(d) }) }) : null;
}

export function render(root) {
  const box = h('div');
  const url = h('input', { type: 'text', class: 'input mono', required: true, placeholder: 'http://user:pass@host:port', autocomplete: 'off', attrs: { spellcheck: 'false' } });
  const name = h('input', { type: 'text', class: 'input', maxLength: 200 });
  const err = formError();
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', text: t('proxies.add') });
  const form = h('form', { class: 'inline-form' }, field(t('proxies.url'), url, t('proxies.url_help')), field(t('proxies.name'), name), submit);

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.show(null);
    const u = url.value.trim();
    if (!/^(https?|socks5h?|socks4a?):\/\/\S+$/i.test(u)) { err.show({ message: t('proxies.bad_url') }); url.focus(); return; }
    await busy(submit, async () => {
      try {
        const body = { url: u };
        if (name.value.trim()) body.note = name.value.trim();
        await post('/admin/proxies', body);
        url.value = ''; name.value = '';
        toast(t('proxies.added'));
        refresh();
      } catch (e2) { err.show(e2); }
    });
  });

  async function remove(p) {
    if (!(await confirmDialog({ title: t('proxies.remove_title'), message: t('proxies.remove_message'), detail: p.url ?? p.masked ?? p.name ?? '', confirm: t('proxies.remove') }))) return;
    try { await del(`/admin/proxies/${encodeURIComponent(p.id)}`); toast(t('common.deleted')); refresh(); } catch (e) { toast(e.message, 'error'); }
  }

  async function toggle(p, btn) {
    await busy(btn, async () => {
      try { await patch(`/admin/proxies/${encodeURIComponent(p.id)}`, { enabled: p.enabled === false }); toast(t('common.saved')); refresh(); } catch (e) { toast(e.message, 'error'); }
    });
  }

  function refresh() {
    load(box, () => get('/admin/proxies'), (resp) => {
      const rows = listOf(resp, 'proxies');
      if (!rows.length) return empty(t('proxies.none'));
      return paged(rows, 25, (page) => table([
        { label: t('proxies.url'), cell: (p) => h('div', null, h('code', { class: 'mono', text: p.url ?? p.masked ?? p.display ?? '—' }), (p.note ?? p.name) ? h('div', { class: 'muted small', text: p.note ?? p.name }) : null) },
        { label: t('proxies.state'), cell: (p) => h('div', null, badge(p.enabled === false ? 'disabled' : (p.state ?? 'unknown'), 'pstate'), cooling(p)) },
        { label: t('proxies.latency'), cell: (p) => fmtMs(p.latency_ms), class: 'num' },
        { label: t('proxies.failures'), cell: (p) => h('div', null, h('div', { text: t('proxies.streak', { n: fmtNum(p.fail_streak ?? p.consecutive_failures ?? 0) }) }), p.failures !== undefined ? h('div', { class: 'muted small', text: t('proxies.total_failures', { n: fmtNum(p.failures) }) }) : null) },
        { label: t('proxies.keys'), cell: (p) => fmtNum(p.keys), class: 'num', when: rows.some((p) => p.keys !== undefined) },
        { label: t('keys.last_check'), cell: (p) => fmtTime(p.last_checked_at ?? p.checked_at) },
        { label: t('keys.last_error'), cell: (p) => (p.last_error ? h('span', { class: 'error-text', text: p.last_error }) : '—') },
        {
          label: t('common.actions'), class: 'actions', cell: (p) => {
            const tg = h('button', { type: 'button', class: 'btn btn-sm', text: p.enabled === false ? t('common.enable') : t('common.disable') });
            tg.addEventListener('click', () => toggle(p, tg));
            return h('div', { class: 'btn-row' }, tg, h('button', { type: 'button', class: 'btn btn-sm btn-danger-ghost', text: t('proxies.remove'), on: { click: () => remove(p) } }));
          },
        },
      ], page, { caption: t('nav.admin_proxies') }));
    });
  }

  const settingsBox = h('div');
  root.append(
    pageHeader(t('nav.admin_proxies'), t('proxies.intro'), h('button', { type: 'button', class: 'btn', text: t('common.refresh'), on: { click: () => refresh() } })),
    card(t('proxies.health_title'), box),
    card(t('proxies.add_title'), form, err),
    card(t('proxies.settings_title'), h('p', { class: 'muted', text: t('proxies.settings_intro') }), settingsBox));
  refresh();
  configForm(settingsBox, { filter: (k) => /^(PROXY_|UPSTREAM_PROXY)/.test(k), compact: true });
}
