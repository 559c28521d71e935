// Key uploads (issue 10 item 8): the subscription probe of POST /keys runs on a bounded pool
// of its own (KEY_PROBE_WORKERS, KEY_PROBE_QUEUE_MAX), so slow probes do not hold the rpc
// workers that relays and the other routes need; uploads per user and hour are limited
// (KEY_UPLOADS_PER_HOUR, failures counted); in proxy_pool mode the probe leaves through the
// proxy the key is assigned. Fingerprints no longer need SECRET_KEY (issue 11): see
// key_fingerprints.test.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { connect } from 'node:net';
import { startStack, newUser, pstToken, psql, until } from './harness.mjs';
import { contributor, imageBody } from './pool_helpers.mjs';

test('slow probes run apart: a relayed request and GET /keys answer while they wait', async () => {
  const relayKey = pstToken();
  const slow = Array.from({ length: 4 }, () => pstToken());
  // Two rpc workers only: before the probe had threads of its own, two slow probes held both.
  const stack = await startStack({
    tokens: [{ token: relayKey }, ...slow.map((token) => ({ token }))],
    env: { POOL_RPC_WORKERS: '2', KEY_PROBE_WORKERS: '2', KEY_PROBE_QUEUE_MAX: '1', KEY_UPLOADS_PER_HOUR: '0',
      RPC_TIMEOUT_MS: '30000' },
  });
  try {
    const user = await contributor(stack, [relayKey]);
    await stack.fake.config({ subscription_latency_ms: 6000 });
    const uploader = await newUser(stack, 'slow');
    let probed = 0; // uploads answered after their probe (not refused at once)
    const uploads = slow.map((token) => stack.api('POST', '/keys', { token: uploader.token, json: { token } })
      .then((r) => { if (r.status !== 503) probed++; return r; }));
    // Two probes running, one waiting, the fourth refused at once: 503 with Retry-After.
    const stats = await until('two probes at the fake', async () => {
      const s = await stack.fake.stats();
      return s.in_flight >= 2 ? s : null;
    });
    assert.equal(stats.in_flight, 2, 'at most KEY_PROBE_WORKERS probes at once');
    const list = await stack.api('GET', '/keys', { token: user.token });
    assert.equal(list.status, 200, list.text);
    const gen = await stack.api('POST', '/v1/novelai/ai/generate-image', { token: user.token, json: imageBody() });
    assert.equal(gen.status, 200, gen.text);
    assert.equal(probed, 0, 'GET /keys and the relay waited for a probe');
    const all = await Promise.all(uploads);
    const statuses = all.map((r) => r.status).sort();
    assert.deepEqual(statuses, [201, 201, 201, 503], all.map((r) => r.text).join('\n'));
    const refused = all.find((r) => r.status === 503);
    assert.equal(refused.json.error, 'service_unavailable');
    assert.ok(Number(refused.headers.get('retry-after')) > 0);
    assert.equal(psql(stack.db, 'SELECT count(*) FROM upstream_keys')[0][0], '4');
    const m = await stack.api('GET', '/metrics');
    assert.match(m.text, /^naipool_pool_key_probes\{node="[^"]*",stage="running"\} 0$/m);
  } finally {
    await stack.stop();
  }
});

test('the 11th upload in an hour is 429 with Retry-After; failed uploads count too', async () => {
  const good = Array.from({ length: 6 }, () => pstToken());
  const tablets = Array.from({ length: 2 }, () => pstToken());
  const last = pstToken();
  const stack = await startStack({
    tokens: [...good.map((token) => ({ token })), ...tablets.map((token) => ({ token, tier: 2 })), { token: last }],
  });
  try {
    const u = await newUser(stack, 'many');
    const other = await newUser(stack, 'other');
    const statuses = [];
    for (const token of good.slice(0, 5)) statuses.push((await stack.api('POST', '/keys', { token: u.token, json: { token } })).status);
    // a key already in the pool and keys that are not Opus: refused, and counted
    for (const token of [good[0], good[1], ...tablets]) statuses.push((await stack.api('POST', '/keys', { token: u.token, json: { token } })).status);
    // a malformed body is refused before the count
    statuses.push((await stack.api('POST', '/keys', { token: u.token, json: { token: 'pst-short' } })).status);
    assert.deepEqual(statuses, [201, 201, 201, 201, 201, 409, 409, 400, 400, 400]);
    statuses.length = 0;
    statuses.push((await stack.api('POST', '/keys', { token: u.token, json: { token: good[5] } })).status);
    assert.deepEqual(statuses, [201], 'the 10th counted upload');
    const before = (await stack.fake.stats()).requests[last]?.['/user/subscription'] ?? 0;
    const r = await stack.api('POST', '/keys', { token: u.token, json: { token: last } });
    assert.equal(r.status, 429, r.text);
    assert.equal(r.json.error, 'rate_limited');
    assert.match(r.json.message, /10 key uploads an hour/);
    const retry = Number(r.headers.get('retry-after'));
    assert.ok(retry > 3000 && retry <= 3600, `Retry-After ${retry}`);
    assert.equal((await stack.fake.stats()).requests[last]?.['/user/subscription'] ?? 0, before, 'no probe for a refused upload');
    assert.equal(psql(stack.db, `SELECT count(*) FROM upstream_keys WHERE owner_id = (SELECT id FROM users WHERE username = '${u.username}')`)[0][0], '6');
    // another user has an hour of their own
    const o = await stack.api('POST', '/keys', { token: other.token, json: { token: last } });
    assert.equal(o.status, 201, o.text);
  } finally {
    await stack.stop();
  }
});

/** startProxy: a CONNECT proxy on 127.0.0.1 that counts the tunnels carrying a given token. */
function startProxy() {
  const seen = { connect: 0, carrying: new Map() };
  const server = http.createServer((req, res) => { res.writeHead(405); res.end(); });
  server.on('connect', (req, sock, head) => {
    seen.connect++;
    const [host, port] = req.url.split(':');
    if (host !== '127.0.0.1') { sock.end('HTTP/1.1 403 Forbidden\r\n\r\n'); return; }
    const up = connect(Number(port), host, () => {
      sock.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) up.write(head);
      up.pipe(sock);
      sock.on('data', (d) => {
        const m = d.toString('latin1').match(/Bearer (pst-[A-Za-z0-9_-]+)/);
        if (m) seen.carrying.set(m[1], (seen.carrying.get(m[1]) ?? 0) + 1);
        up.write(d);
      });
    });
    up.on('error', () => sock.destroy());
    sock.on('error', () => up.destroy());
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r({ server, seen, port: server.address().port })));
}

