// The settings form used by the configuration page and the proxies page: one row per
// setting, its source, read-only ones locked; saving sends only what changed (PUT).
import { h, uid } from './dom.js';
import { t, own } from './i18n.js';
import { get, put } from './api.js';
import { adaptConfig } from './adapters.js';
import { load, formError, busy, toast, empty, badge, field } from './ui.js';

function inputFor(s) {
  const dis = s.readOnly;
  if (s.type === 'bool') return h('input', { type: 'checkbox', checked: s.value === true || s.value === 'true', disabled: dis });
  if (s.type === 'int' || s.type === 'number') {
    return h('input', { type: 'number', class: 'input', value: s.value ?? '', step: s.type === 'int' ? 1 : 'any', min: s.min ?? undefined, max: s.max ?? undefined, disabled: dis, inputMode: s.type === 'int' ? 'numeric' : 'decimal' });
  }
  return h('input', { type: s.secret ? 'password' : 'text', class: 'input mono', value: s.secret ? '' : (s.value ?? ''), placeholder: s.secret ? '••••••' : '', disabled: dis, autocomplete: 'off' });
}

function readValue(s, input) {
  if (s.type === 'bool') return input.checked;
  if (s.type === 'int' || s.type === 'number') {
    if (input.value === '') return undefined;
    return Number(input.value);
  }
  return input.value;
}

function same(a, b) { return a === b || String(a) === String(b); }

// row(s) is one setting: its name and description, its input, its source and lock.
function row(s, inputs) {
  const input = inputFor(s);
  const id = uid('cfg');
  input.id = id;
  input.name = s.key;
  inputs.set(s.key, input);
  const desc = own(`cfg.${s.key}`) ?? s.description;
  const descId = `${id}-d`;
  if (desc) input.setAttribute('aria-describedby', descId);
  const showDefault = s.default !== undefined && s.default !== null && s.default !== '' && !s.secret && !same(s.default, s.value);
  return h('div', { class: ['config-row', s.readOnly ? 'is-locked' : null], data: { key: s.key, search: `${s.key} ${desc || ''}`.toLowerCase() } },
    h('div', { class: 'config-label' },
      h('label', { attrs: { for: id } }, h('code', { class: 'mono strong', text: s.key })),
      desc ? h('p', { class: 'help', id: descId, text: desc }) : null),
    h('div', { class: 'config-input' }, input,
      showDefault ? h('p', { class: 'help', text: t('config.default', { v: String(s.default) }) }) : null),
    h('div', { class: 'config-meta' },
      s.source ? badge(String(s.source), 'source') : null,
      s.readOnly ? h('span', { class: 'badge badge-locked', text: t('config.read_only'), attrs: { title: t('config.read_only_help') } }) : null));
}

// configForm(box, {filter, compact}) loads GET /admin/config into box: the editable settings
// as a form, the read-only ones below it, shown but locked (folded away unless compact).
export function configForm(box, { filter, compact = false } = {}) {
  function render() {
    load(box, () => get('/admin/config'), (resp) => {
      const settings = adaptConfig(resp).filter((s) => !filter || filter(s.key));
      if (!settings.length) return empty(t('config.none'));
      const err = formError();
      const inputs = new Map();
      const editable = settings.filter((s) => !s.readOnly);
      const locked = settings.filter((s) => s.readOnly);
      const save = h('button', { type: 'submit', class: 'btn btn-primary', text: t('config.save') });
      const search = compact ? null : h('input', { type: 'search', class: 'input', placeholder: t('config.search') });
      const lockedBox = locked.length ? h('details', { class: 'config-locked', open: compact },
        h('summary', { text: t('config.locked_title', { n: locked.length }) }),
        h('p', { class: 'help', text: t('config.read_only_help') }),
        locked.map((s) => row(s, inputs))) : null;
      const form = h('form', { class: ['config-form', compact ? 'is-compact' : null] },
        search ? field(t('config.search_label'), search) : null,
        editable.map((s) => row(s, inputs)), err,
        editable.length ? h('div', { class: 'form-actions' }, save) : null,
        lockedBox);
      if (search) {
        search.addEventListener('input', () => {
          const q = search.value.trim().toLowerCase();
          for (const el of form.querySelectorAll('.config-row')) el.hidden = q !== '' && !el.dataset.search.includes(q);
          if (lockedBox && q) lockedBox.open = true;
        });
      }
      form.addEventListener('submit', async (e) => {
        e.preventDefault();
        err.show(null);
        const changes = {};
        for (const s of editable) {
          const v = readValue(s, inputs.get(s.key));
          if (v === undefined || (typeof v === 'number' && !Number.isFinite(v))) continue;
          if (s.secret && v === '') continue;
          if (!same(v, s.value)) changes[s.key] = v;
        }
        if (!Object.keys(changes).length) { toast(t('config.nothing'), 'info'); return; }
        await busy(save, async () => {
          try {
            await put('/admin/config', changes);
            toast(t('config.saved', { n: Object.keys(changes).length }));
            render();
          } catch (e2) {
            err.show(e2);
            const bad = Object.keys(changes).find((k) => e2.message && e2.message.includes(k));
            if (bad) inputs.get(bad).focus();
          }
        });
      });
      return form;
    });
  }
  render();
  return { reload: render };
}
