// Who is signed in: the token lives in localStorage (api.js), /auth/me is cached here.
import { api, getToken, setToken, clearToken } from './api.js';

let me = null;

export function current() { return me; }
export function isSignedIn() { return !!getToken(); }
export function isAdmin() { return !!me && me.role === 'admin'; }

export async function refreshMe() {
  me = await api('GET', '/auth/me');
  return me;
}

export async function signIn(username, password) {
  const r = await api('POST', '/auth/login', { username, password }, { auth: false });
  if (!r || !r.access_token) throw new Error('no token in the answer');
  setToken(r.access_token, r.expires_in);
  me = null;
  return refreshMe();
}

export function signOut() {
  clearToken();
  me = null;
}
