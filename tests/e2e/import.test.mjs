// naipool import (issue 12): an earlier Python pool's database (SQLite, the formats of
// ../shared/SEED-COMPAT.md) brought into a running suite. An imported user signs in with the
// old password (then stored as argon2id), the old relay key relays an image (then stored as
// an HMAC), the contributed key is active and never shown, settings and logs come along, a
// dry run and a run with the wrong old key change nothing, and a second import changes nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NAIPOOL, ROOT, psql, pstToken, until } from './harness.mjs';
import { poolStack, imageBody, assertNoToken } from './pool_helpers.mjs';
import { buildOldPool, oldEncrypt, oldPasswordHash, oldRelayKey, sha256hex } from './oldpool.mjs';

const oldKey = randomBytes(32).toString('base64url');
const token = pstToken();
const alicePw = 'alice-old-pw-' + randomBytes(4).toString('hex');
const bobPw = 'bob-old-pw-' + randomBytes(4).toString('hex');
const aliceRelay = oldRelayKey();
let stack, dir, oldDb;

function runImport(args, extra = {}) {
  const r = spawnSync(NAIPOOL, ['import', ...args], {
    encoding: 'utf8',
    env: {
      ...process.env,
      DATABASE_URL: stack.db, SECRET_KEY: stack.env.SECRET_KEY,
      ENCRYPTION_KEY: stack.env.ENCRYPTION_KEY, OLD_ENCRYPTION_KEY: oldKey,
      DATA_DIR: dir, LOG_LEVEL: 'warn',
      ASAN_OPTIONS: stack.env.ASAN_OPTIONS, LSAN_OPTIONS: stack.env.LSAN_OPTIONS,
      ...extra,
    },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const counts = () => psql(stack.db, `SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM relay_keys),
  (SELECT count(*) FROM upstream_keys), (SELECT count(*) FROM config), (SELECT count(*) FROM usage_logs),
  (SELECT count(*) FROM import_map)`)[0].join(',');

before(async () => {
  stack = await poolStack({ tokens: [{ token, anlas: 5000 }], env: { BASE_RPM: '1000', MAX_RPM: '1000' } });
  dir = mkdtempSync(join(tmpdir(), 'np-import-'));
  oldDb = join(dir, 'novelai_pool.db');
  buildOldPool(oldDb, {
    users: [
      { id: 1, username: 'admin', email: null, hashed_password: oldPasswordHash('old-admin-pw'), role: 'admin', is_active: 1, created_at: '2025-03-01 10:00:00.000000' },
      { id: 7, username: 'alice', email: 'alice@example.org', hashed_password: oldPasswordHash(alicePw), role: 'user', is_active: 1, manual_rpm: 33, created_at: '2025-03-02 11:00:00.123456' },
      { id: 8, username: 'bob', email: null, hashed_password: oldPasswordHash(bobPw, 1000), role: 'user', is_active: 0, created_at: '2025-03-03 12:00:00' },
    ],
    apiKeys: [
      { id: 3, user_id: 7, key_encrypted: oldEncrypt(oldKey, token), key_hash: sha256hex(token), status: 'active', tier: 3, is_enabled: 1, fail_streak: 0, created_at: '2025-03-04 00:00:00' },
    ],
    clientKeys: [
      { id: 5, user_id: 7, name: 'my tool', key_hash: sha256hex(aliceRelay), prefix: aliceRelay.slice(0, 8), is_active: 1, created_at: '2025-03-05 00:00:00' },
      { id: 6, user_id: 8, name: 'bob tool', key_hash: sha256hex(oldRelayKey()), prefix: 'np-xx', is_active: 0, created_at: '2025-03-05 00:00:00' },
    ],
    logs: [
      { id: 1, user_id: 7, api_key_id: 3, action: 'generate', ip_address: '203.0.113.9', width: 832, height: 1216, steps: 28, samples: 1, status: 'success', status_code: 200, latency_ms: 3100, created_at: '2025-03-06 00:00:00' },
      { id: 2, user_id: 7, api_key_id: null, action: 'generate', ip_address: '203.0.113.9', width: 832, height: 1216, steps: 40, samples: 1, status: 'rejected', status_code: 402, latency_ms: 2, reject_reason: 'steps too high', created_at: '2025-03-06 00:01:00' },
    ],
    config: [
      { key: 'PER_KEY_RPM', value: '7' },
      { key: 'MAX_RPM', value: '1000' },
      { key: 'LOG_REQUEST_IP', value: 'True' },
      { key: 'AUTO_QUOTA_ENABLED', value: 'true' },
      { key: 'SOMETHING_UNKNOWN', value: '1' },
    ],
  });
});

after(async () => {
  await stack?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('a dry run and a run with the wrong old key change nothing', () => {
  const before0 = counts();
  const dry = runImport(['--dry-run', '--with-logs', 'sqlite:///' + oldDb]);
  assert.equal(dry.code, 0, dry.err);
  assert.match(dry.out, /users +2 new, 0 already imported, 1 merged or skipped/);
  assert.match(dry.out, /dry run: nothing was changed/);
  assert.equal(counts(), before0);

  const wrong = runImport(['--with-logs', oldDb], { OLD_ENCRYPTION_KEY: randomBytes(32).toString('base64url') });
  assert.equal(wrong.code, 1);
  assert.match(wrong.err, /does not open with the key given: set OLD_ENCRYPTION_KEY/);
  assert.match(wrong.err, /nothing was changed/);
  assert.equal(counts(), before0);
  assertNoToken([dry.out, dry.err, wrong.out, wrong.err], [token]);
});

test('the import brings users, relay keys, contributed keys, settings and logs', () => {
  const r = runImport(['--with-logs', 'sqlite+aiosqlite:///' + oldDb]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /users +2 new, 0 already imported, 1 merged or skipped/);
  assert.match(r.out, /relay keys +2 new/);
  assert.match(r.out, /contributed keys +1 new/);
  assert.match(r.out, /1 contributed keys are probed by health before they serve/);
  assert.match(r.out, /settings +4 new/);
  assert.match(r.out, /request logs +2 new/);
  assert.match(r.out, /user admin already exists here: merged/);
  assert.match(r.out, /setting SOMETHING_UNKNOWN not imported: no such setting here/);
  assertNoToken([r.out, r.err], [token]);
  const [alice] = psql(stack.db, "SELECT role, disabled, rpm_override, email, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') FROM users WHERE username = 'alice'");
  assert.deepEqual(alice, ['user', 'f', '33', 'alice@example.org', '2025-03-02 11:00:00']);
  assert.equal(psql(stack.db, "SELECT disabled FROM users WHERE username = 'bob'")[0][0], 't');
  const cfg = Object.fromEntries(psql(stack.db, 'SELECT key, value FROM config'));
  assert.equal(cfg.PER_KEY_RPM, '7');
  assert.equal(cfg.LOG_REQUEST_IP, 'true');
  assert.equal(cfg.RATE_LIMIT_MODE, 'auto');
  const logs = psql(stack.db, "SELECT status, steps, error, ip FROM usage_logs WHERE producer_id = 'import' ORDER BY seq");
  assert.deepEqual(logs, [['200', '28', '', '203.0.113.9'], ['402', '40', 'steps too high', '203.0.113.9']].map((l) => l));
});

test('an imported user signs in with the old password, which is then stored as argon2id', async () => {
  const bad = await stack.api('POST', '/auth/login', { json: { username: 'alice', password: alicePw + 'x' } });
  assert.equal(bad.status, 401);
  const jwt = await stack.login('alice', alicePw);
  assert.ok(jwt);
  assert.match(psql(stack.db, "SELECT password_hash FROM users WHERE username = 'alice'")[0][0], /^\$argon2id\$/);
  await stack.login('alice', alicePw); // and again, with the new hash
  const me = await stack.api('GET', '/auth/me', { token: jwt });
  assert.equal(me.json.username, 'alice');
  const off = await stack.api('POST', '/auth/login', { json: { username: 'bob', password: bobPw } });
  assert.equal(off.status, 403); // the old pool's is_active=false: disabled here too
});

test('the contributed key is active and never shown; the old relay key relays an image', async () => {
  const jwt = await stack.login('alice', alicePw);
  // imported pending: health probes it with the fake before it may serve
  const keys = await until('the imported key probed active', async () => {
    const k = await stack.api('GET', '/keys', { token: jwt });
    return k.status === 200 && k.json.length === 1 && k.json[0].state === 'active' ? k : null;
  });
  assert.equal(keys.json[0].tier, 3);
  assertNoToken([keys.text], [token]);

  let r;
  for (let i = 0; i < 50; i++) { // the pool's keyring reloads on the import's NOTIFY
    r = await stack.api('POST', '/v1/novelai/ai/generate-image', { token: aliceRelay, json: imageBody() });
    if (r.status !== 503) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  assert.equal(r.status, 200, r.text);
  assert.equal(r.bytes.subarray(0, 2).toString(), 'PK');
  const stats = await stack.fake.stats();
  assert.ok(stats.requests[token]['/ai/generate-image'] >= 1);
  const [row] = psql(stack.db, "SELECT key_hash IS NOT NULL, legacy_sha256 IS NULL FROM relay_keys WHERE name = 'my tool'");
  assert.deepEqual(row, ['t', 't']);
  const again = await stack.api('POST', '/v1/novelai/ai/generate-image', { token: aliceRelay, json: imageBody() });
  assert.equal(again.status, 200, again.text);
});

test('a second import changes nothing', () => {
  const before2 = counts();
  const r = runImport(['--with-logs', oldDb]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /users +0 new, 3 already imported/); // the merged admin too
  assert.match(r.out, /relay keys +0 new, 2 already imported/);
  assert.match(r.out, /contributed keys +0 new, 1 already imported/);
  assert.match(r.out, /settings +0 new, 4 already imported/);
  assert.match(r.out, /request logs +0 new, 2 already imported/);
  assert.equal(counts(), before2);
});

test('start-up refuses a SQLite DATABASE_URL and says how to import it', () => {
  const r = spawnSync(NAIPOOL, ['migrate'], {
    encoding: 'utf8',
    env: { ...process.env, DATABASE_URL: 'sqlite+aiosqlite:///./data/novelai_pool.db', DATA_DIR: dir,
      ASAN_OPTIONS: stack.env.ASAN_OPTIONS, LSAN_OPTIONS: stack.env.LSAN_OPTIONS },
  });
  assert.notEqual(r.status, 0);
  assert.match(r.stdout + r.stderr, /SQLite.*naipool import/s);
  void ROOT;
});