test('in proxy_pool mode the upload probe leaves through the key\'s proxy, and never directly', async () => {
  const token = pstToken();
  const second = pstToken();
  const px = await startProxy();
  const stack = await startStack({
    tokens: [{ token }, { token: second }],
    env: { PROXY_CHECK_INTERVAL_SECONDS: '1', PROXY_FAIL_THRESHOLD: '1', PROXY_COOLDOWN_NETWORK_SECONDS: '60',
      HEALTH_PROBE_TIMEOUT_SECONDS: '2', HEALTH_CHECK_INTERVAL_SECONDS: '3600' },
  });
  try {
    const admin = await stack.login(stack.admin.username, stack.admin.password);
    const call = (m, p, json) => stack.api(m, p, { token: admin, json });
    let r = await call('POST', '/admin/proxies', { url: `http://127.0.0.1:${px.port}` });
    assert.equal(r.status, 201, r.text);
    const proxyId = r.json.id;
    await until('the proxy active', async () => (await call('GET', '/admin/proxies')).json[0].state === 'active');
    assert.equal((await call('PUT', '/admin/config', { UPSTREAM_PROXY_MODE: 'proxy_pool' })).status, 200);
    const u = await newUser(stack, 'contrib');
    r = await stack.api('POST', '/keys', { token: u.token, json: { token } });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.state, 'active');
    assert.equal(px.seen.carrying.get(token), 1, 'the probe went through the proxy');
    assert.equal((await stack.fake.stats()).requests[token]['/user/subscription'], 1);
    const keyId = r.json.id;
    await until('the key\'s proxy recorded', () =>
      psql(stack.db, `SELECT proxy_id FROM proxy_assignments WHERE key_id = ${keyId}`)[0]?.[0] === String(proxyId));

    // The proxy dies: once health has seen it, an upload is refused rather than probed directly.
    await new Promise((res) => { px.server.close(res); px.server.closeAllConnections?.(); });
    await until('the proxy cooling', async () => (await call('GET', '/admin/proxies')).json[0].state !== 'active');
    r = await stack.api('POST', '/keys', { token: u.token, json: { token: second } });
    assert.equal(r.status, 503, r.text);
    assert.equal(r.json.error, 'service_unavailable');
    assert.ok(Number(r.headers.get('retry-after')) > 0);
    assert.equal((await stack.fake.stats()).requests[second]?.['/user/subscription'] ?? 0, 0, 'nothing went directly');
    assert.equal(psql(stack.db, 'SELECT count(*) FROM upstream_keys')[0][0], '1');
  } finally {
    await stack.stop();
    px.server.close();
  }
});
