// Helpers shared by the pool and relay end-to-end files: a stack whose users may register
// freely, a user with a contributed key, request bodies NovelAI accepts, and the scan that
// proves no token ever left the pool.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { startStack, newUser, pstToken } from './harness.mjs';

export { pstToken };

/** poolStack starts a stack with lenient registration throttles and the given settings. */
export function poolStack({ tokens = [], env = {}, latencyMs = 0, eventDelayMs = 0 } = {}) {
  return startStack({
    tokens, latencyMs, eventDelayMs,
    env: { AUTH_REGISTER_RATE_LIMIT_PER_MINUTE: '100000', AUTH_LOGIN_RATE_LIMIT_PER_MINUTE: '100000', ...env },
  });
}

/** A recorder of every response body, for the token scan at the end of a file. */
export class Seen {
  constructor() { this.bodies = []; }
  wrap(stack) {
    const api = stack.api;
    stack.api = async (...args) => {
      const r = await api(...args);
      this.bodies.push(r.text);
      for (const [k, v] of r.headers) this.bodies.push(`${k}: ${v}`);
      return r;
    };
    return stack;
  }
}

/** contributor registers a user and contributes the given tokens; returns the user and keys. */
export async function contributor(stack, tokens, extra = {}) {
  const u = await newUser(stack, 'contrib');
  const keys = [];
  for (const token of tokens) {
    const r = await stack.api('POST', '/keys', { token: u.token, json: { token, ...extra } });
    assert.equal(r.status, 201, r.text);
    keys.push(r.json);
  }
  return { ...u, keys };
}

export function imageBody(params = {}, extra = {}) {
  return {
    input: 'a lighthouse at dusk', model: 'nai-diffusion-4-5-full', action: 'generate',
    parameters: { width: 832, height: 1216, steps: 28, n_samples: 1, seed: 42, ...params }, ...extra,
  };
}

/** multipart builds a form-data body from [name, content] pairs with the given boundary. */
export function multipart(boundary, parts) {
  let s = '';
  for (const [name, content] of parts) {
    s += `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${content}\r\n`;
  }
  return s + `--${boundary}--\r\n`;
}

export function sha256(buf) {
  return createHash('sha256').update(buf).digest('hex');
}

/** direct asks the fake upstream itself (no relay) with a token: the reference answer. */
export async function direct(fake, method, path, token, { json, body, headers = {} } = {}) {
  const h = { authorization: 'Bearer ' + token, ...headers };
  let b = body;
  if (json !== undefined) { h['content-type'] = 'application/json'; b = JSON.stringify(json); }
  const r = await fetch(fake.url + path, { method, headers: h, body: b });
  return { status: r.status, headers: r.headers, bytes: Buffer.from(await r.arrayBuffer()) };
}

/** keyState reads one of the user's keys by id. */
export async function keyOf(stack, user, id) {
  const r = await stack.api('GET', '/keys', { token: user.token });
  assert.equal(r.status, 200);
  return r.json.find((k) => k.id === id);
}

/** assertNoToken fails when any of the tokens appears in any text given. */
export function assertNoToken(texts, tokens) {
  for (const t of texts) {
    for (const tok of tokens) {
      assert.ok(!t.includes(tok), 'a token leaked: ' + t.slice(0, 200));
      assert.ok(!t.includes(tok.slice(4, 24)), 'part of a token leaked: ' + t.slice(0, 200));
    }
  }
}

/** scenario runs fn on a fresh stack whose fake knows tokens (so no other key interferes). */
export async function scenario(tokens, opts, fn) {
  const seen = new Seen();
  const stack = seen.wrap(await poolStack({ tokens: tokens.map((token) => ({ token })), ...opts }));
  try {
    await fn(stack);
    assert.equal((await stack.fake.stats()).lock_violations, 0);
  } finally {
    const logs = stack.proc.out + stack.proc.err;
    await stack.stop();
    assertNoToken([...seen.bodies, logs], tokens);
  }
}
