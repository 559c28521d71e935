// What a contributed key spends and suffers through the pool (issue 9, items 3, 5 and 7):
// answers that are the client's fault harm no key; a V5 allowance is never overspent; every
// request's Anlas estimate lands on the key that served it, where its owner and the admins
// see it, and a probe that finds a different balance says so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sleep, until } from './harness.mjs';
import { pstToken, contributor, imageBody, keyOf, scenario } from './pool_helpers.mjs';

/** force makes the fake answer the next `times` requests to route with status and message. */
async function force(stack, route, status, message, times = 1) {
  const r = await fetch(stack.fake.url + '/__force', {
    method: 'POST', body: JSON.stringify({ route, status, message, times }),
  });
  assert.equal(r.status, 200, await r.text());
}

const gen = (stack, user, params, extra) =>
  stack.api('POST', '/v1/novelai/ai/generate-image', { token: user.token, json: imageBody(params, extra) });

const calls = (stats, token, route = '/ai/generate-image') => stats.requests[token]?.[route] ?? 0;

/** unharmed: the key kept its state, has no strike, no cooldown and no error of the request. */
function assertUnharmed(k) {
  assert.equal(k.state, 'active', JSON.stringify(k));
  assert.equal(k.fail_streak, 0, JSON.stringify(k));
  assert.equal(k.cooldown_until, null, JSON.stringify(k));
}

// ---- item 5: client faults do not hurt keys ----

test('a 500 that a second key also gives is the request\'s fault: passed on, no key struck', async () => {
  const [a, b] = [pstToken(), pstToken()];
  await scenario([a, b], {}, async (stack) => {
    const u = await contributor(stack, [a, b]);
    await force(stack, '/ai/generate-image', 500, 'Internal Server Error', 2);
    const r = await gen(stack, u, {}, { model: 'nai-diffusion-4-5-full' });
    assert.equal(r.status, 500, r.text);
    assert.match(r.text, /Internal Server Error/);
    const stats = await stack.fake.stats();
    assert.equal(calls(stats, a) + calls(stats, b), 2, 'tried on exactly two keys');
    await sleep(100);
    assertUnharmed(await keyOf(stack, u, u.keys[0].id));
    assertUnharmed(await keyOf(stack, u, u.keys[1].id));
    // both keys still serve
    assert.equal((await gen(stack, u, { seed: 2 })).status, 200);
    assert.equal((await gen(stack, u, { seed: 3 })).status, 200);
  });
});

test('a 500 that only one key gives still strikes that key (the other serves)', async () => {
  const [a, b] = [pstToken(), pstToken()];
  await scenario([a, b], {}, async (stack) => {
    const u = await contributor(stack, [a, b]);
    await force(stack, '/ai/generate-image', 500, 'Internal Server Error', 1);
    const r = await gen(stack, u);
    assert.equal(r.status, 200, r.text);
    await sleep(200);
    const ks = [await keyOf(stack, u, u.keys[0].id), await keyOf(stack, u, u.keys[1].id)];
    const struck = ks.filter((k) => k.fail_streak === 1 && k.state === 'cooling');
    const fine = ks.filter((k) => k.fail_streak === 0 && k.state === 'active');
    assert.equal(struck.length, 1, JSON.stringify(ks));
    assert.equal(fine.length, 1, JSON.stringify(ks));
  });
});

test('400 INVALID_CACHE_KEYS is passed through and harms no key', async () => {
  const [a, b] = [pstToken(), pstToken()];
  await scenario([a, b], {}, async (stack) => {
    const u = await contributor(stack, [a, b]);
    await force(stack, '/ai/generate-image', 400, 'INVALID_CACHE_KEYS', 5);
    const r = await gen(stack, u);
    assert.equal(r.status, 400, r.text);
    assert.match(r.text, /INVALID_CACHE_KEYS/);
    const stats = await stack.fake.stats();
    assert.equal(calls(stats, a) + calls(stats, b), 1, 'not retried');
    await sleep(100);
    assertUnharmed(await keyOf(stack, u, u.keys[0].id));
    assertUnharmed(await keyOf(stack, u, u.keys[1].id));
  });
});

test('403 "Model not allowed for user tier" is passed through and harms no key', async () => {
  const [a, b] = [pstToken(), pstToken()];
  await scenario([a, b], {}, async (stack) => {
    const u = await contributor(stack, [a, b]);
    const route = '/oa/v1/chat/completions';
    await force(stack, route, 403, 'Model not allowed for user tier', 5);
    const r = await stack.api('POST', '/v1/novelai' + route, {
      token: u.token, json: { model: 'glm-4-6', messages: [{ role: 'user', content: 'hello' }], max_tokens: 8 },
    });
    assert.equal(r.status, 403, r.text);
    assert.match(r.text, /Model not allowed for user tier/);
    const stats = await stack.fake.stats();
    assert.equal(calls(stats, a, route) + calls(stats, b, route), 1, 'not retried');
    await sleep(100);
    for (const k of u.keys) {
      const now = await keyOf(stack, u, k.id);
      assertUnharmed(now);
      assert.equal(now.last_error, null);
    }
  });
});

// ---- item 3: a V5 allowance that cannot be overspent ----

