// Runtime configuration: GET/PUT /admin/config, all-or-nothing validation, propagation
// through NOTIFY (also of manual edits and deletions), and config.changed audit events.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, newUser, psql, sleep, until } from './harness.mjs';

test('admins read and change runtime settings; bad input changes nothing', async () => {
  const stack = await startStack({ env: { HEALTH_CHECK_FAIL_THRESHOLD: '4' } });
  try {
    const admin = await stack.login(stack.admin.username, stack.admin.password);
    const get = async () => {
      const r = await stack.api('GET', '/admin/config', { token: admin });
      assert.equal(r.status, 200, r.text);
      return Object.fromEntries(r.json.settings.map((s) => [s.key, s]));
    };
    let s = await get();
    assert.deepEqual(
      [s.HEALTH_CHECK_INTERVAL_SECONDS.value, s.HEALTH_CHECK_INTERVAL_SECONDS.source, s.HEALTH_CHECK_INTERVAL_SECONDS.editable],
      [300, 'default', true]);
    assert.deepEqual([s.HEALTH_CHECK_FAIL_THRESHOLD.value, s.HEALTH_CHECK_FAIL_THRESHOLD.source], [4, 'environment']);
    assert.equal(s.LOG_REQUEST_IP.value, false);
    assert.equal(s.SECRET_KEY.value, '********');
    assert.equal(s.SECRET_KEY.editable, false);
    assert.equal(s.DATABASE_URL.value, '********');
    assert.equal(s.MULTI_NODE_ENABLED.editable, false);
    const all = (await stack.api('GET', '/admin/config', { token: admin })).text;
    assert.ok(!all.includes(stack.env.SECRET_KEY) && !all.includes(stack.env.ENCRYPTION_KEY));

    const u = await newUser(stack, 'plain');
    assert.equal((await stack.api('GET', '/admin/config', { token: u.token })).status, 403);

    // A good change: typed values, one transaction, visible at once.
    let r = await stack.api('PUT', '/admin/config', { token: admin,
      json: { HEALTH_CHECK_INTERVAL_SECONDS: 120, LOG_REQUEST_IP: true, UPSTREAM_PROXY_MODE: 'proxy_pool' } });
    assert.equal(r.status, 200, r.text);
    s = await get();
    assert.deepEqual([s.HEALTH_CHECK_INTERVAL_SECONDS.value, s.HEALTH_CHECK_INTERVAL_SECONDS.source], [120, 'database']);
    assert.equal(s.LOG_REQUEST_IP.value, true);
    assert.equal(s.UPSTREAM_PROXY_MODE.value, 'proxy_pool');
    const rows = psql(stack.db, `SELECT key, value, updated_by IS NOT NULL FROM config ORDER BY key`);
    assert.deepEqual(rows.map((x) => x[0]), ['HEALTH_CHECK_INTERVAL_SECONDS', 'LOG_REQUEST_IP', 'UPSTREAM_PROXY_MODE']);
    assert.ok(rows.every((x) => x[2] === 't'));

    // Bad input: 400 naming the key, and nothing changes (not even the good keys beside it).
    const bad = [
      [{ SECRET_KEY: 'x'.repeat(40) }, /SECRET_KEY/],
      [{ DATABASE_URL: 'postgresql://x/y' }, /DATABASE_URL/],
      [{ MULTI_NODE_ENABLED: true }, /MULTI_NODE_ENABLED/],
      [{ HEALTH_RPC_LISTEN: 'tcp://0.0.0.0:1' }, /HEALTH_RPC_LISTEN/],
      [{ NO_SUCH_SETTING: 1 }, /NO_SUCH_SETTING/],
      [{ HEALTH_CHECK_INTERVAL_SECONDS: '60' }, /HEALTH_CHECK_INTERVAL_SECONDS/],
      [{ HEALTH_CHECK_INTERVAL_SECONDS: 1.5 }, /HEALTH_CHECK_INTERVAL_SECONDS/],
      [{ HEALTH_CHECK_INTERVAL_SECONDS: 0 }, /HEALTH_CHECK_INTERVAL_SECONDS/],
      [{ LOG_REQUEST_IP: 'false' }, /LOG_REQUEST_IP/],
      [{ UPSTREAM_PROXY_MODE: 'sideways' }, /UPSTREAM_PROXY_MODE/],
      [{ LOG_REQUEST_IP: false, MULTI_NODE_ENABLED: false }, /MULTI_NODE_ENABLED/],
      [{}, /setting/],
    ];
    for (const [json, re] of bad) {
      r = await stack.api('PUT', '/admin/config', { token: admin, json });
      assert.equal(r.status, 400, JSON.stringify(json) + ' ' + r.text);
      assert.equal(r.json.error, 'bad_request');
      assert.match(r.json.message, re);
    }
    r = await stack.api('PUT', '/admin/config', { token: admin, body: '{"LOG_REQUEST_IP": tru', headers: { 'content-type': 'application/json' } });
    assert.equal(r.status, 400);
    s = await get();
    assert.equal(s.LOG_REQUEST_IP.value, true);
    assert.equal(s.HEALTH_CHECK_INTERVAL_SECONDS.value, 120);
    assert.equal(psql(stack.db, 'SELECT count(*) FROM config')[0][0], '3');

    // Every process follows the table: a manual edit and a deletion arrive by NOTIFY.
    psql(stack.db, `UPDATE config SET value = '77' WHERE key = 'HEALTH_CHECK_INTERVAL_SECONDS'`);
    await until('the manual edit', async () => (await get()).HEALTH_CHECK_INTERVAL_SECONDS.value === 77);
    psql(stack.db, `DELETE FROM config WHERE key = 'HEALTH_CHECK_INTERVAL_SECONDS'`);
    await until('the fallback to the default', async () => {
      const x = (await get()).HEALTH_CHECK_INTERVAL_SECONDS;
      return x.value === 300 && x.source === 'default';
    });
    // null resets through the API; an environment value comes back as the environment's.
    r = await stack.api('PUT', '/admin/config', { token: admin, json: { HEALTH_CHECK_FAIL_THRESHOLD: 9 } });
    assert.equal(r.status, 200, r.text);
    r = await stack.api('PUT', '/admin/config', { token: admin, json: { HEALTH_CHECK_FAIL_THRESHOLD: null } });
    assert.equal(r.status, 200, r.text);
    s = await get();
    assert.deepEqual([s.HEALTH_CHECK_FAIL_THRESHOLD.value, s.HEALTH_CHECK_FAIL_THRESHOLD.source], [4, 'environment']);

    // Audit events: who, key, old and new value.
    const ev = await until('config.changed events', () => {
      const e = psql(stack.db, `SELECT details::text FROM audit_events WHERE type = 'config.changed'
        AND details->>'key' = 'HEALTH_CHECK_INTERVAL_SECONDS'`);
      return e.length ? JSON.parse(e[0][0]) : null;
    });
    assert.equal(ev.old, '300');
    assert.equal(ev.new, '120');
    const ids = psql(stack.db, `SELECT DISTINCT actor_user_id FROM audit_events WHERE type = 'config.changed'`);
    assert.equal(ids.length, 1);
    assert.ok(Number(ids[0][0]) > 0);
  } finally {
    await stack.stop();
  }
});
