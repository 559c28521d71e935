// Key probes by the health leader: forced checks (POST /admin/keys/{id}/check) answer the
// key's new state; periodic probes take an active key down only after the failure threshold,
// half-open re-probes bring it back, and a disabled key is never re-enabled.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, newUser, pstToken, psql, sleep, until } from './harness.mjs';

const keyRow = (db, id) => {
  const [r] = psql(db, `SELECT state, fail_streak, tier, anlas, enabled FROM upstream_keys WHERE id = ${id}`);
  return { state: r[0], streak: Number(r[1]), tier: r[2], anlas: r[3], enabled: r[4] };
};

test('forced and periodic probes move keys as DESIGN.md section 3 says', async () => {
  const good = pstToken(), other = pstToken();
  const stack = await startStack({
    tokens: [{ token: good, anlas: 777 }, { token: other }],
    env: {
      HEALTH_CHECK_INTERVAL_SECONDS: '1', HEALTH_CHECK_FAIL_THRESHOLD: '3',
      HEALTH_RECHECK_BASE_SECONDS: '1', HEALTH_RECHECK_MAX_SECONDS: '2',
    },
  });
  try {
    const admin = await stack.login(stack.admin.username, stack.admin.password);
    const u = await newUser(stack, 'contrib');
    let r = await stack.api('POST', '/keys', { token: u.token, json: { token: good } });
    assert.equal(r.status, 201, r.text);
    const id = r.json.id;
    r = await stack.api('POST', '/keys', { token: u.token, json: { token: other } });
    assert.equal(r.status, 201, r.text);
    const id2 = r.json.id;

    // Forced check: answers when done, with the key's state and facts; never the token.
    r = await stack.api('POST', `/admin/keys/${id}/check`, { token: admin });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.id, id);
    assert.equal(r.json.state, 'active');
    assert.equal(r.json.tier, 3);
    assert.equal(r.json.anlas, 777);
    assert.ok(!r.text.includes(good));
    // exactly the key object GET /admin/keys lists
    const listed = (await stack.api('GET', '/admin/keys', { token: admin })).json.find((k) => k.id === id);
    assert.deepEqual(r.json, listed);
    assert.deepEqual(Object.keys(r.json.v5_allowance).sort(), ['percent', 'used_up']);
    assert.equal(r.json.owner, u.username);
    assert.equal((await stack.api('POST', '/admin/keys/999999/check', { token: admin })).status, 404);
    assert.equal((await stack.api('POST', `/admin/keys/${id}/check`, { token: u.token })).status, 403);

    // A revoked token: a forced check takes the key down at once.
    await stack.fake.addTokens([{ token: good, behaviour: 'invalid' }]);
    r = await stack.api('POST', `/admin/keys/${id}/check`, { token: admin });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.state, 'invalid');
    // Back to good: health brings it back (half-open re-probe with backoff).
    await stack.fake.addTokens([{ token: good, behaviour: 'ok', anlas: 777 }]);
    await until('the key back to active', () => keyRow(stack.db, id).state === 'active');

    // Periodic probes: an active key goes down only after three bad answers in a row.
    await stack.fake.reset();
    await stack.fake.addTokens([{ token: other, behaviour: 'invalid' }]);
    const seen = [];
    await until('key 2 invalid', () => {
      const k = keyRow(stack.db, id2);
      seen.push(k.state + ':' + k.streak);
      return k.state === 'invalid' ? k : null;
    });
    assert.ok(seen.some((s) => s === 'active:1' || s === 'active:2'), `went down at once: ${seen}`);
    assert.ok(keyRow(stack.db, id2).streak >= 3);
    const stats = await stack.fake.stats();
    assert.ok((stats.requests[other] || {})['/user/subscription'] >= 3, JSON.stringify(stats.requests[other]));
    // The state change is an audit event.
    await until('a key.state_changed event', () => psql(stack.db,
      `SELECT 1 FROM audit_events WHERE type = 'key.state_changed' AND details->>'key_id' = '${id2}'`).length > 0);

    // A disabled key stays disabled whatever the probe says.
    await stack.fake.addTokens([{ token: other, behaviour: 'ok' }]);
    r = await stack.api('PATCH', `/keys/${id2}`, { token: u.token, json: { enabled: false } });
    assert.equal(r.status, 200, r.text);
    await sleep(3000);
    r = await stack.api('POST', `/admin/keys/${id2}/check`, { token: admin });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.state, 'disabled', 'the visible state, as GET /admin/keys shows it');
    assert.equal(r.json.enabled, false);
    assert.equal(keyRow(stack.db, id2).enabled, 'f');
    assert.notEqual(keyRow(stack.db, id2).state, 'active');
    // Leases are given back.
    assert.equal(psql(stack.db, 'SELECT count(*) FROM key_probes WHERE expires_at > now()')[0][0] <= '1', true);
  } finally {
    await stack.stop();
  }
});
