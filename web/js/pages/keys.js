// My NovelAI keys: add a pst- token (with the paid-use options in plain words), see each
// key's state and figures, edit its note and paid-use policy, disable or withdraw it.
import { h, replace, uid } from '../dom.js';
import { t } from '../i18n.js';
import { get, post, patch, del } from '../api.js';
import { listOf } from '../adapters.js';
import { fmtTime, fmtRelative, fmtNum, toDate } from '../format.js';
import { card, load, table, paged, badge, field, checkField, formError, busy, confirmDialog, toast, pageHeader, empty, notice } from '../ui.js';

export function tierName(tier) {
  const names = { 0: 'Paper', 1: 'Tablet', 2: 'Scroll', 3: 'Opus' };
  if (tier === null || tier === undefined || tier === '') return '—';
  return names[tier] ?? String(tier);
}

// The V5 weekly allowance arrives as a number, a percent object or a flag.
export function fmtAllowance(v) {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'boolean') return v ? t('keys.allowance_left') : t('keys.allowance_used_up');
  if (typeof v === 'object') {
    if (v.isNegative === true || v.is_negative === true || v.used_up === true) return t('keys.allowance_used_up');
    if (v.percent !== undefined && v.percent !== null) return t('keys.allowance_pct', { p: fmtNum(v.percent) });
    if (v.remaining !== undefined) return fmtNum(v.remaining);
    return '—';
  }
  return fmtNum(v);
}

// paidFields() are the three allow-paid inputs with their explanations, shared by the add
// form and the edit dialog.
// With clear (the edit dialog), an emptied number is sent as null, which removes the cap.
function paidFields(initial = {}, clear = false) {
  const allow = h('input', { type: 'checkbox', checked: !!initial.allow_paid });
  const max = h('input', { type: 'number', class: 'input', min: 0, step: 1, inputMode: 'numeric', value: initial.max_anlas_per_request ?? '' });
  const floor = h('input', { type: 'number', class: 'input', min: 0, step: 1, inputMode: 'numeric', value: initial.anlas_floor ?? '' });
  const extra = h('div', { class: 'paid-extra' },
    field(t('keys.max_anlas'), max, t('keys.max_anlas_help')),
    field(t('keys.anlas_floor'), floor, t('keys.anlas_floor_help')));
  const sync = () => { extra.hidden = !allow.checked; };
  allow.addEventListener('change', sync);
  sync();
  const el = h('fieldset', { class: 'fieldset' },
    h('legend', { text: t('keys.paid_legend') }),
    h('p', { class: 'help', text: t('keys.paid_intro') }),
    checkField(t('keys.allow_paid'), allow, t('keys.allow_paid_help')),
    extra);
  const num = (inp) => (inp.value === '' ? null : Number(inp.value));
  return {
    el,
    values() {
      const out = { allow_paid: allow.checked };
      if (allow.checked) {
        if (num(max) !== null || clear) out.max_anlas_per_request = num(max);
        if (num(floor) !== null || clear) out.anlas_floor = num(floor) ?? 0;
      }
      return out;
    },
    check() {
      for (const inp of [max, floor]) {
        if (allow.checked && inp.value !== '' && (!Number.isInteger(Number(inp.value)) || Number(inp.value) < 0)) { inp.focus(); return t('keys.bad_number'); }
      }
      return null;
    },
  };
}

function editDialog(k) {
  return new Promise((resolve) => {
    const note = h('input', { type: 'text', class: 'input', maxLength: 200, value: k.note || '' });
    const paid = paidFields(k, true);
    const err = formError();
    const save = h('button', { type: 'submit', class: 'btn btn-primary', text: t('common.save') });
    const cancel = h('button', { type: 'button', class: 'btn', text: t('common.cancel') });
    const titleId = uid('dlg');
    const form = h('form', { class: 'dialog-form' }, field(t('keys.note'), note), paid.el, err, h('div', { class: 'dialog-actions' }, cancel, save));
    const dlg = h('dialog', { class: 'dialog dialog-wide', attrs: { 'aria-labelledby': titleId } },
      h('h2', { class: 'dialog-title', id: titleId, text: t('keys.edit_title') }),
      h('p', { class: 'mono', text: k.masked || '' }), form);
    const done = (v) => { dlg.close(); dlg.remove(); resolve(v); };
    cancel.addEventListener('click', () => done(false));
    dlg.addEventListener('cancel', (e) => { e.preventDefault(); done(false); });
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const bad = paid.check();
      if (bad) { err.show({ message: bad }); return; }
      await busy(save, async () => {
        try {
          await patch(`/keys/${encodeURIComponent(k.id)}`, { note: note.value.trim(), ...paid.values() });
          done(true);
        } catch (e2) { err.show(e2); }
      });
    });
    document.body.append(dlg);
    dlg.showModal();
    note.focus();
  });
}

