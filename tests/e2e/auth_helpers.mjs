// Helpers shared by the auth end-to-end files: calls from a chosen client address (the stacks
// run with TRUST_PROXY_HEADERS=true, and the harness connects from 127.0.0.1, a trusted proxy,
// so X-Forwarded-For picks the client IP the throttles see), session tokens crafted with the
// stack's own SECRET_KEY, and polling helpers for cache-TTL behaviour.
import { createHmac, randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import { sleep } from './harness.mjs';

/**
 * psql runs SQL against a stack's database URL ("postgresql:///NAME?host=DIR&user=naipool")
 * and returns the rows as arrays of strings. (WHATWG URL parsing reads NAME as a host in that
 * form, so the name is taken from the text.)
 */
import { psql } from './harness.mjs';

export { psql };

let ipCounter = 0;
/** freshIp returns a client address no other test in this process used (TEST-NET ranges). */
export function freshIp() {
  ipCounter++;
  return `198.51.${(ipCounter >> 8) & 255}.${ipCounter & 255}`;
}

/** call is stack.api with an optional client address. */
export function call(stack, method, path, opts = {}) {
  const headers = { ...(opts.headers || {}) };
  if (opts.ip) headers['x-forwarded-for'] = opts.ip;
  return stack.api(method, path, { ...opts, headers });
}

export function randomName(prefix = 'u') {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}

export function randomPassword() {
  return 'pw-' + randomBytes(12).toString('base64url');
}

/** register creates a user from a fresh address and signs in; returns {id, username, password, token}. */
export async function register(stack, prefix = 'u') {
  const username = randomName(prefix);
  const password = randomPassword();
  const r = await call(stack, 'POST', '/auth/register', { json: { username, password }, ip: freshIp() });
  assert.equal(r.status, 201, r.text);
  const token = await loginOk(stack, username, password);
  return { id: r.json.id, username, password, token };
}

export async function loginOk(stack, username, password) {
  const r = await call(stack, 'POST', '/auth/login', { json: { username, password }, ip: freshIp() });
  assert.equal(r.status, 200, r.text);
  return r.json.access_token;
}

/** assertError checks the error shape and the status. */
export function assertError(r, status, code) {
  assert.equal(r.status, status, `expected ${status}, got ${r.status}: ${r.text}`);
  assert.equal(typeof r.json, 'object', r.text);
  assert.deepEqual(Object.keys(r.json).sort(), ['error', 'message']);
  if (code) assert.equal(r.json.error, code);
  assert.ok(r.json.message.length > 10, 'the message says what was wrong');
}

/** pollUntil calls fn until it returns a truthy value, up to ms; returns that value. */
export async function pollUntil(fn, ms = 10000, what = 'condition') {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    last = await fn();
    if (last) return last;
    await sleep(100);
  }
  throw new Error(`${what} not reached within ${ms} ms`);
}

const b64 = (x) => Buffer.from(typeof x === 'string' ? x : JSON.stringify(x)).toString('base64url');

/** craftJwt signs header.payload with HMAC (sha256 or sha512) under the stack's session key. */
export function craftJwt(stack, header, payload, { alg = 'sha256', secret } = {}) {
  const key = createHmac('sha256', secret ?? stack.env.SECRET_KEY).update('naipool:jwt').digest();
  const head = b64(header) + '.' + b64(payload);
  return head + '.' + createHmac(alg, key).update(head).digest('base64url');
}

/** tokenVersion reads users.token_version (crafted tokens must carry it). */
export function tokenVersion(stack, uid) {
  return Number(psql(stack.db, `SELECT token_version FROM users WHERE id = ${Number(uid)}`)[0][0]);
}

export function countRows(stack, table) {
  return Number(psql(stack.db, `SELECT count(*) FROM ${table}`)[0][0]);
}

/**
 * eventSeen polls until an event of type was recorded: in the audit_events table when the
 * durable events pipeline stores it there, or as the producer's log line otherwise.
 */
export async function eventSeen(stack, type, ms = 15000) {
  return pollUntil(async () => {
    if (stack.output().includes(`event ${type} `) || stack.output().includes(`"${type}"`)) return true;
    try {
      const rows = psql(stack.db, `SELECT count(*) FROM audit_events WHERE type = '${type.replace(/'/g, "''")}'`);
      return Number(rows[0][0]) > 0;
    } catch {
      return false;
    }
  }, ms, `event ${type}`);
}

/** recordedText returns everything the suite wrote: its output and the stored audit events. */
export function recordedText(stack) {
  let stored = '';
  try {
    stored = psql(stack.db, 'SELECT details::text, coalesce(subject, \'\') FROM audit_events').flat().join('\n');
  } catch {}
  return stack.output() + '\n' + stored;
}
