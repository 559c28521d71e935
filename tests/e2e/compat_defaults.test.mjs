// The earlier Python pool's defaults and gate (SEED-COMPAT.md): without settings, only
// contributors generate, and a user's cap counts running requests only (the rest wait).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newUser } from './harness.mjs';
import { poolStack, pstToken, contributor, imageBody } from './pool_helpers.mjs';

const SHIPPED = { BASE_RPM: null, BASE_RPM_CONTRIBUTOR_ONLY: null, MAX_RPM: null, MANUAL_GLOBAL_RPM: null };

const gen = (stack, user, params) =>
  stack.api('POST', '/v1/novelai/ai/generate-image', { token: user.token, json: imageBody(params) });

test('shipped defaults are the old pool\'s, and a user who contributed nothing is refused 403', async () => {
  const key = pstToken();
  const stack = await poolStack({ tokens: [{ token: key }], env: SHIPPED });
  try {
    const admin = await stack.login(stack.admin.username, stack.admin.password);
    const r = await stack.api('GET', '/admin/config', { token: admin });
    assert.equal(r.status, 200, r.text);
    const s = Object.fromEntries(r.json.settings.map((x) => [x.key, x.value]));
    assert.deepEqual([s.BASE_RPM, s.BASE_RPM_CONTRIBUTOR_ONLY, s.MAX_RPM, s.MANUAL_GLOBAL_RPM, s.PER_KEY_RPM],
      [0, true, 120, 0, 10]);

    const nobody = await newUser(stack, 'nokey');
    const refused = await gen(stack, nobody);
    assert.equal(refused.status, 403, refused.text);
    assert.equal(refused.json.error, 'contribution_required');
    assert.match(refused.json.message, /未贡献密钥，无法使用生图功能/);
    assert.equal((await stack.fake.stats()).requests[key]?.['/ai/generate-image'] ?? 0, 0);

    const giver = await contributor(stack, [key]);
    const ok = await gen(stack, giver);
    assert.equal(ok.status, 200, ok.text);

    // An admin's per-user rate opens the gate for one user without a key (the old manual_rpm).
    const users = await stack.api('GET', '/admin/users', { token: admin });
    const id = users.json.find((u) => u.username === nobody.username).id;
    const p = await stack.api('PATCH', `/admin/users/${id}`, { token: admin, json: { rpm_override: 5 } });
    assert.equal(p.status, 200, p.text);
    let again;
    for (let i = 0; i < 50; i++) {
      again = await gen(stack, nobody, { seed: i });
      if (again.status !== 403) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    assert.equal(again.status, 200, again.text);
  } finally {
    await stack.stop();
  }
});

test('USER_MAX_CONCURRENCY caps running requests: with 4 keys, 12 at once all succeed', async () => {
  const tokens = [pstToken(), pstToken(), pstToken(), pstToken()];
  const stack = await poolStack({ tokens: tokens.map((token) => ({ token })), latencyMs: 300,
    env: { BASE_RPM: '1000', MAX_RPM: '1000', USER_QUEUE_MAX: '64' } });
  try {
    const u = await contributor(stack, tokens);
    const res = await Promise.all(Array.from({ length: 12 }, (_, i) => gen(stack, u, { seed: i })));
    assert.deepEqual(res.map((r) => r.status), Array(12).fill(200), res.map((r) => r.text).join('\n'));
    const st = await stack.fake.stats();
    const served = tokens.reduce((n, t) => n + (st.requests[t]?.['/ai/generate-image'] ?? 0), 0);
    assert.equal(served, 12);
    assert.equal(st.lock_violations, 0);
  } finally {
    await stack.stop();
  }
});

test('with USER_MAX_CONCURRENCY 1 a second request waits its turn instead of a 429', async () => {
  const tokens = [pstToken(), pstToken()];
  const stack = await poolStack({ tokens: tokens.map((token) => ({ token })), latencyMs: 300,
    env: { BASE_RPM: '1000', MAX_RPM: '1000', USER_MAX_CONCURRENCY: '1' } });
  try {
    const u = await contributor(stack, tokens);
    let done = false, most = 0;
    const all = Promise.all([gen(stack, u, { seed: 1 }), gen(stack, u, { seed: 2 }), gen(stack, u, { seed: 3 })])
      .finally(() => { done = true; });
    while (!done) { // one at a time although two keys are idle
      most = Math.max(most, (await stack.fake.stats()).in_flight);
      await new Promise((res) => setTimeout(res, 20));
    }
    assert.deepEqual((await all).map((r) => r.status), [200, 200, 200]);
    assert.equal(most, 1);
  } finally {
    await stack.stop();
  }
});