export const isDisabled = (k) => k.enabled === false || k.state === 'disabled';

// stateCell is the state badge, with the cooldown's end under it while cooling.
export function stateCell(k) {
  const d = toDate(k.cooldown_until);
  const cooling = d && d.getTime() > Date.now();
  return h('div', null, badge(k.state),
    cooling ? h('div', { class: 'muted small', attrs: { title: fmtTime(d) }, text: t('keys.cooldown_until', { when: fmtRelative(d) }) }) : null,
    Number(k.fail_streak) > 0 ? h('div', { class: 'muted small', text: t('keys.fail_streak', { n: fmtNum(k.fail_streak) }) }) : null);
}

// accountCell is what the key's NovelAI account has: tier, Anlas, V5 weekly allowance.
export function accountCell(k) {
  return h('dl', { class: 'mini-kv' },
    h('dt', { text: t('keys.tier') }), h('dd', { text: tierName(k.tier) }),
    h('dt', { text: t('keys.anlas') }), h('dd', { text: fmtNum(k.anlas) }),
    h('dt', { text: t('keys.v5') }), h('dd', { text: fmtAllowance(k.v5_allowance) }));
}

// spentCell is what the key spent through the pool: the Anlas estimate today and over 30 days,
// with the paid requests behind each (free requests spend nothing).
export function spentCell(k) {
  const s = k.spent || {};
  return h('dl', { class: 'mini-kv' },
    h('dt', { text: t('keys.spent_today') }), h('dd', { text: t('keys.spent_value', { anlas: fmtNum(s.today_anlas ?? 0), n: fmtNum(s.today_paid_requests ?? 0) }) }),
    h('dt', { text: t('keys.spent_30d') }), h('dd', { text: t('keys.spent_value', { anlas: fmtNum(s.days30_anlas ?? 0), n: fmtNum(s.days30_paid_requests ?? 0) }) }));
}

// checkCell is the last probe's time with the last error under it.
export function checkCell(k) {
  return h('div', null,
    h('div', { text: k.last_checked_at ? fmtTime(k.last_checked_at) : t('keys.not_checked') }),
    k.last_error ? h('div', { class: 'error-text small', text: k.last_error }) : null);
}

