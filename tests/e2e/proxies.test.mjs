// Egress proxies: CRUD with credentials sealed and masked, health probes through a CONNECT
// (latency, failures, cooldown), and proxy_pool mode sending a key's probes and relayed
// requests through its sticky proxy. The proxy is a tiny CONNECT/HTTP proxy on 127.0.0.1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect } from 'node:net';
import http from 'node:http';
import { startStack, newUser, pstToken, psql, sleep, until } from './harness.mjs';

/** startProxy: CONNECT tunnels and absolute-form HTTP requests, with Basic credentials. */
function startProxy(user, pass) {
  const seen = { connect: [], http: [], denied: 0 };
  const want = 'Basic ' + Buffer.from(`${user}:${pass}`).toString('base64');
  const server = http.createServer((req, res) => {
    if (req.headers['proxy-authorization'] !== want) { seen.denied++; res.writeHead(407); res.end(); return; }
    seen.http.push(req.url);
    const u = new URL(req.url);
    const headers = { ...req.headers };
    delete headers['proxy-authorization'];
    const up = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method: req.method, headers },
      (ur) => { res.writeHead(ur.statusCode, ur.headers); ur.pipe(res); });
    up.on('error', () => { res.writeHead(502); res.end(); });
    req.pipe(up);
  });
  server.on('connect', (req, sock, head) => {
    if (req.headers['proxy-authorization'] !== want) {
      seen.denied++; sock.end('HTTP/1.1 407 Proxy Authentication Required\r\n\r\n'); return;
    }
    seen.connect.push(req.url);
    const [host, port] = req.url.split(':');
    if (host !== '127.0.0.1') { sock.end('HTTP/1.1 403 Forbidden\r\n\r\n'); return; }
    const up = connect(Number(port), host, () => {
      sock.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) up.write(head);
      up.pipe(sock); sock.pipe(up);
    });
    up.on('error', () => sock.destroy());
    sock.on('error', () => up.destroy());
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r({ server, seen, port: server.address().port })));
}

test('proxies: CRUD, masking, probes, failover state and proxy_pool egress', async () => {
  const token = pstToken();
  const px = await startProxy('alice', 's3cr3t-pw');
  const stack = await startStack({
    tokens: [{ token }],
    env: {
      PROXY_CHECK_INTERVAL_SECONDS: '1', PROXY_FAIL_THRESHOLD: '2',
      PROXY_COOLDOWN_NETWORK_SECONDS: '1', PROXY_COOLDOWN_MAX_SECONDS: '2', HEALTH_PROBE_TIMEOUT_SECONDS: '2',
    },
  });
  try {
    const admin = await stack.login(stack.admin.username, stack.admin.password);
    const call = (m, p, json) => stack.api(m, p, { token: admin, json });

    // Bad URLs: 400 with a sentence, nothing stored.
    for (const url of ['ftp://127.0.0.1:1', 'http://', 'http://:8080', '127.0.0.1:3128', 'socks4://h:1', 'http://h:99999', 'http://h/x']) {
      const r = await call('POST', '/admin/proxies', { url });
      assert.equal(r.status, 400, url + ' ' + r.text);
      assert.ok(r.json.message.length > 10);
    }
    assert.equal((await call('POST', '/admin/proxies', { url: 'http://h:1', port: 3 })).status, 400);
    assert.deepEqual((await call('GET', '/admin/proxies')).json, []);

    // Create: credentials sealed at rest, masked in every answer.
    const url = `http://alice:s3cr3t-pw@127.0.0.1:${px.port}`;
    let r = await call('POST', '/admin/proxies', { url, note: 'dc1' });
    assert.equal(r.status, 201, r.text);
    const id = r.json.id;
    assert.equal(r.json.url, `http://alice:****@127.0.0.1:${px.port}`);
    assert.equal(r.json.state, 'pending');
    assert.ok(!r.text.includes('s3cr3t'));
    const [row] = psql(stack.db, `SELECT url_plain IS NULL, url_sealed IS NOT NULL, position('s3cr3t' in encode(url_sealed, 'escape')) FROM proxies`);
    assert.deepEqual(row, ['t', 't', '0']);

    // Health probes it with a CONNECT to the image host.
    const up = await until('the proxy active', async () => {
      const l = (await call('GET', '/admin/proxies')).json;
      return l[0].state === 'active' && typeof l[0].latency_ms === 'number' ? l[0] : null;
    });
    assert.equal(up.failures, 0);
    const fakePort = new URL(stack.fake.url).port;
    assert.ok(px.seen.connect.includes(`127.0.0.1:${fakePort}`), JSON.stringify(px.seen));
    assert.equal(px.seen.denied, 0);

    // proxy_pool mode: the key's probes and its relayed requests leave through the proxy.
    r = await call('PUT', '/admin/config', { UPSTREAM_PROXY_MODE: 'proxy_pool' });
    assert.equal(r.status, 200, r.text);
    const u = await newUser(stack, 'contrib');
    r = await stack.api('POST', '/keys', { token: u.token, json: { token } });
    assert.equal(r.status, 201, r.text);
    const keyId = r.json.id;
    const before = px.seen.connect.length;
    r = await call('POST', `/admin/keys/${keyId}/check`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.state, 'active');
    assert.ok(px.seen.connect.length > before, 'the probe went through the proxy');
    assert.deepEqual(psql(stack.db, `SELECT proxy_id FROM proxy_assignments WHERE key_id = ${keyId}`), [[String(id)]]);
    const ck = await stack.api('POST', '/client-keys', { token: u.token, json: { name: 'k' } });
    const viaHttp = px.seen.http.length + px.seen.connect.length;
    await sleep(2500); // the pool refreshes its copy of the proxies every 2 s

    r = await stack.api('GET', '/v1/novelai/ai/generate-image/suggest-tags?model=nai-diffusion-3&prompt=cat', { token: ck.json.key });
    assert.equal(r.status, 200, r.text + stack.output().split('\n').filter((l) => /proxy|pool/.test(l)).slice(-15).join('\n'));
    assert.ok(px.seen.http.length + px.seen.connect.length > viaHttp, 'the relay went through the proxy');
    assert.equal((await call('GET', '/admin/proxies')).json[0].keys, 1);

    // The proxy dies: failures are recorded and it cools down; no request leaves directly.
    await new Promise((res) => { px.server.close(res); px.server.closeAllConnections?.(); });
    const down = await until('the proxy cooling', async () => {
      const l = (await call('GET', '/admin/proxies')).json;
      return l[0].state === 'cooling' ? l[0] : null;
    });
    assert.ok(down.failures >= 2);
    assert.ok(down.recent_failures.length >= 2);
    assert.equal(down.recent_failures[0].class, 'network');
    assert.ok(down.cooldown_until);
    assert.equal(down.latency_ms, null);

    // PATCH and DELETE.
    assert.equal((await call('PATCH', `/admin/proxies/${id}`, { url: 'gopher://x' })).status, 400);
    assert.equal((await call('PATCH', `/admin/proxies/${id}`, { enabled: 'no' })).status, 400);
    r = await call('PATCH', `/admin/proxies/${id}`, { enabled: false });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.state, 'disabled');
    r = await call('PATCH', `/admin/proxies/${id}`, { url: `socks5://127.0.0.1:${px.port}`, enabled: true });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.url, `socks5://127.0.0.1:${px.port}`);
    assert.equal(r.json.has_credentials, false);
    assert.equal((await call('PATCH', '/admin/proxies/999999', { note: 'x' })).status, 404);
    assert.equal((await call('DELETE', `/admin/proxies/${id}`)).status, 204);
    assert.equal((await call('DELETE', `/admin/proxies/${id}`)).status, 404);
    assert.deepEqual((await call('GET', '/admin/proxies')).json, []);
    assert.equal((await stack.api('GET', '/admin/proxies', { token: u.token })).status, 403);
    assert.ok(!stack.output().includes('s3cr3t'), 'the proxy password never reaches a log line');
    const ev = psql(stack.db, `SELECT count(*) FROM audit_events WHERE type LIKE 'proxy.%' AND details::text LIKE '%s3cr3t%'`);
    assert.equal(ev[0][0], '0');
  } finally {
    await stack.stop();
    px.server.close();
  }
});

