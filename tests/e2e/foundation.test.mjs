// The foundation: operational endpoints, the error shape, body limits, static files, headers,
// configuration errors and clean shutdown.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import { startStack, NAIPOOL, Proc, createDatabase, sleep } from './harness.mjs';

let stack;
before(async () => { stack = await startStack(); });
after(async () => { await stack?.stop(); });

function assertCommonHeaders(r) {
  assert.match(r.headers.get('x-request-id') || '', /^[A-Za-z0-9._-]+$/);
  assert.ok(r.headers.get('x-novelaipool-node'));
}

test('healthz answers ok with the common headers', async () => {
  const r = await stack.api('GET', '/healthz');
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, { status: 'ok' });
  assertCommonHeaders(r);
});

test('readyz reports auth and pool with their database', async () => {
  const r = await stack.api('GET', '/readyz');
  assert.equal(r.status, 200);
  assert.equal(r.json.checks.auth, 'ok');
  assert.equal(r.json.checks.pool, 'ok');
});

test('a client request id is echoed, a bad one replaced', async () => {
  let r = await stack.api('GET', '/healthz', { headers: { 'x-request-id': 'abc-123' } });
  assert.equal(r.headers.get('x-request-id'), 'abc-123');
  r = await stack.api('GET', '/healthz', { headers: { 'x-request-id': 'bad id<script>' } });
  assert.notEqual(r.headers.get('x-request-id'), 'bad id<script>');
  assertCommonHeaders(r);
});

test('metrics are Prometheus text with request counters and a latency histogram', async () => {
  await stack.api('GET', '/healthz');
  const r = await stack.api('GET', '/metrics');
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^text\/plain/);
  assert.match(r.text, /naipool_http_requests_total\{route="healthz",status="200"\} \d+/);
  assert.match(r.text, /naipool_http_request_duration_seconds_bucket\{route="healthz",le="\+Inf"\} \d+/);
  assert.match(r.text, /naipool_http_in_flight \d+/);
  // malloc's figures (glibc): held from the system is never less than in use
  const inUse = Number(r.text.match(/^naipool_process_heap_bytes\{state="in_use"\} (\d+)$/m)?.[1]);
  const held = Number(r.text.match(/^naipool_process_heap_bytes\{state="held"\} (\d+)$/m)?.[1]);
  assert.ok(Number.isFinite(inUse) && Number.isFinite(held) && held >= inUse, `heap ${inUse} of ${held}`);
});

test('unknown API paths get 404 in the error shape', async () => {
  const r = await stack.api('GET', '/auth/nothing-here');
  assert.equal(r.status, 404);
  assert.equal(r.json.error, 'not_found');
  assert.equal(typeof r.json.message, 'string');
  assertCommonHeaders(r);
});

test('a wrong method gets 405 with Allow', async () => {
  const r = await stack.api('DELETE', '/healthz');
  assert.equal(r.status, 405);
  assert.equal(r.json.error, 'method_not_allowed');
  assert.match(r.headers.get('allow'), /GET/);
});

test('a body over MAX_BODY_BYTES gets 413 in the error shape', async () => {
  // The gateway answers from Content-Length alone, before reading the body, and closes; a raw
  // socket reads that answer whatever happens to the rest of the upload.
  const text = await rawRequest(stack.url,
    'POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
    `Content-Length: ${33 * 1024 * 1024}\r\n\r\n{"username":`);
  assert.match(text, /^HTTP\/1\.1 413 /);
  assert.match(text, /\r\nx-request-id: [0-9a-f]+\r\n/i);
  assert.match(text, /\r\nx-novelaipool-node: \S+\r\n/i);
  const body = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4));
  assert.equal(body.error, 'payload_too_large');
  // A chunked body that grows past the limit is refused the same way.
  const chunk = Buffer.alloc(1024 * 1024, 0x61).toString();
  let req = 'POST /auth/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n';
  for (let i = 0; i < 34; i++) req += (1024 * 1024).toString(16) + '\r\n' + chunk + '\r\n';
  const text2 = await rawRequest(stack.url, req);
  assert.match(text2, /^HTTP\/1\.1 413 /);
});

