// Shared pieces of the pages: loading and error states, tables, dialogs, copy buttons.
import { h, replace, clear, uid } from './dom.js';
import { t, has } from './i18n.js';

export function loading(label) {
  return h('div', { class: 'loading', attrs: { role: 'status' } },
    h('span', { class: 'spinner', attrs: { 'aria-hidden': 'true' } }),
    h('span', { text: label || t('common.loading') }));
}

export function errorBox(err, retry) {
  const msg = err && err.message ? err.message : t('err.unknown');
  return h('div', { class: 'alert alert-error', attrs: { role: 'alert' } },
    h('span', { class: 'alert-text', text: msg }),
    retry ? h('button', { type: 'button', class: 'btn btn-sm', text: t('common.retry'), on: { click: retry } }) : null);
}

export function notice(text, kind = 'info') {
  return h('div', { class: `alert alert-${kind}` }, h('span', { class: 'alert-text', text }));
}

export function empty(text) {
  return h('p', { class: 'empty', text });
}

// section(title, ...children) is a card with a heading.
export function card(title, ...children) {
  return h('section', { class: 'card' }, title ? h('h2', { class: 'card-title', text: title }) : null, ...children);
}

// load(box, fetcher, render) shows a loading state in box, then what render(data) returns,
// or the error with a retry button. It answers a promise that settles after rendering.
export async function load(box, fetcher, render) {
  replace(box, loading());
  box.setAttribute('aria-busy', 'true');
  try {
    const data = await fetcher();
    if (!box.isConnected && box.dataset.detached !== 'ok') return;
    const out = render(data);
    clear(box);
    if (out) box.append(...(Array.isArray(out) ? out.filter(Boolean) : [out]));
  } catch (err) {
    replace(box, errorBox(err, () => load(box, fetcher, render)));
    if (!(err && err.status !== undefined)) console.warn(err);
  } finally {
    box.removeAttribute('aria-busy');
  }
}

// busy(button, fn) disables the button while fn runs.
export async function busy(button, fn) {
  if (button) { button.disabled = true; button.classList.add('is-busy'); }
  try { return await fn(); } finally {
    if (button) { button.disabled = false; button.classList.remove('is-busy'); }
  }
}

// table(columns, rows): columns are {label, cell(row) -> node|string, class}. On narrow
// screens the CSS turns rows into cards, labelling each cell from data-label.
export function table(allColumns, rows, { caption, rowClass } = {}) {
  const columns = allColumns.filter((c) => c && c.when !== false);
  const thead = h('thead', null, h('tr', null, columns.map((c) => h('th', { attrs: { scope: 'col' }, class: c.class, text: c.label }))));
  const tbody = h('tbody', null, rows.map((row) => h('tr', { class: rowClass ? rowClass(row) : null },
    columns.map((c) => {
      const v = c.cell(row);
      return h('td', { class: c.class, data: { label: c.label } }, v === null || v === undefined || v === '' ? '—' : v);
    }))));
  return h('div', { class: 'table-wrap' },
    h('table', { class: ['table', columns.length > 7 ? 'table-wide' : null] }, caption ? h('caption', { class: 'visually-hidden', text: caption }) : null, thead, tbody));
}

// paged(rows, pageSize, renderRows) shows rows a page at a time with previous/next buttons.
export function paged(rows, pageSize, renderRows) {
  const box = h('div', { class: 'paged' });
  const pages = Math.max(1, Math.ceil(rows.length / pageSize));
  let page = 0;
  const body = h('div');
  const info = h('span', { class: 'pager-info', attrs: { 'aria-live': 'polite' } });
  const prev = h('button', { type: 'button', class: 'btn btn-sm', text: t('common.prev'), on: { click: () => show(page - 1) } });
  const next = h('button', { type: 'button', class: 'btn btn-sm', text: t('common.next'), on: { click: () => show(page + 1) } });
  function show(p) {
    page = Math.min(Math.max(0, p), pages - 1);
    replace(body, renderRows(rows.slice(page * pageSize, (page + 1) * pageSize)));
    info.textContent = t('common.page_of', { page: page + 1, pages, total: rows.length });
    prev.disabled = page === 0;
    next.disabled = page >= pages - 1;
  }
  show(0);
  box.append(body);
  if (pages > 1) box.append(h('div', { class: 'pager' }, prev, info, next));
  return box;
}

// badge(state) is a coloured label for a key, proxy or status.
export function badge(state, prefix = 'state') {
  const key = `${prefix}.${state}`;
  const label = has(key) ? t(key) : String(state ?? '—');
  const safe = String(state ?? 'unknown').replace(/[^a-z0-9_-]/gi, '');
  return h('span', { class: `badge badge-${safe}`, text: label });
}

export function field(label, input, help, extraClass) {
  const id = input.id || uid('f');
  input.id = id;
  const helpId = help ? `${id}-help` : null;
  if (helpId) input.setAttribute('aria-describedby', helpId);
  return h('div', { class: ['field', extraClass] },
    h('label', { attrs: { for: id }, text: label }),
    input,
    help ? h('p', { class: 'help', id: helpId, text: help }) : null);
}

