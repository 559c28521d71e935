// The earlier Python pool's setting names (SEED-COMPAT.md): read as aliases with real
// effect, named once at start-up and by `naipool config check`; the new name wins.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NAIPOOL, ROOT, Proc, psql, until } from './harness.mjs';
import { poolStack, pstToken, contributor, imageBody } from './pool_helpers.mjs';

test('config check reads an old .env and names each old setting with what it became', () => {
  const dir = mkdtempSync(join(tmpdir(), 'np-oldenv-'));
  try {
    writeFileSync(join(dir, '.env'), [
      'ENVIRONMENT=prod',
      'AUTO_QUOTA_ENABLED=false',
      'SYSTEM_CONFIG_REFRESH_INTERVAL_SECONDS=7',
      'UPSTREAM_PROXY_COOLDOWN_SECONDS=11',
      'UPSTREAM_PROXY_COOLDOWN_429_SECONDS=42',
      'UPSTREAM_PROXY_KEEPALIVE_ENABLED=false',
      'UPSTREAM_PROXY_KEEPALIVE_URL=https://image.example/',
      'KEY_COOLDOWN_SECONDS=3',
      'UPSTREAM_PROXY_MAX_COOLDOWN_SECONDS=600',
      'PROXY_COOLDOWN_MAX_SECONDS=900', // the new name wins over the old one
      'DATABASE_URL=postgresql+asyncpg://u:pw@127.0.0.1:9/old',
      '',
    ].join('\n'));
    const env = { PATH: process.env.PATH, ASAN_OPTIONS: 'detect_leaks=0' };
    const r = spawnSync(NAIPOOL, ['config', 'check'], { cwd: dir, env, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const value = (name) => r.stdout.match(new RegExp(`^${name}\\s+(\\S+)`, 'm'))?.[1];
    assert.equal(value('RATE_LIMIT_MODE'), 'manual');
    assert.equal(value('CONFIG_RELOAD_SECONDS'), '7');
    assert.equal(value('PROXY_COOLDOWN_429_SECONDS'), '42');
    assert.equal(value('PROXY_COOLDOWN_5XX_SECONDS'), '11');
    assert.equal(value('PROXY_COOLDOWN_NETWORK_SECONDS'), '11');
    assert.equal(value('PROXY_CHECK_ENABLED'), 'false');
    assert.equal(value('PROXY_CHECK_URL'), 'https://image.example/');
    assert.equal(value('PROXY_COOLDOWN_MAX_SECONDS'), '900');
    assert.match(r.stdout, /# old setting: AUTO_QUOTA_ENABLED=false is read as RATE_LIMIT_MODE=manual/);
    assert.match(r.stdout, /# old setting \(warning\): KEY_COOLDOWN_SECONDS: no effect/);
    assert.match(r.stdout, /# old setting: ENVIRONMENT: no effect/);
    assert.match(r.stdout, /DATABASE_URL: the driver suffix \(\+asyncpg\)/);
    assert.equal((r.stdout.match(/UPSTREAM_PROXY_COOLDOWN_SECONDS is read as/g) ?? []).length, 1);
    assert.ok(!r.stdout.includes('pw@'), 'no credentials in the output');
    assert.match(r.stderr, /old setting AUTO_QUOTA_ENABLED/, 'start-up names it too');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('old settings with effect: UPSTREAM_PROXIES imported once, default model, Opus only', async () => {
  const opus = pstToken(), tablet = pstToken();
  const stack = await poolStack({ tokens: [{ token: opus }, { token: tablet, tier: 1 }],
    env: { BASE_RPM: '100', UPSTREAM_PROXIES: 'http://alice:secret@127.0.0.1:9, socks5://127.0.0.1:1080,ftp://bad' } });
  try {
    const admin = await stack.login(stack.admin.username, stack.admin.password);
    const px = await stack.api('GET', '/admin/proxies', { token: admin });
    assert.equal(px.status, 200, px.text);
    assert.deepEqual(px.json.map((p) => p.url).sort(), ['http://alice:****@127.0.0.1:9', 'socks5://127.0.0.1:1080']);
    assert.ok(!stack.output().includes('secret@'));
    // the proxy page's settings form (web/js/pages/admin-proxies.js: PROXY_* and UPSTREAM_PROXY*)
    // offers the sensitivity switches and the keepalive (probe) settings, editable online
    const cfg = await stack.api('GET', '/admin/config', { token: admin });
    const editable = Object.fromEntries(cfg.json.settings.map((x) => [x.key, x.editable]));
    for (const k of ['UPSTREAM_PROXY_HANDLE_429', 'UPSTREAM_PROXY_HANDLE_5XX', 'UPSTREAM_PROXY_HANDLE_NETWORK_ERRORS',
      'PROXY_CHECK_ENABLED', 'PROXY_CHECK_INTERVAL_SECONDS', 'PROXY_CHECK_URL', 'PROXY_CHECK_TIMEOUT_SECONDS']) {
      assert.equal(editable[k], true, k);
    }

    // REQUIRE_OPUS_TIER (default true, as in the old pool): a Tablet key is refused 400
    const u = await contributor(stack, [opus]);
    const t = await stack.api('POST', '/keys', { token: u.token, json: { token: tablet } });
    assert.equal(t.status, 400, t.text);
    assert.match(t.json.message, /Opus/);

    // NOVELAI_DEFAULT_MODEL: a body without model gets nai-diffusion-4-5-full
    const body = imageBody();
    delete body.model;
    const r = await stack.api('POST', '/v1/novelai/ai/generate-image', { token: u.token, json: body });
    assert.equal(r.status, 200, r.text);
    const row = await until('the usage row', async () => {
      const l = await stack.api('GET', '/logs?limit=5', { token: u.token });
      return l.json?.find((x) => x.status === 200);
    });
    assert.equal(row.model, 'nai-diffusion-4-5-full');

    // a second start on the same database imports nothing again
    const dir = mkdtempSync(join(tmpdir(), 'np-data2-'));
    const second = new Proc('naipool-2', NAIPOOL, ['all'], { ...stack.env, PORT: '0', DATA_DIR: dir });
    try {
      await second.waitFor(/serving http:\/\/127\.0\.0\.1:(\d+)\//, 60000);
    } finally {
      await second.stop();
      rmSync(dir, { recursive: true, force: true });
    }
    assert.deepEqual(psql(stack.db, 'SELECT count(*) FROM proxies'), [['2']]);
  } finally {
    await stack.stop();
  }
});

test('.env.example names only settings that exist, and each with a valid value', () => {
  const text = readFileSync(join(ROOT, '.env.example'), 'utf8');
  const lines = text.split('\n').filter((l) => /^# [A-Z][A-Z0-9_]*=/.test(l)).map((l) => l.slice(2));
  assert.ok(lines.length > 40, 'the example lists the settings an operator may want');
  const dir = mkdtempSync(join(tmpdir(), 'np-example-'));
  try {
    // every example value, uncommented, passes config check (secrets and the URL left out)
    const keep = lines.filter((l) => !/^(SECRET_KEY|ENCRYPTION_KEY|INTERNAL_SECRET|DATABASE_URL)=/.test(l));
    writeFileSync(join(dir, '.env'), keep.join('\n') + '\n');
    const r = spawnSync(NAIPOOL, ['config', 'check'], { cwd: dir, env: { PATH: process.env.PATH, ASAN_OPTIONS: 'detect_leaks=0' }, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    for (const l of keep) {
      const name = l.slice(0, l.indexOf('='));
      assert.match(r.stdout, new RegExp(`^${name}\\s`, 'm'), `${name} is a setting`);
    }
    assert.ok(!r.stdout.includes('# old setting'), 'the example uses today\'s names only');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('HEALTH_CHECK_ENABLED=false stops periodic probes of active keys; true starts them again', async () => {
  const token = pstToken();
  const stack = await poolStack({ tokens: [{ token }], env: {
    HEALTH_CHECK_ENABLED: 'false', HEALTH_CHECK_INTERVAL_SECONDS: '1', HEALTH_CHECK_FAIL_THRESHOLD: '1' } });
  try {
    const admin = await stack.login(stack.admin.username, stack.admin.password);
    const u = await contributor(stack, [token]); // probed on upload: active
    const id = u.keys[0].id;
    const state = () => psql(stack.db, `SELECT state FROM upstream_keys WHERE id = ${id}`)[0][0];
    assert.equal(state(), 'active');
    await stack.fake.addTokens([{ token, behaviour: 'invalid' }]);
    const probes = async () => (await stack.fake.stats()).requests[token]?.['/user/subscription'] ?? 0;
    const before = await probes();
    await new Promise((res) => setTimeout(res, 3500)); // three intervals: no periodic probe
    assert.equal(await probes(), before);
    assert.equal(state(), 'active');
    const r = await stack.api('PUT', '/admin/config', { token: admin, json: { HEALTH_CHECK_ENABLED: true } });
    assert.equal(r.status, 200, r.text);
    await until('a periodic probe takes the revoked key down', () => state() === 'invalid');
  } finally {
    await stack.stop();
  }
});
