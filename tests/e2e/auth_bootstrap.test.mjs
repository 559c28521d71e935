// The first admin (generated password printed once, ADMIN_PASSWORD, ADMIN_FORCE_RESET) and
// closed registration, across restarts of the suite on one database.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { Proc, NAIPOOL, api, createDatabase, stackEnv } from './harness.mjs';
import { assertError } from './auth_helpers.mjs';

const db = createDatabase();
const base = stackEnv(db, 'http://127.0.0.1:9', { ADMIN_PASSWORD: '', ALLOW_REGISTRATION: 'false' });
const dirs = [];

/** run starts `naipool all` on the shared database with extra settings; returns {proc, url}. */
async function run(extra) {
  const dir = mkdtempSync(join(tmpdir(), 'np-boot-'));
  dirs.push(dir);
  const proc = new Proc('naipool', NAIPOOL, ['all'], { ...base, PORT: '0', DATA_DIR: dir, ...extra });
  const m = await proc.waitFor(/serving http:\/\/127\.0\.0\.1:(\d+)\//, 60000);
  return { proc, dir, url: `http://127.0.0.1:${m[1]}` };
}

/** generatedPassword reads the password a start generated: stdout is no terminal here, so it
 * names DATA_DIR/admin-password (mode 0600) and never prints the password itself. */
function generatedPassword(s, line) {
  const m = line.match(/^Admin login: admin, password in (\S+)$/);
  assert.ok(m, line);
  assert.equal(m[1], join(s.dir, 'admin-password'));
  assert.equal(statSync(m[1]).mode & 0o777, 0o600);
  const pw = readFileSync(m[1], 'utf8').trim();
  assert.ok(!s.proc.out.includes(pw) && !s.proc.err.includes(pw), 'the password is not in the output');
  return pw;
}

async function stop(s) {
  await s.proc.stop();
  const report = s.proc.sanitizerReport();
  if (report) throw new Error('sanitizer report:\n' + report);
}

const login = (url, username, password) => api(url, 'POST', '/auth/login', { json: { username, password } });
const adminLines = (out) => out.split('\n').filter((l) => l.startsWith('Admin login: '));

after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

test('first admin, closed registration, ADMIN_PASSWORD and ADMIN_FORCE_RESET across restarts', async () => {
  // 1. A fresh database and no ADMIN_PASSWORD: one plain line on stdout naming the file.
  let s = await run({});
  const lines = adminLines(s.proc.out);
  assert.equal(lines.length, 1, s.proc.out);
  const generated = generatedPassword(s, lines[0]);
  assert.ok(generated.length >= 12);
  assert.ok(!s.proc.err.includes(generated), 'the password is not in the log');
  let r = await login(s.url, 'admin', generated);
  assert.equal(r.status, 200, r.text);
  const oldToken = r.json.access_token;
  const me = await api(s.url, 'GET', '/auth/me', { token: oldToken });
  assert.equal(me.json.role, 'admin');
  // ALLOW_REGISTRATION=false closes sign-up with 403
  r = await api(s.url, 'POST', '/auth/register', { json: { username: 'newcomer', password: 'long-enough-1' } });
  assertError(r, 403, 'registration_closed');
  await stop(s);

  // 2. Restart with another ADMIN_PASSWORD but no reset: nothing changes, nothing printed.
  s = await run({ ADMIN_PASSWORD: 'ignored-password-1' });
  assert.equal(adminLines(s.proc.out).length, 0);
  assert.equal((await login(s.url, 'admin', generated)).status, 200);
  assertError(await login(s.url, 'admin', 'ignored-password-1'), 401, 'unauthorized');
  await stop(s);

  // 3. ADMIN_FORCE_RESET=true with ADMIN_PASSWORD: the new password works, old sessions end.
  s = await run({ ADMIN_PASSWORD: 'reset-password-1', ADMIN_FORCE_RESET: 'true', ALLOW_REGISTRATION: 'true' });
  assert.equal(adminLines(s.proc.out).length, 0);
  assertError(await login(s.url, 'admin', generated), 401, 'unauthorized');
  assert.equal((await login(s.url, 'admin', 'reset-password-1')).status, 200);
  assertError(await api(s.url, 'GET', '/auth/me', { token: oldToken }), 401, 'unauthorized');
  r = await api(s.url, 'POST', '/auth/register', { json: { username: 'newcomer', password: 'long-enough-1' } });
  assert.equal(r.status, 201, r.text);
  await stop(s);

  // 4. ADMIN_FORCE_RESET=true without a password: a new one is generated and printed.
  s = await run({ ADMIN_FORCE_RESET: 'true' });
  const again = adminLines(s.proc.out);
  assert.equal(again.length, 1);
  const pw2 = generatedPassword(s, again[0]);
  assert.notEqual(pw2, generated);
  assert.equal((await login(s.url, 'admin', pw2)).status, 200);
  await stop(s);
});

test('a weak ADMIN_PASSWORD refuses to start, naming the setting', () => {
  const dir = mkdtempSync(join(tmpdir(), 'np-boot-'));
  dirs.push(dir);
  const r = spawnSync(NAIPOOL, ['all'], {
    env: { ...process.env, ...stackEnv(createDatabase(), 'http://127.0.0.1:9'), ADMIN_PASSWORD: 'short', PORT: '0', DATA_DIR: dir },
    encoding: 'utf8', timeout: 60000,
  });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /ADMIN_PASSWORD/);
  assert.ok(!r.stderr.includes('short\n'));
});
