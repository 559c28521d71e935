// The HTTP client for the pool's API: JSON in and out, the bearer token from localStorage,
// and one error type carrying the server's {"error","message"}.
import { t } from './i18n.js';

const TOKEN = 'np.token';
const EXPIRES = 'np.token_expires';

export class ApiError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

let unauthorizedHandler = () => {};
export function onUnauthorized(fn) { unauthorizedHandler = fn; }

export function getToken() {
  try {
    const tok = localStorage.getItem(TOKEN);
    const exp = Number(localStorage.getItem(EXPIRES) || 0);
    if (tok && exp && Date.now() > exp) { clearToken(); return null; }
    return tok;
  } catch { return null; }
}

export function setToken(token, expiresIn) {
  localStorage.setItem(TOKEN, token);
  if (expiresIn) localStorage.setItem(EXPIRES, String(Date.now() + Number(expiresIn) * 1000));
  else localStorage.removeItem(EXPIRES);
}

export function clearToken() {
  try { localStorage.removeItem(TOKEN); localStorage.removeItem(EXPIRES); } catch { /* ignore */ }
}

// query({a: 1, b: ''}) builds "?a=1", leaving out empty values.
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

// api(method, path, body) answers the parsed JSON (null for 204) or throws ApiError whose
// message is the server's own sentence when it sent one.
export async function api(method, path, body, { auth = true } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const tok = auth ? getToken() : null;
  if (tok) headers.Authorization = `Bearer ${tok}`;
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, 'network', t('err.network'));
  }
  const text = res.status === 204 ? '' : await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!res.ok) {
    const code = data && typeof data.error === 'string' ? data.error : `http_${res.status}`;
    let message = data && typeof data.message === 'string' && data.message ? data.message : null;
    if (!message) message = t('err.http', { status: res.status });
    const err = new ApiError(res.status, code, message, res.headers.get('Retry-After'));
    if (res.status === 401 && tok) unauthorizedHandler(err);
    throw err;
  }
  return data;
}

export const get = (path) => api('GET', path);
export const post = (path, body) => api('POST', path, body === undefined ? {} : body);
export const patch = (path, body) => api('PATCH', path, body);
export const put = (path, body) => api('PUT', path, body);
export const del = (path) => api('DELETE', path);
