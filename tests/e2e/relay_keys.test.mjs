// How the relay treats keys and users: a revoked key becomes invalid and the request is
// still served by another key; 402 exhausts a key; a key its owner is using elsewhere (429
// lock) is skipped; a 5xx cools a key down; a client's 400 passes through and harms nothing;
// the Anlas guard refuses with its reason before any upstream call; per-user rate limits with
// their headers; the in-flight cap; the queue deadline; one usage log per request.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newUser, sleep } from './harness.mjs';
import { pstToken, contributor, imageBody, keyOf, scenario } from './pool_helpers.mjs';

const gen = (stack, user, params, extra, headers) =>
  stack.api('POST', '/v1/novelai/ai/generate-image', { token: user.token, json: imageBody(params, extra), headers });

const calls = (stats, token, route = '/ai/generate-image') => stats.requests[token]?.[route] ?? 0;

test('a revoked key becomes invalid and the request is served by another key', async () => {
  const [a, b] = [pstToken(), pstToken()];
  await scenario([a, b], {}, async (stack) => {
    const u = await contributor(stack, [a, b]);
    await stack.fake.addTokens([{ token: a, behaviour: 'invalid' }]);
    const r = await gen(stack, u);
    assert.equal(r.status, 200, r.text);
    const stats = await stack.fake.stats();
    assert.equal(calls(stats, a), 1);
    assert.equal(calls(stats, b), 1);
    assert.equal((await keyOf(stack, u, u.keys[0].id)).state, 'invalid');
    assert.equal((await keyOf(stack, u, u.keys[1].id)).state, 'active');
  });
});

test('402 exhausts a key; a locked account is skipped without a strike; both retried elsewhere', async () => {
  const [a, b, c] = [pstToken(), pstToken(), pstToken()];
  await scenario([a, b, c], {}, async (stack) => {
    const u = await contributor(stack, [a, b, c]);
    await stack.fake.addTokens([{ token: a, behaviour: 'broke' }, { token: b, behaviour: 'locked' }]);
    const r = await gen(stack, u);
    assert.equal(r.status, 200, r.text);
    const stats = await stack.fake.stats();
    assert.equal(calls(stats, a), 1);
    assert.equal(calls(stats, b), 1);
    assert.equal(calls(stats, c), 1);
    assert.equal(stats.locked_rejections, 1);
    assert.equal((await keyOf(stack, u, u.keys[0].id)).state, 'exhausted');
    const locked = await keyOf(stack, u, u.keys[1].id);
    assert.equal(locked.state, 'cooling');
    assert.equal(locked.fail_streak, 0);
    assert.ok(locked.cooldown_until);
    // an exhausted key stays out: the next requests go to c (b is resting)
    await sleep(50);
    for (let i = 0; i < 2; i++) {
      assert.equal((await gen(stack, u, { seed: i })).status, 200);
    }
    assert.equal(calls(await stack.fake.stats(), a), 1);
  });
});

test('a 5xx cools the key with a strike; a free request is retried on another key', async () => {
  const [a, b] = [pstToken(), pstToken()];
  await scenario([a, b], {}, async (stack) => {
    const u = await contributor(stack, [a, b]);
    await stack.fake.addTokens([{ token: a, behaviour: 'flaky' }]);
    // a serves (its 1st generation), then b (least recently used), then a again: its 2nd fails
    for (let i = 0; i < 3; i++) {
      const r = await gen(stack, u, { seed: i });
      assert.equal(r.status, 200, r.text);
    }
    const stats = await stack.fake.stats();
    assert.equal(stats.responses['500'], 1);
    assert.equal(calls(stats, a), 2);
    assert.equal(calls(stats, b), 2);
    const ka = await keyOf(stack, u, u.keys[0].id);
    assert.equal(ka.state, 'cooling');
    assert.equal(ka.fail_streak, 1);
    assert.match(ka.last_error, /server_error/);
  });
});

test("a client's 400 passes through untouched and harms no key", async () => {
  const [a] = [pstToken()];
  await scenario([a], {}, async (stack) => {
    const u = await contributor(stack, [a]);
    const r = await stack.api('POST', '/v1/novelai/ai/generate-image-stream',
      { token: u.token, json: imageBody({ stream: 'carrier-pigeon' }) });
    assert.equal(r.status, 400);
    assert.match(r.text, /stream/);
    const stats = await stack.fake.stats();
    assert.equal(calls(stats, a, '/ai/generate-image-stream'), 1);
    const k = await keyOf(stack, u, u.keys[0].id);
    assert.equal(k.state, 'active');
    assert.equal(k.fail_streak, 0);
    assert.equal((await gen(stack, u)).status, 200);
  });
});