test('a key whose V5 allowance runs out serves no further free-only V5 image (ledger stays 0)', async () => {
  const [a] = [pstToken()];
  await scenario([a], {}, async (stack) => {
    await stack.fake.addTokens([{ token: a, v5_allowance: 2 }]);
    const u = await contributor(stack, [a]);
    const v5 = { model: 'nai-diffusion-5-full' };
    for (let i = 0; i < 2; i++) {
      const r = await gen(stack, u, { seed: i }, v5);
      assert.equal(r.status, 200, r.text);
    }
    // The key's lease is held until its allowance is read again, so nothing else can reach it
    // meanwhile; once that reading is stored, the guard refuses what NovelAI would bill silently.
    await until('the allowance reading', async () => (await keyOf(stack, u, u.keys[0].id)).v5_allowance.used_up, 10000);
    const r = await gen(stack, u, { seed: 9 }, v5);
    assert.equal(r.status, 402, r.text);
    assert.equal(r.json.error, 'anlas_protection');
    assert.match(r.json.message, /V5 weekly allowance used up/);
    const stats = await stack.fake.stats();
    assert.equal(calls(stats, a), 2, 'the third V5 image never reached NovelAI');
    assert.equal(stats.anlas_spent?.[a] ?? 0, 0, 'the free-only key paid nothing');
    const k = await keyOf(stack, u, u.keys[0].id);
    assert.equal(k.v5_allowance.used_up, true);
    // what stays free on the key still is
    const v45 = await gen(stack, u, { seed: 10 });
    assert.equal(v45.status, 200, v45.text);
    assert.equal((await stack.fake.stats()).anlas_spent?.[a] ?? 0, 0);
  });
});

test('a V5 stream spends the allowance too, and the next V5 request is refused', async () => {
  const [a] = [pstToken()];
  await scenario([a], {}, async (stack) => {
    await stack.fake.addTokens([{ token: a, v5_allowance: 1 }]);
    const u = await contributor(stack, [a]);
    const body = imageBody({ stream: 'msgpack' }, { model: 'nai-diffusion-5-curated' });
    let r = await stack.api('POST', '/v1/novelai/ai/generate-image-stream', { token: u.token, json: body });
    assert.equal(r.status, 200, r.text);
    await until('the allowance reading', async () => (await keyOf(stack, u, u.keys[0].id)).v5_allowance.used_up, 10000);
    r = await stack.api('POST', '/v1/novelai/ai/generate-image-stream', { token: u.token, json: body });
    assert.equal(r.status, 402, r.text);
    assert.equal((await stack.fake.stats()).anlas_spent?.[a] ?? 0, 0);
  });
});

// ---- item 7: contributors see what their keys spent ----

test('each billed request lands on the key that served it: today and 30 days, per key, in logs', async () => {
  const [a] = [pstToken()];
  await scenario([a], {}, async (stack) => {
    const u = await contributor(stack, [a], { allow_paid: true, max_anlas_per_request: 100 });
    // free, then 2 samples (one billed: 20 at 832x1216 28 steps), then 40 steps (27)
    assert.equal((await gen(stack, u, { seed: 1 })).status, 200);
    assert.equal((await gen(stack, u, { seed: 2, n_samples: 2 })).status, 200);
    assert.equal((await gen(stack, u, { seed: 3, steps: 40 })).status, 200);
    const real = (await stack.fake.stats()).anlas_spent?.[a] ?? 0;
    await sleep(200);
    const k = await keyOf(stack, u, u.keys[0].id);
    assert.deepEqual(k.spent, { today_anlas: real, today_paid_requests: 2, days30_anlas: real, days30_paid_requests: 2 });
    assert.equal(real, 47, 'the estimate matches what the fake billed');
    // admins see the same per key
    const admin = await stack.login(stack.admin.username, stack.admin.password);
    const all = await stack.api('GET', '/admin/keys', { token: admin });
    assert.equal(all.status, 200, all.text);
    const list = Array.isArray(all.json) ? all.json : all.json.keys;
    assert.deepEqual(list.find((x) => x.id === k.id).spent, k.spent);
    // the user's own request log shows the estimate per row
    let logs;
    for (let i = 0; i < 50; i++) {
      logs = await stack.api('GET', '/logs', { token: u.token });
      const rows = Array.isArray(logs.json) ? logs.json : logs.json.logs ?? logs.json.items;
      if (rows.length >= 3) { logs = rows; break; }
      await sleep(100);
    }
    assert.deepEqual(logs.map((r) => r.cost).sort((x, y) => x - y), [0, 20, 27]);
  });
});

test('a probe that reads another balance than the pool expected logs a warning naming the key', async () => {
  const [a] = [pstToken()];
  await scenario([a], {}, async (stack) => {
    const u = await contributor(stack, [a], { allow_paid: true, max_anlas_per_request: 100 });
    const id = u.keys[0].id;
    assert.equal((await gen(stack, u, { seed: 2, n_samples: 2 })).status, 200); // estimated 20
    await sleep(200);
    const admin = await stack.login(stack.admin.username, stack.admin.password);
    // the estimate was right: the probe finds 1000 - 20 and says nothing
    let r = await stack.api('POST', `/admin/keys/${id}/check`, { token: admin });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.anlas, 980);
    assert.doesNotMatch(stack.output(), /the pool expected/);
    // NovelAI billed more than estimated (here: the balance moved under the pool)
    assert.equal((await gen(stack, u, { seed: 3, n_samples: 2 })).status, 200);
    await sleep(200);
    await stack.fake.addTokens([{ token: a, anlas: 900 }]);
    r = await stack.api('POST', `/admin/keys/${id}/check`, { token: admin });
    assert.equal(r.status, 200, r.text);
    const line = stack.output().split('\n').find((l) => l.includes('the pool expected'));
    assert.ok(line, 'a warning about the estimate');
    assert.match(line, new RegExp(`key ${id}: the pool expected 960 Anlas \\(20 estimated spent`));
    assert.match(line, /NovelAI reports 900 \(-60\)/);
    assert.match(line, /"level":"warn"/);
  });
});