test('a key whose proxy dies moves to another healthy proxy at once, without waiting for health', async () => {
  const token = pstToken();
  const pxs = [await startProxy('u', 'p1-secret'), await startProxy('u', 'p1-secret')];
  // health probes each new proxy once, then not again for a day: only the relay can notice
  const stack = await startStack({ tokens: [{ token }], env: { PROXY_CHECK_INTERVAL_SECONDS: '86400' } });
  try {
    const admin = await stack.login(stack.admin.username, stack.admin.password);
    const call = (m, p, json) => stack.api(m, p, { token: admin, json });
    const ids = [];
    for (const px of pxs) {
      const r = await call('POST', '/admin/proxies', { url: `http://u:p1-secret@127.0.0.1:${px.port}` });
      assert.equal(r.status, 201, r.text);
      ids.push(r.json.id);
    }
    await until('both proxies active', async () =>
      (await call('GET', '/admin/proxies')).json.every((p) => p.state === 'active'));
    assert.equal((await call('PUT', '/admin/config', { UPSTREAM_PROXY_MODE: 'proxy_pool' })).status, 200);
    const u = await newUser(stack, 'contrib');
    let r = await stack.api('POST', '/keys', { token: u.token, json: { token } });
    assert.equal(r.status, 201, r.text);
    const keyId = r.json.id;
    const gen = () => stack.api('GET', '/v1/novelai/ai/generate-image/suggest-tags?model=nai-diffusion-3&prompt=cat', { token: u.token });
    await until('a relayed request through the proxy pool', async () => (await gen()).status === 200);
    const assigned = await until('the key\'s proxy recorded', () => {
      const rows = psql(stack.db, `SELECT proxy_id FROM proxy_assignments WHERE key_id = ${keyId}`);
      return rows.length ? Number(rows[0][0]) : null;
    });
    const dead = pxs[ids.indexOf(assigned)];
    const alive = pxs[1 - ids.indexOf(assigned)];
    await new Promise((res) => { dead.server.close(res); dead.server.closeAllConnections?.(); });
    const before = alive.seen.http.length + alive.seen.connect.length;

    r = await gen();
    assert.equal(r.status, 200, r.text);
    assert.ok(alive.seen.http.length + alive.seen.connect.length > before, 'the request went through the other proxy');
    r = await gen();
    assert.equal(r.status, 200, r.text);
    // health has not probed the dead proxy again: the relay moved the key on its own
    const dp = (await call('GET', '/admin/proxies')).json.find((p) => p.id === assigned);
    assert.equal(dp.state, 'active');
    const k = (await stack.api('GET', '/keys', { token: u.token })).json.find((x) => x.id === keyId);
    assert.equal(k.state, 'active', 'the key is not blamed for its proxy');
    assert.equal(k.fail_streak, 0);
  } finally {
    await stack.stop();
    for (const px of pxs) px.server.close();
  }
});