test('static files: the UI page, no traversal, security headers', async () => {
  let r = await stack.api('GET', '/');
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /text\/html/);
  assert.match(r.headers.get('content-security-policy'), /script-src 'self'/);
  assertCommonHeaders(r);
  // Raw requests so that no client normalises the path first.
  for (const path of ['/../../../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/.git/config',
    '/..%2f..%2fetc/passwd', '/static/../../CMakeLists.txt']) {
    const text = await rawGet(stack.url, path);
    assert.doesNotMatch(text, /root:x:0:0|\[core\]|cmake_minimum_required/, path);
  }
  r = await stack.api('GET', '/no-such-file.js');
  assert.equal(r.status, 404);
  assert.equal(r.json.error, 'not_found');
});

test('relay paths need authentication', async () => {
  const r = await stack.api('POST', '/v1/novelai/ai/generate-image', { json: {} });
  assert.equal(r.status, 401);
  assert.equal(r.json.error, 'unauthorized');
});

function rawGet(base, path) {
  return rawRequest(base, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
}

/** rawRequest writes bytes on a new connection and collects the answer until it closes. */
function rawRequest(base, bytes) {
  const { port } = new URL(base);
  return new Promise((resolveP) => {
    const s = connect(Number(port), '127.0.0.1');
    let data = '';
    s.on('data', (d) => { data += d; });
    s.on('close', () => resolveP(data));
    s.on('error', () => {}); // the server may close while we still write: keep what came
    s.write(bytes);
  });
}

test('invalid configuration stops start-up with one line naming the setting', () => {
  const cases = [
    [{ PORT: 'abc' }, /PORT/],
    [{ ENCRYPTION_KEY: 'too-short' }, /ENCRYPTION_KEY/],
    [{ SECRET_KEY: 'change-me' }, /SECRET_KEY/],
    [{ DATABASE_URL: 'postgresql:///nope?host=/nonexistent&user=x' }, /DATABASE_URL/],
    [{ MULTI_NODE_ENABLED: 'true', SECRET_KEY: '', ENCRYPTION_KEY: '' }, /SECRET_KEY|ENCRYPTION_KEY|DATABASE_URL/],
  ];
  for (const [env, re] of cases) {
    const r = spawnSync(NAIPOOL, ['all'], {
      env: { ...stack.env, DATA_DIR: '/tmp/np-bad-config', PORT: '0', ...env },
      encoding: 'utf8', timeout: 30000,
    });
    assert.notEqual(r.status, 0, JSON.stringify(env));
    assert.match(r.stderr, re);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('naipool:'));
    assert.equal(lines.length, 1, r.stderr);
  }
});

test('config check masks secrets and keygen prints a usable key', () => {
  const r = spawnSync(NAIPOOL, ['config', 'check'], { env: stack.env, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^SECRET_KEY\s+\*{8}/m);
  assert.ok(!r.stdout.includes(stack.env.SECRET_KEY));
  assert.ok(!r.stdout.includes(stack.env.ENCRYPTION_KEY));
  const k = spawnSync(NAIPOOL, ['keygen'], { encoding: 'utf8' });
  assert.equal(k.status, 0);
  assert.equal(Buffer.from(k.stdout.trim(), 'base64url').length, 32);
  const check = spawnSync(NAIPOOL, ['config', 'check'], {
    env: { ...stack.env, ENCRYPTION_KEY: k.stdout.trim() }, encoding: 'utf8' });
  assert.equal(check.status, 0);
});

test('SIGINT and SIGTERM stop the suite cleanly', async () => {
  for (const sig of ['SIGINT', 'SIGTERM']) {
    const env = { ...stack.env, DATABASE_URL: createDatabase(), PORT: '0' };
    const p = new Proc('naipool', NAIPOOL, ['all'], env);
    await p.waitFor(/serving http:\/\/127\.0\.0\.1:(\d+)\//, 60000);
    const r = await p.stop(sig, 15000);
    assert.equal(r.code, 0, `${sig}: ${JSON.stringify(r)} ${p.err.slice(-2000)}`);
    assert.equal(p.sanitizerReport(), null);
  }
});

test('every service of the process, the gateway included, shows in /admin/nodes', async () => {
  const token = await stack.login(stack.admin.username, stack.admin.password);
  const end = Date.now() + 20000;
  let services = [];
  while (Date.now() < end) {
    const r = await stack.api('GET', '/admin/nodes', { token });
    assert.equal(r.status, 200);
    services = r.json.nodes.map((n) => n.service);
    if (['gateway', 'auth', 'pool', 'health', 'audit'].every((s) => services.includes(s))) break;
    await new Promise((res) => setTimeout(res, 200));
  }
  for (const s of ['gateway', 'auth', 'pool', 'health', 'audit']) assert.ok(services.includes(s), s);
});