test('the Anlas guard refuses with its reason before any upstream call', async () => {
  const [free, v5used, paid] = [pstToken(), pstToken(), pstToken()];
  await scenario([free, v5used, paid], {}, async (stack) => {
    await stack.fake.addTokens([{ token: v5used, v5_negative: true }]);
    const u = await contributor(stack, [free]);
    const before = (await stack.fake.stats()).total;
    const cases = [
      [{ steps: 40, width: 1024, height: 1024 }, {}, 'steps 40 > 28'],
      [{ width: 1216, height: 1216 }, {}, '1216x1216 exceeds 1048576 pixels'],
      [{ n_samples: 2 }, {}, 'n_samples 2: samples beyond 1 are billed'],
    ];
    for (const [params, extra, reason] of cases) {
      const r = await gen(stack, u, params, extra);
      assert.equal(r.status, 402, r.text);
      assert.equal(r.json.error, 'anlas_protection');
      assert.ok(r.json.message.includes(reason), r.json.message);
    }
    // V5 on a key whose weekly allowance is used up (the only key left)
    await stack.api('PATCH', `/keys/${u.keys[0].id}`, { token: u.token, json: { enabled: false } });
    const v = await contributor(stack, [v5used]);
    let r = await gen(stack, v, {}, { model: 'nai-diffusion-5-full' });
    assert.equal(r.status, 402);
    assert.match(r.json.message, /V5 weekly allowance used up/);
    assert.equal((await stack.fake.stats()).total, before + 1, 'only the probe of the new key');
    // a key whose owner allows paid use, within a cap
    const p = await contributor(stack, [paid], { allow_paid: true, max_anlas_per_request: 10 });
    r = await gen(stack, p, { steps: 40, width: 1024, height: 1024 });
    assert.equal(r.status, 402);
    assert.match(r.json.message, /allowed per request/);
    await stack.api('PATCH', `/keys/${p.keys[0].id}`, { token: p.token, json: { max_anlas_per_request: 50 } });
    r = await gen(stack, p, { steps: 40, width: 1024, height: 1024 });
    assert.equal(r.status, 200, r.text);
    assert.ok((await stack.fake.stats()).anlas_spent[paid] > 0);
  });
});

test('rate limits: earned by keys, with Retry-After and X-RateLimit headers', async () => {
  const [a] = [pstToken()];
  await scenario([a], { env: { BASE_RPM: '0', PER_KEY_RPM: '2' } }, async (stack) => {
    const u = await contributor(stack, [a]);
    let r = await gen(stack, u);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-ratelimit-limit'), '2');
    assert.equal(r.headers.get('x-ratelimit-remaining'), '1');
    assert.ok(Number(r.headers.get('x-ratelimit-reset')) > 0);
    r = await gen(stack, u);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-ratelimit-remaining'), '0');
    const before = (await stack.fake.stats()).total;
    r = await gen(stack, u);
    assert.equal(r.status, 429);
    assert.equal(r.json.error, 'rate_limited');
    assert.ok(Number(r.headers.get('retry-after')) >= 1);
    assert.equal(r.headers.get('x-ratelimit-remaining'), '0');
    assert.equal((await stack.fake.stats()).total, before);
    const nobody = await newUser(stack, 'leech');
    r = await gen(stack, nobody);
    assert.equal(r.status, 429);
    assert.match(r.json.message, /contribute/);
    r = await stack.api('GET', '/auth/me', { token: nobody.token });
    assert.equal(r.json.rpm_limit, 0);
  });
});

test('a client that asks again the moment it hears the answer finds its slot free', async () => {
  // The pool gives the in-flight slot back before the last answer leaves, so strictly
  // sequential requests of a user allowed one at a time are never refused.
  const [a] = [pstToken()];
  await scenario([a], { env: { USER_MAX_CONCURRENCY: '1', BASE_RPM: '1000' } }, async (stack) => {
    const u = await contributor(stack, [a]);
    const statuses = [];
    for (let i = 0; i < 60; i++) statuses.push((await gen(stack, u, { seed: i })).status);
    assert.deepEqual(statuses, Array(60).fill(200));
  });
});

test('running cap per user (the next request waits), and the queue deadline answers 503 with Retry-After', async () => {
  const [a] = [pstToken()];
  await scenario([a], { latencyMs: 2500, env: { QUEUE_TIMEOUT_SECONDS: '1' } }, async (stack) => {
    const u = await contributor(stack, [a]);
    const other = await newUser(stack, 'waiter');
    const first = gen(stack, u);
    while ((await stack.fake.stats()).in_flight === 0) await sleep(20);
    // u has one healthy key: one request at a time; the next one waits, here past the deadline
    let r = await gen(stack, u, { seed: 2 });
    assert.equal(r.status, 503);
    assert.equal(r.json.error, 'no_key_available');
    // another user waits for the busy key past the deadline
    r = await gen(stack, other, { seed: 3 });
    assert.equal(r.status, 503);
    assert.equal(r.json.error, 'no_key_available');
    assert.ok(Number(r.headers.get('retry-after')) >= 1);
    assert.equal((await first).status, 200);
    assert.equal((await stack.fake.stats()).requests[a]['/ai/generate-image'], 1);
  });
});

test('fair queue: waiting users take turns on one key, each request is logged once', async () => {
  const [a] = [pstToken()];
  await scenario([a], { latencyMs: 150, env: { USER_QUEUE_MAX: '20', USER_MAX_CONCURRENCY: '10', BASE_RPM: '100' } }, async (stack) => {
    await contributor(stack, [a]);
    const users = [await newUser(stack, 'q1'), await newUser(stack, 'q2')];
    const all = [];
    for (let i = 0; i < 4; i++) for (const u of users) all.push(gen(stack, u, { seed: i }));
    const res = await Promise.all(all);
    assert.deepEqual(res.map((r) => r.status), Array(8).fill(200));
    assert.equal((await stack.fake.stats()).peak_concurrency[a], 1);
    // one usage log per relayed request reaches the user's log
    let logs;
    for (let i = 0; i < 50; i++) {
      logs = await stack.api('GET', '/logs?limit=50', { token: users[0].token });
      if (logs.status === 200 && logs.json.length >= 4) break;
      await sleep(100);
    }
    assert.equal(logs.json.filter((l) => l.route === '/ai/generate-image' && l.status === 200).length, 4);
  });
});