export function checkField(label, input, help) {
  const id = input.id || uid('c');
  input.id = id;
  const helpId = help ? `${id}-help` : null;
  if (helpId) input.setAttribute('aria-describedby', helpId);
  return h('div', { class: 'field field-check' },
    h('div', { class: 'check-row' }, input, h('label', { attrs: { for: id }, text: label })),
    help ? h('p', { class: 'help', id: helpId, text: help }) : null);
}

// formError() is the in-place slot for a server's message under a form.
export function formError() {
  const el = h('div', { class: 'form-error', attrs: { role: 'alert', 'aria-live': 'assertive' } });
  el.show = (err) => { el.textContent = err ? (err.message || String(err)) : ''; el.classList.toggle('is-shown', !!err); };
  el.show(null);
  return el;
}

let toastBox = null;
export function toast(text, kind = 'ok') {
  toastBox = toastBox || document.getElementById('toasts');
  if (!toastBox) return;
  const el = h('div', { class: `toast toast-${kind}`, text });
  toastBox.append(el);
  setTimeout(() => el.remove(), 4000);
}

// copyText puts text on the clipboard; without the Clipboard API (plain http on a LAN
// address) it falls back to a hidden textarea and execCommand.
export async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try { await navigator.clipboard.writeText(text); return true; } catch { /* fall back */ }
  }
  const ta = h('textarea', { class: 'offscreen', value: text, readOnly: true });
  document.body.append(ta);
  ta.select();
  let ok = false;
  try { ok = document.execCommand('copy'); } catch { ok = false; }
  ta.remove();
  return ok;
}

export function copyButton(getText, label) {
  const text = label || t('common.copy');
  const btn = h('button', { type: 'button', class: 'btn btn-sm', text });
  btn.addEventListener('click', async () => {
    const ok = await copyText(typeof getText === 'function' ? getText() : getText);
    btn.textContent = ok ? t('common.copied') : t('common.copy_failed');
    setTimeout(() => { btn.textContent = text; }, 1800);
  });
  return btn;
}

// confirmDialog answers true when the person confirms. Built on <dialog>: focus is trapped,
// Escape cancels.
export function confirmDialog({ title, message, confirm, danger = true, detail }) {
  return new Promise((resolve) => {
    const ok = h('button', { type: 'button', class: danger ? 'btn btn-danger' : 'btn btn-primary', text: confirm || t('common.confirm') });
    const cancel = h('button', { type: 'button', class: 'btn', text: t('common.cancel') });
    const titleId = uid('dlg');
    const dlg = h('dialog', { class: 'dialog', attrs: { 'aria-labelledby': titleId } },
      h('h2', { id: titleId, class: 'dialog-title', text: title }),
      message ? h('p', { text: message }) : null,
      detail ? h('p', { class: 'dialog-detail mono', text: detail }) : null,
      h('div', { class: 'dialog-actions' }, cancel, ok));
    let answered = false;
    const done = (v) => { if (answered) return; answered = true; dlg.close(); dlg.remove(); resolve(v); };
    ok.addEventListener('click', () => done(true));
    cancel.addEventListener('click', () => done(false));
    dlg.addEventListener('cancel', (e) => { e.preventDefault(); done(false); });
    document.body.append(dlg);
    dlg.showModal();
    cancel.focus();
  });
}

// promptDialog asks for one line of text (used for renaming).
export function promptDialog({ title, label, value = '', confirm, maxLength = 100 }) {
  return new Promise((resolve) => {
    const input = h('input', { type: 'text', class: 'input', value, maxLength, required: true });
    const form = h('form', { class: 'dialog-form' });
    const ok = h('button', { type: 'submit', class: 'btn btn-primary', text: confirm || t('common.save') });
    const cancel = h('button', { type: 'button', class: 'btn', text: t('common.cancel') });
    const titleId = uid('dlg');
    form.append(field(label, input), h('div', { class: 'dialog-actions' }, cancel, ok));
    const dlg = h('dialog', { class: 'dialog', attrs: { 'aria-labelledby': titleId } }, h('h2', { id: titleId, class: 'dialog-title', text: title }), form);
    let answered = false;
    const done = (v) => { if (answered) return; answered = true; dlg.close(); dlg.remove(); resolve(v); };
    form.addEventListener('submit', (e) => { e.preventDefault(); done(input.value.trim()); });
    cancel.addEventListener('click', () => done(null));
    dlg.addEventListener('cancel', (e) => { e.preventDefault(); done(null); });
    document.body.append(dlg);
    dlg.showModal();
    input.focus();
    input.select();
  });
}

export function pageHeader(title, intro, ...actions) {
  return h('div', { class: 'page-header' },
    h('div', null,
      h('h1', { class: 'page-title', text: title, attrs: { tabindex: '-1' } }),
      intro ? h('p', { class: 'page-intro', text: intro }) : null),
    actions.length ? h('div', { class: 'page-actions' }, actions) : null);
}

export function dl(pairs) {
  return h('dl', { class: 'kv' }, pairs.filter(Boolean).map(([k, v]) => [h('dt', { text: k }), h('dd', null, v === null || v === undefined || v === '' ? '—' : v)]));
}
