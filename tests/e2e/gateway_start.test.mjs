// A gateway started before its back-ends (a restart behind a proxy, a pod rescheduled) listens
// only once it is connected to auth and to a pool instance: until then its port refuses, so a
// proxy sends its requests to another gateway instead of getting 503 "unavailable" from one
// still dialling. The first requests it takes are answered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { startCluster, newUser, sleep } from './harness.mjs';

/** Whether a TCP connection to 127.0.0.1:port is accepted. */
function accepts(port) {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

test('a gateway started before its back-ends listens once they are connected, and its first requests succeed', async () => {
  let alone;
  const cluster = await startCluster({
    pools: 1,
    env: { GATEWAY_CONNECT_WAIT_SECONDS: '60', AUTH_REGISTER_RATE_LIMIT_PER_MINUTE: '1000' },
    gatewayFirst: async (port, gw) => {
      await sleep(1500); // far past a gateway's start-up, with nothing to connect to
      alone = { accepts: await accepts(port), serving: /serving http/.test(gw.out) };
    },
  });
  try {
    assert.deepEqual(alone, { accepts: false, serving: false }, 'the gateway listened with no back-end connected');
    // the very first requests after it listens: a sign-in (auth) and a key list (pool)
    const user = await newUser(cluster, 'early');
    const keys = await cluster.api('GET', '/keys', { token: user.token });
    assert.equal(keys.status, 200, keys.text);
  } finally {
    await cluster.stop();
  }
});
