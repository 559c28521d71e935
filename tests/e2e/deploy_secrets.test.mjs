// Each service is given only the secrets it reads, as files (compose secrets, Kubernetes Secret
// volumes): in multi-node mode audit starts with DATABASE_URL alone, health without SECRET_KEY,
// auth without ENCRYPTION_KEY, every one of them reading NAME_FILE; a service still refuses to
// start without a secret it does use, naming the setting and never its value.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { NAIPOOL, Proc, createDatabase, freePort, login } from './harness.mjs';

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
  const procs = [];
  const start = async (svc, names) => {
    const p = new Proc(svc, NAIPOOL, [svc], { ...env, NODE_ID: svc, ...files(...names) });
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
    await start('pool', ['SECRET_KEY', 'ENCRYPTION_KEY', 'DATABASE_URL', 'INTERNAL_SECRET']);
    await start('auth', ['SECRET_KEY', 'DATABASE_URL', 'ADMIN_PASSWORD', 'INTERNAL_SECRET']);
    await start('health', ['ENCRYPTION_KEY', 'DATABASE_URL', 'INTERNAL_SECRET']);
    const gw = await start('gateway', ['INTERNAL_SECRET']);
    const url = `http://127.0.0.1:${gw.out.match(/serving http:\/\/127\.0\.0\.1:(\d+)\//)[1]}`;
    // The admin's password came from its file: signing in works.
    const token = await login(url, 'admin', secrets.ADMIN_PASSWORD);
    assert.ok(token);
    const all = procs.map((p) => p.out + p.err).join('') + bad.out + bad.err;
    for (const v of Object.values(secrets)) assert.ok(!all.includes(v), 'a secret in the output');
  } finally {
    for (const p of procs.reverse()) await p.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
