// Each service is given only the secrets it reads, as files (compose secrets, Kubernetes Secret
// volumes): in multi-node mode audit starts with DATABASE_URL alone, pool and health without
// SECRET_KEY, auth without ENCRYPTION_KEY, every one of them reading NAME_FILE; a service still
// refuses to start without a secret it does use, naming the setting and never its value.
// The pool's key fingerprints derive from ENCRYPTION_KEY (version 2): a key stored with a
// version-1 fingerprint (under SECRET_KEY, before migration 0011) is re-fingerprinted when the
// pool starts, and duplicate uploads are still refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, createHmac, createCipheriv } from 'node:crypto';
import { NAIPOOL, Proc, createDatabase, freePort, login, api, psql, pstToken, startFake } from './harness.mjs';

const derive = (secret, label) => createHmac('sha256', secret).update('naipool:' + label).digest();
const hex = (b) => '\\x' + b.toString('hex');

/** seal: the pool's at-rest format, nonce | ciphertext | tag, AAD = the row id (8 bytes BE). */
function seal(key, id, token) {
  const nonce = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, nonce);
  const aad = Buffer.alloc(8);
  aad.writeBigUInt64BE(BigInt(id));
  c.setAAD(aad);
  const ct = Buffer.concat([c.update(token), c.final()]);
  return Buffer.concat([nonce, ct, c.getAuthTag()]);
}

test('each back-end starts with only its own secrets, read from files', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'np-secrets-'));
  const secrets = {
    SECRET_KEY: randomBytes(36).toString('base64url'),
    ENCRYPTION_KEY: randomBytes(32).toString('base64url'),
    DATABASE_URL: createDatabase(),
    ADMIN_PASSWORD: 'admin-' + randomBytes(9).toString('base64url'),
    INTERNAL_SECRET: randomBytes(36).toString('base64url'),
  };
  for (const [k, v] of Object.entries(secrets)) writeFileSync(join(dir, k), v + '\n', { mode: 0o600 });
  const files = (...names) => Object.fromEntries(names.map((n) => [`${n}_FILE`, join(dir, n)]));
  const port = async () => `tcp://127.0.0.1:${await freePort()}`;
  const a = { AUTH: await port(), POOL: await port(), AUDIT: await port(), HEALTH: await port(),
    EVENTS: await port(), ACKS: await port() };
  const env = { MULTI_NODE_ENABLED: 'true', BIND_ADDRESS: '127.0.0.1', PORT: '0', ADMIN_USERNAME: 'admin',
    ASAN_OPTIONS: 'detect_leaks=0' };
  for (const [k, v] of Object.entries(a)) {
    const base = k === 'EVENTS' || k === 'ACKS' ? k : `${k}_RPC`;
    env[`${base}_URL`] = v;
    env[`${base}_LISTEN`] = v;
  }
  // Nothing secret in the environment of the test process leaks into the children.
  for (const k of Object.keys(secrets)) delete process.env[k];
  const old = pstToken(); // stored before migration 0011, fingerprinted under SECRET_KEY
  const fresh = pstToken();
  const fake = await startFake({ tokens: [{ token: old }, { token: fresh }] });
  const procs = [];
  const start = async (svc, names) => {
    const p = new Proc(svc, NAIPOOL, [svc], { ...env, NODE_ID: svc, NOVELAI_IMAGE_BASE: fake.url, ...files(...names) });
    procs.push(p);
    await p.waitFor(svc === 'gateway' ? /serving http:\/\/127\.0\.0\.1:(\d+)\// : /answering on/, 60000);
    return p;
  };
  try {
    // Without a secret it uses, a service refuses to start and names the setting only.
    const bad = new Proc('auth-bad', NAIPOOL, ['auth'], { ...env, ...files('DATABASE_URL', 'ADMIN_PASSWORD', 'INTERNAL_SECRET') });
    const r = await bad.exited;
    assert.notEqual(r.code, 0);
    assert.match(bad.out + bad.err, /SECRET_KEY: required/);

    await start('audit', ['DATABASE_URL', 'INTERNAL_SECRET']);
    // A key as the pool stored it before fingerprints moved to ENCRYPTION_KEY.
    const db = secrets.DATABASE_URL;
    const encKey = Buffer.from(secrets.ENCRYPTION_KEY, 'base64url');
    const v1 = createHmac('sha256', derive(secrets.SECRET_KEY, 'upstream-fingerprint')).update(old).digest();
    const v2 = (t) => createHmac('sha256', derive(encKey, 'upstream-fingerprint-v2')).update(t).digest();
    psql(db, `INSERT INTO users (username, password_hash) VALUES ('old_owner', 'x')`);
    psql(db, `INSERT INTO upstream_keys (id, owner_id, fingerprint, masked, state, ciphertext)
      SELECT 1000, id, '${hex(v1)}'::bytea, 'pst-ol...ld', 'active', '${hex(seal(encKey, 1000, old))}'::bytea
      FROM users WHERE username = 'old_owner'`);
    assert.deepEqual(psql(db, 'SELECT fp_version FROM upstream_keys WHERE id = 1000'), [['1']]);
    const pool = await start('pool', ['ENCRYPTION_KEY', 'DATABASE_URL', 'INTERNAL_SECRET']);
    assert.match(pool.out + pool.err, /1 keys re-fingerprinted under ENCRYPTION_KEY/);
    assert.deepEqual(psql(db, 'SELECT fp_version, encode(fingerprint, \'hex\') FROM upstream_keys WHERE id = 1000'),
      [['2', v2(old).toString('hex')]]);
    await start('auth', ['SECRET_KEY', 'DATABASE_URL', 'ADMIN_PASSWORD', 'INTERNAL_SECRET']);
    await start('health', ['ENCRYPTION_KEY', 'DATABASE_URL', 'INTERNAL_SECRET']);
    const gw = await start('gateway', ['INTERNAL_SECRET']);
    const url = `http://127.0.0.1:${gw.out.match(/serving http:\/\/127\.0\.0\.1:(\d+)\//)[1]}`;
    // The admin's password came from its file: signing in works.
    const token = await login(url, 'admin', secrets.ADMIN_PASSWORD);
    assert.ok(token);
    // Duplicates are found without SECRET_KEY: the re-fingerprinted key and a new one.
    let k = await api(url, 'POST', '/keys', { token, json: { token: old } });
    assert.equal(k.status, 409, k.text);
    k = await api(url, 'POST', '/keys', { token, json: { token: fresh } });
    assert.equal(k.status, 201, k.text);
    k = await api(url, 'POST', '/keys', { token, json: { token: fresh } });
    assert.equal(k.status, 409, k.text);
    assert.equal(k.json.error, 'conflict');
    assert.deepEqual(psql(db, `SELECT fp_version, encode(fingerprint, 'hex') FROM upstream_keys WHERE id <> 1000`),
      [['2', v2(fresh).toString('hex')]]);
    // A second start changes nothing (the re-fingerprinting is done once).
    await pool.stop();
    const again = await start('pool', ['ENCRYPTION_KEY', 'DATABASE_URL', 'INTERNAL_SECRET']);
    assert.doesNotMatch(again.out + again.err, /re-fingerprinted/);
    const all = procs.map((p) => p.out + p.err).join('') + bad.out + bad.err;
    for (const v of Object.values(secrets)) assert.ok(!all.includes(v), 'a secret in the output');
  } finally {
    for (const p of procs.reverse()) await p.stop();
    await fake.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
