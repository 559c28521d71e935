// /metrics through the gateway carries the pool's own figures: queue depth, open streams,
// leases held (per instance) and the contributed keys by state.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { until } from './harness.mjs';
import { poolStack, pstToken, contributor, imageBody } from './pool_helpers.mjs';

const [good, bad] = [pstToken(), pstToken()];
let stack, user;

before(async () => {
  stack = await poolStack({
    tokens: [{ token: good }, { token: bad, behaviour: 'invalid' }],
    env: { BASE_RPM: '1000', MAX_RPM: '1000', USER_MAX_CONCURRENCY: '4' },
  });
  user = await contributor(stack, [good]);
  const r = await stack.api('POST', '/keys', { token: user.token, json: { token: bad } });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.state, 'invalid');
});
after(async () => { await stack?.stop(); });

/** figure reads one sample of the pool's metrics ({labels} matched as given). */
async function figure(name, labels = '') {
  const r = await stack.api('GET', '/metrics');
  assert.equal(r.status, 200);
  const re = new RegExp(`^${name}\\{node="[^"]*"${labels}\\} (\\d+)$`, 'm');
  const m = r.text.match(re);
  return m ? Number(m[1]) : undefined;
}

test('/metrics shows the pool\'s queue, streams, leases and keys by state', async () => {
  assert.equal(await figure('naipool_pool_keys', ',state="active"'), 1);
  assert.equal(await figure('naipool_pool_keys', ',state="invalid"'), 1);
  assert.equal(await figure('naipool_pool_keys', ',state="disabled"'), 0);
  assert.equal(await figure('naipool_pool_queue_depth'), 0);
  assert.equal(await figure('naipool_pool_streams_open'), 0);
  assert.equal(await figure('naipool_pool_leases_held'), 0);
  // a generation in progress holds its key's lease; a second one waits in the queue
  await stack.fake.config({ latency_ms: 3000 });
  const gen = () => stack.api('POST', '/v1/novelai/ai/generate-image', { token: user.token, json: imageBody() });
  const first = gen();
  await until('the lease of the running generation', async () => (await figure('naipool_pool_leases_held')) === 1);
  const second = gen();
  await until('the waiting request', async () => (await figure('naipool_pool_queue_depth')) === 1);
  await stack.fake.config({ latency_ms: 0 });
  assert.equal((await first).status, 200);
  assert.equal((await second).status, 200);
  await until('the leases released', async () => (await figure('naipool_pool_leases_held')) === 0);
});
