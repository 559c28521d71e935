// Two pool instances behind one gateway, every service its own process on one database:
// streams stay with the instance that opened them, and one key is shared across instances
// without ever running two generations at once (a release on one instance wakes a waiter on
// the other through LISTEN/NOTIFY).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, newUser, pstToken, psql, sleep } from './harness.mjs';
import { imageBody, sha256, direct } from './pool_helpers.mjs';

const token = pstToken();

/** The fake names each generation (fake-N): blank those so two answers compare. */
function sameGen(buf) {
  return Buffer.from(buf.toString('latin1').replace(/fake-(\d+)/g, (m, n) => 'fake-' + '0'.repeat(n.length)), 'latin1');
}
let cluster;
let user;

before(async () => {
  cluster = await startCluster({
    pools: 2, tokens: [{ token, tier: 3, anlas: 100000 }], latencyMs: 400, eventDelayMs: 20,
    env: { AUTH_REGISTER_RATE_LIMIT_PER_MINUTE: '1000', AUTH_LOGIN_RATE_LIMIT_PER_MINUTE: '1000',
      BASE_RPM: '1000', BASE_RPM_CONTRIBUTOR_ONLY: 'false', MAX_RPM: '1000', USER_MAX_CONCURRENCY: '8' },
  });
  user = await newUser(cluster, 'multi');
  const r = await cluster.api('POST', '/keys', { token: user.token, json: { token } });
  assert.equal(r.status, 201, r.text);
  const kr = await cluster.api('POST', '/client-keys', { token: user.token, json: { name: 'cli' } });
  assert.equal(kr.status, 201, kr.text);
  user.relayKey = kr.json.key;
});
after(async () => { await cluster?.stop(); });

test('streams opened on either instance reach the client whole', async () => {
  const body = imageBody({ stream: 'msgpack' });
  const ref = await direct(cluster.fake, 'POST', '/ai/generate-image-stream', token, { json: body });
  assert.equal(ref.status, 200);
  // Round robin over two instances: four requests in a row visit both.
  for (let i = 0; i < 4; i++) {
    const r = await cluster.api('POST', '/v1/novelai/ai/generate-image-stream',
      { token: user.relayKey, json: body });
    assert.equal(r.status, 200, r.text.slice(0, 200));
    assert.equal(sha256(sameGen(r.bytes)), sha256(sameGen(ref.bytes)));
  }
});

test('one key shared by two instances: every request served, never two at once', async () => {
  await cluster.fake.reset();
  const n = 6;
  const results = await Promise.all(Array.from({ length: n }, () =>
    cluster.api('POST', '/v1/novelai/ai/generate-image', { token: user.relayKey, json: imageBody() })));
  for (const r of results) assert.equal(r.status, 200, r.text.slice(0, 200));
  const stats = await cluster.fake.stats();
  assert.equal(stats.lock_violations, 0);
  assert.ok((stats.peak_concurrency[token] || 0) <= 1);
  // Both instances served some of them (the gateway spreads relay.open round robin): the
  // usage rows name the node that relayed each request.
  const end = Date.now() + 20000;
  let nodes = [];
  while (Date.now() < end) {
    nodes = psql(cluster.db, "SELECT DISTINCT node FROM usage_logs WHERE route = '/ai/generate-image'").map((r) => r[0]);
    if (nodes.includes('pool-1') && nodes.includes('pool-2')) break;
    await sleep(200);
  }
  assert.ok(nodes.includes('pool-1') && nodes.includes('pool-2'), JSON.stringify(nodes));
});

test('/metrics asks every pool instance and names each family once', async () => {
  const r = await cluster.api('GET', '/metrics');
  assert.equal(r.status, 200);
  for (const node of ['pool-1', 'pool-2']) {
    assert.match(r.text, new RegExp(`^naipool_pool_queue_depth\\{node="${node}"\\} \\d+$`, 'm'), node);
    assert.match(r.text, new RegExp(`^naipool_pool_keys\\{node="${node}",state="active"\\} 1$`, 'm'), node);
  }
  // the exposition format: one HELP and one TYPE per family, its samples together
  const lines = r.text.split('\n').filter((l) => l !== '');
  const declared = lines.filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2]);
  assert.equal(new Set(declared).size, declared.length, 'a family declared twice');
  const helps = lines.filter((l) => l.startsWith('# HELP ')).map((l) => l.split(' ')[2]);
  assert.equal(new Set(helps).size, helps.length, 'a HELP given twice');
  const seen = new Set();
  let last = null;
  for (const l of lines.filter((x) => !x.startsWith('#'))) {
    let fam = l.split(/[{ ]/)[0];
    fam = declared.find((d) => fam === d || fam === d + '_bucket' || fam === d + '_sum' || fam === d + '_count') ?? fam;
    if (fam !== last) {
      assert.ok(!seen.has(fam), `samples of ${fam} are split`);
      seen.add(fam);
      last = fam;
    }
  }
  for (const svc of ['auth', 'audit', 'health']) {
    assert.match(r.text, new RegExp(`^naipool_${svc}_\\w+\\{node="${svc}-1"`, 'm'), svc);
  }
});

test('an instance that dies takes no request with it: opens move to the living one', async () => {
  await cluster.procs['pool-2'].stop('SIGKILL');
  for (let i = 0; i < 4; i++) {
    const r = await cluster.api('POST', '/v1/novelai/ai/generate-image',
      { token: user.relayKey, json: imageBody() });
    assert.equal(r.status, 200, r.text.slice(0, 200));
  }
});
