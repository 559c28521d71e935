// /readyz is answered from a cache of at most one second (issue 11 item 7): however many
// /readyz requests arrive, sequential or all at once, each of auth and pool pings its database
// at most once per second. The services count their pings
// (naipool_<svc>_ping_db_checks_total), read here through an uncached /metrics.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, sleep } from './harness.mjs';

let stack;
before(async () => {
  stack = await startStack({ env: { METRICS_CACHE_SECONDS: '0' } });
});
after(async () => {
  await stack?.stop();
});

async function pings() {
  const r = await stack.api('GET', '/metrics');
  assert.equal(r.status, 200, r.text);
  const of = (svc) => {
    const m = r.text.match(new RegExp(`^naipool_${svc}_ping_db_checks_total\\{[^}]*\\} (\\d+)$`, 'm'));
    assert.ok(m, `naipool_${svc}_ping_db_checks_total missing`);
    return Number(m[1]);
  };
  return { auth: of('auth'), pool: of('pool') };
}

/** check runs burst() and asserts each service pinged at most once per started second. */
async function check(burst) {
  const start = await pings();
  const t0 = Date.now();
  const answers = await burst();
  const seconds = Math.ceil((Date.now() - t0) / 1000);
  const end = await pings();
  for (const r of answers) assert.equal(r.status, 200, r.text);
  for (const svc of ['auth', 'pool']) {
    const n = end[svc] - start[svc];
    assert.ok(n <= seconds + 1, `${svc}: ${n} database pings for ${answers.length} /readyz in ${seconds} s`);
  }
  return answers.length;
}

test('sequential /readyz calls share one database ping per second', async () => {
  await sleep(1100); // the cache filled by startStack's own /readyz has expired
  const n = await check(async () => {
    const out = [];
    for (let i = 0; i < 40; i++) out.push(await stack.api('GET', '/readyz'));
    return out;
  });
  assert.equal(n, 40);
});

test('concurrent /readyz calls at a cache miss share one database ping', async () => {
  await sleep(1100);
  const n = await check(() => Promise.all(Array.from({ length: 40 }, () => stack.api('GET', '/readyz'))));
  assert.equal(n, 40);
});