export function render(root) {
  const listBox = h('div');
  const result = h('div', { attrs: { 'aria-live': 'polite' } });
  const token = h('input', { type: 'password', class: 'input mono', required: true, autocomplete: 'off', placeholder: 'pst-…', maxLength: 200, attrs: { spellcheck: 'false', autocapitalize: 'none' } });
  const show = h('input', { type: 'checkbox' });
  show.addEventListener('change', () => { token.type = show.checked ? 'text' : 'password'; });
  const note = h('input', { type: 'text', class: 'input', maxLength: 200, placeholder: t('keys.note_placeholder') });
  const paid = paidFields();
  const err = formError();
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', text: t('keys.add') });
  const form = h('form', { class: 'stack-form' },
    field(t('keys.token'), token, t('keys.token_help')),
    checkField(t('keys.show_token'), show),
    field(t('keys.note'), note, t('keys.note_help')),
    paid.el, err, h('div', null, submit));
  let timer = null;

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.show(null);
    replace(result);
    const tok = token.value.trim();
    if (!/^pst-[A-Za-z0-9_-]+$/.test(tok)) { err.show({ message: t('keys.bad_token') }); token.focus(); return; }
    const bad = paid.check();
    if (bad) { err.show({ message: bad }); return; }
    await busy(submit, async () => {
      try {
        const body = { token: tok, ...paid.values() };
        if (note.value.trim()) body.note = note.value.trim();
        const k = await post('/keys', body);
        token.value = '';
        note.value = '';
        const good = k && (k.state === 'active' || k.state === 'pending');
        replace(result, notice(t('keys.added', { masked: k?.masked || '', state: t(`state.${k?.state}`) }), good ? 'ok' : 'warn'));
        refresh();
      } catch (e2) { err.show(e2); }
    });
  });

  async function toggle(k, btn) {
    const enable = isDisabled(k);
    await busy(btn, async () => {
      try { await patch(`/keys/${encodeURIComponent(k.id)}`, { enabled: enable }); toast(enable ? t('keys.enabled_toast') : t('keys.disabled_toast')); refresh(); } catch (e2) { toast(e2.message, 'error'); }
    });
  }

  async function withdraw(k) {
    const ok = await confirmDialog({ title: t('keys.withdraw_title'), message: t('keys.withdraw_message'), detail: `${k.masked || ''}${k.note ? ` · ${k.note}` : ''}`, confirm: t('keys.withdraw') });
    if (!ok) return;
    try { await del(`/keys/${encodeURIComponent(k.id)}`); toast(t('keys.withdrawn')); refresh(); } catch (e2) { toast(e2.message, 'error'); }
  }

  function schedule(keys) {
    clearTimeout(timer);
    // A new key is probed right away; while one is still pending, look again shortly.
    if (keys.some((k) => k.state === 'pending')) timer = setTimeout(() => refresh(true), 3000);
  }

  function refresh(quiet) {
    const draw = (resp) => {
      const keys = listOf(resp, 'keys');
      schedule(keys);
      if (!keys.length) return empty(t('keys.none'));
      return paged(keys, 25, (rows) => table([
        { label: t('keys.key'), cell: (k) => h('div', null, h('code', { class: 'mono', text: k.masked || '—' }), k.note ? h('div', { class: 'muted small', text: k.note }) : null) },
        { label: t('keys.state'), cell: (k) => stateCell(k) },
        { label: t('keys.account'), cell: accountCell },
        { label: t('keys.paid'), cell: (k) => (k.allow_paid ? t('keys.paid_yes', { max: k.max_anlas_per_request ?? '∞', floor: k.anlas_floor ?? 0 }) : t('keys.paid_no')) },
        { label: t('keys.uses_today'), cell: (k) => fmtNum(k.uses_today), class: 'num' },
        { label: t('keys.spent'), cell: spentCell, class: 'num' },
        { label: t('keys.last_check'), cell: checkCell },
        {
          label: t('common.actions'), class: 'actions', cell: (k) => {
            const tg = h('button', { type: 'button', class: 'btn btn-sm', text: isDisabled(k) ? t('common.enable') : t('common.disable') });
            tg.addEventListener('click', () => toggle(k, tg));
            return h('div', { class: 'btn-row' },
              h('button', { type: 'button', class: 'btn btn-sm', text: t('common.edit'), on: { click: async () => { if (await editDialog(k)) { toast(t('common.saved')); refresh(); } } } }),
              tg,
              h('button', { type: 'button', class: 'btn btn-sm btn-danger-ghost', text: t('keys.withdraw'), on: { click: () => withdraw(k) } }));
          },
        },
      ], rows, { caption: t('keys.list_title'), rowClass: (k) => `row-${String(k.state).replace(/[^a-z]/g, '')}` }));
    };
    if (quiet) {
      get('/keys').then((resp) => { if (listBox.isConnected) replace(listBox, draw(resp)); }).catch(() => {});
    } else {
      load(listBox, () => get('/keys'), draw);
    }
  }

  root.append(
    pageHeader(t('keys.title'), t('keys.intro')),
    card(t('keys.add_title'), form, result),
    card(t('keys.list_title'), h('p', { class: 'muted', text: t('keys.states_help') }), listBox));
  refresh();
  return () => clearTimeout(timer);
}
