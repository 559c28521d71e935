// One dictionary per language (web/i18n/*.js); every visible string goes through t().
import zh from '../i18n/zh.js';
import en from '../i18n/en.js';

const dicts = { zh, en };
const STORE = 'np.lang';
let lang = 'zh';
try {
  const saved = localStorage.getItem(STORE);
  if (saved && dicts[saved]) lang = saved;
} catch { /* storage may be disabled */ }

const listeners = new Set();

export function getLang() { return lang; }
export function locale() { return lang === 'zh' ? 'zh-CN' : 'en'; }
export function languages() { return Object.keys(dicts); }

export function setLang(next) {
  if (!dicts[next] || next === lang) return;
  lang = next;
  try { localStorage.setItem(STORE, next); } catch { /* ignore */ }
  document.documentElement.lang = locale();
  for (const fn of listeners) fn(lang);
}

export function onLangChange(fn) { listeners.add(fn); return () => listeners.delete(fn); }

// t('key', {n: 3}) looks the key up in the current language, then in English, then shows the
// key itself (so a missing entry is visible rather than blank), and fills {name} holes.
export function t(key, params) {
  let str = dicts[lang][key];
  if (str === undefined) str = dicts.en[key];
  if (str === undefined) str = key;
  if (params) str = str.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
  return str;
}

// has(key) says whether a dictionary entry exists (used for optional labels such as
// setting descriptions or status names the server may add later).
export function has(key) { return key in dicts[lang] || key in dicts.en; }

// own(key) is the entry of the current language only, or null: for texts the server already
// gives in English (setting descriptions), where only other languages add a translation.
export function own(key) { return key in dicts[lang] ? dicts[lang][key] : null; }

document.documentElement.lang = locale();
