// Login and registration throttling and per-address account lockout, end to end, including two suite
// processes sharing one database (the counters live in Postgres, so they hold across auth
// instances). Client addresses come from X-Forwarded-For (TRUST_PROXY_HEADERS=true).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStack, api, Proc, NAIPOOL } from './harness.mjs';
import { freshIp, call, randomName, register, loginOk, assertError, psql } from './auth_helpers.mjs';

let stack;
let second; // { proc, url, dir }: a second suite process on the same database

before(async () => {
  stack = await startStack({ env: { TRUST_PROXY_HEADERS: 'true', AUTH_LOGIN_SLOWDOWN_AFTER: '0' } });
  const dir = mkdtempSync(join(tmpdir(), 'np-data2-'));
  const proc = new Proc('naipool-2', NAIPOOL, ['all'], { ...stack.env, PORT: '0', DATA_DIR: dir });
  const m = await proc.waitFor(/serving http:\/\/127\.0\.0\.1:(\d+)\//, 60000);
  second = { proc, dir, url: `http://127.0.0.1:${m[1]}` };
});
after(async () => {
  if (second) {
    await second.proc.stop();
    rmSync(second.dir, { recursive: true, force: true });
    const report = second.proc.sanitizerReport();
    if (report) throw new Error('sanitizer report from the second naipool:\n' + report);
  }
  await stack?.stop();
});

function retryAfter(r) {
  const v = Number(r.headers.get('retry-after'));
  assert.ok(Number.isInteger(v) && v >= 1, `Retry-After: ${r.headers.get('retry-after')}`);
  return v;
}

const loginFrom = (base, ip, username, password) =>
  api(base, 'POST', '/auth/login', { json: { username, password }, headers: { 'x-forwarded-for': ip } });

test('sign-ins are limited per client IP (20 a minute) with 429 and Retry-After', async () => {
  const ip = freshIp();
  // unknown names, one attempt each, so no account lockout is involved
  for (let i = 0; i < 20; i++) {
    assertError(await loginFrom(stack.url, ip, randomName('x'), 'some-password'), 401, 'unauthorized');
  }
  const r = await loginFrom(stack.url, ip, randomName('x'), 'some-password');
  assertError(r, 429, 'rate_limited');
  assert.ok(retryAfter(r) <= 60);
  // the right password does not get through either while the window lasts
  const u = await register(stack, 'rl');
  assertError(await loginFrom(stack.url, ip, u.username, u.password), 429, 'rate_limited');
  // another address is not affected
  assert.equal((await loginFrom(stack.url, freshIp(), u.username, u.password)).status, 200);
});

test('sign-ups are limited per client IP (10 a minute); bad input is not counted', async () => {
  const ip = freshIp();
  for (let i = 0; i < 12; i++) {
    const r = await call(stack, 'POST', '/auth/register', { json: { username: 'no', password: 'x' }, ip });
    assertError(r, 400, 'bad_request');
  }
  for (let i = 0; i < 10; i++) {
    const r = await call(stack, 'POST', '/auth/register',
      { json: { username: randomName('su'), password: 'long-enough-1' }, ip });
    assert.equal(r.status, 201, r.text);
  }
  const name = randomName('su');
  const r = await call(stack, 'POST', '/auth/register', { json: { username: name, password: 'long-enough-1' }, ip });
  assertError(r, 429, 'rate_limited');
  assert.ok(retryAfter(r) <= 60);
  assert.equal(psql(stack.db, `SELECT count(*) FROM users WHERE username = '${name}'`)[0][0], '0');
  assert.equal((await call(stack, 'POST', '/auth/register',
    { json: { username: name, password: 'long-enough-1' }, ip: freshIp() })).status, 201);
});

test('10 failed sign-ins from one address lock the account for that address only', async () => {
  const u = await register(stack, 'lock');
  const other = await register(stack, 'free');
  const ip = freshIp();
  for (let i = 0; i < 10; i++) {
    assertError(await loginFrom(stack.url, ip, u.username, 'wrong-password'), 401, 'unauthorized');
  }
  const r = await loginFrom(stack.url, ip, u.username, u.password);
  assertError(r, 429, 'locked_out');
  const wait = retryAfter(r);
  assert.ok(wait <= 10 * 60, `Retry-After ${wait}`);
  // names are compared ignoring case
  assertError(await loginFrom(stack.url, ip, u.username.toUpperCase(), u.password), 429, 'locked_out');
  // another address is not locked out (issue 11: a lockout cannot be aimed at someone)
  assert.equal((await loginFrom(stack.url, freshIp(), u.username, u.password)).status, 200);
  assert.equal((await loginFrom(stack.url, freshIp(), other.username, other.password)).status, 200);
});

test('unknown names lock the same way, so a lockout tells nothing about which accounts exist', async () => {
  const ghost = randomName('ghost');
  const ip = freshIp();
  for (let i = 0; i < 10; i++) {
    assertError(await loginFrom(stack.url, ip, ghost, 'wrong-password'), 401, 'unauthorized');
  }
  assertError(await loginFrom(stack.url, ip, ghost, 'wrong-password'), 429, 'locked_out');
});

test('a successful sign-in clears earlier failures', async () => {
  const u = await register(stack, 'clear');
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < 9; i++) {
      await loginFrom(stack.url, freshIp(), u.username, 'wrong-password');
    }
    assert.equal((await loginFrom(stack.url, freshIp(), u.username, u.password)).status, 200);
  }
});

test('throttles and lockouts are shared by two suite processes on one database', async () => {
  const u = await register(stack, 'shared');
  // the second process signs the same user in: same database, same SECRET_KEY
  assert.equal((await loginFrom(second.url, freshIp(), u.username, u.password)).status, 200);
  const lockIp = freshIp();
  for (let i = 0; i < 10; i++) {
    const base = i % 2 ? second.url : stack.url;
    assertError(await loginFrom(base, lockIp, u.username, 'wrong-password'), 401, 'unauthorized');
  }
  assertError(await loginFrom(stack.url, lockIp, u.username, u.password), 429, 'locked_out');
  assertError(await loginFrom(second.url, lockIp, u.username, u.password), 429, 'locked_out');
  const ip = freshIp();
  for (let i = 0; i < 20; i++) {
    await loginFrom(i % 2 ? second.url : stack.url, ip, randomName('y'), 'pw-whatever');
  }
  assertError(await loginFrom(second.url, ip, randomName('y'), 'pw-whatever'), 429, 'rate_limited');
  assertError(await loginFrom(stack.url, ip, randomName('y'), 'pw-whatever'), 429, 'rate_limited');
});
