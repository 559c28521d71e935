// Hostile traffic at the gateway (issue #10): HTTP/1.1 only (no HTTP/2 by prior knowledge or
// h2c upgrade), a cap on open connections with thousands of idle ones still leaving /healthz
// and the relay answering, header and idle timeouts, request ids that a client cannot choose
// for another user's request, and no core dumps from the process holding the secrets.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newUser, until, startFake, createDatabase, stackEnv, Proc, NAIPOOL } from './harness.mjs';
import { poolStack, pstToken, contributor, imageBody } from './pool_helpers.mjs';

const key = pstToken();
const CAP = 2600;
const IDLE_SECONDS = 20;
let stack, user;

before(async () => {
  stack = await poolStack({
    tokens: [{ token: key }],
    env: {
      BASE_RPM: '1000', MAX_RPM: '1000', GATEWAY_THREADS: '2',
      GATEWAY_MAX_CONNECTIONS: String(CAP), HTTP_IDLE_TIMEOUT_SECONDS: String(IDLE_SECONDS),
    },
  });
  user = await contributor(stack, [key]);
});
after(async () => { await stack?.stop(); });

const relay = (u, method, path, opts = {}) => stack.api(method, '/v1/novelai' + path, { token: u.token, ...opts });

function curl(args) {
  return new Promise((resolve) => {
    execFile('curl', ['-s', '-o', '/dev/null', '-w', '%{http_version} %{http_code}', '--max-time', '10', ...args],
      (err, stdout) => resolve({ code: err ? err.code : 0, out: stdout.trim() }));
  });
}

test('HTTP/2 by prior knowledge is refused: the gateway speaks HTTP/1.1 only', async () => {
  const r = await curl(['--http2-prior-knowledge', stack.url + '/healthz']);
  assert.ok(!r.out.startsWith('2 '), `HTTP/2 was spoken: ${r.out}`);
  // what the gateway sends back to the preface is an HTTP/1.1 refusal, then it closes
  const answer = await new Promise((resolve, reject) => {
    const s = net.connect(Number(new URL(stack.url).port), '127.0.0.1');
    let got = '';
    s.on('data', (d) => { got += d; });
    s.on('error', reject);
    s.on('close', () => resolve(got));
    s.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
  });
  assert.match(answer, /^HTTP\/1\.1 400 /);
});

test('Upgrade: h2c is ignored: the answer is plain HTTP/1.1', async () => {
  const r = await curl(['--http2', stack.url + '/healthz']);
  assert.equal(r.out, '1.1 200');
  const h = await curl(['--http2', '-H', 'Authorization: Bearer ' + user.token, stack.url + '/v1/novelai/user/subscription']);
  assert.equal(h.out, '1.1 200');
});

/** openIdle opens n TCP connections that send nothing; resolves once all are connected. */
async function openIdle(n, url = stack.url) {
  const socks = [];
  const closed = { count: 0, refusals: 0 };
  await Promise.all(Array.from({ length: n }, () => new Promise((resolve) => {
    const s = net.connect(Number(new URL(url).port), '127.0.0.1');
    s.data = '';
    s.on('data', (d) => { s.data += d; });
    s.on('error', () => {});
    s.on('close', () => {
      closed.count++;
      if (/^HTTP\/1\.1 503 /.test(s.data)) closed.refusals++;
      resolve();
    });
    s.on('connect', resolve);
    socks.push(s);
  })));
  return { socks, closed };
}

test('thousands of idle connections: /healthz and the relay still answer; beyond the cap refused cleanly', async () => {
  const idle = await openIdle(2000);
  try {
    assert.equal(idle.closed.count, 0, 'idle connections below the cap stay open');
    const h = await stack.api('GET', '/healthz');
    assert.equal(h.status, 200);
    const r = await relay(user, 'POST', '/ai/generate-image', { json: imageBody() });
    assert.equal(r.status, 200, r.text);
    // beyond the cap: new connections get a 503 in the error shape and are closed
    const extra = await openIdle(1000);
    await until('connections beyond the cap closed', () => extra.closed.count >= 1000 - (CAP - 2000), 30000);
    assert.ok(extra.closed.refusals > 0, 'refused connections are told why');
    const refused = extra.socks.find((s) => /^HTTP\/1\.1 503 /.test(s.data));
    assert.match(refused.data, /"error":"service_unavailable"/);
    for (const s of extra.socks) s.destroy();
    // the gateway did not spin or stop accepting: once there is room, it answers again
    await until('healthz after the extra connections left', async () => {
      const x = await stack.api('GET', '/healthz').catch(() => null);
      return x && x.status === 200;
    });
    assert.equal(idle.closed.count, 0, 'the idle connections below the cap were left alone');
  } finally {
    for (const s of idle.socks) s.destroy();
  }
  const h = await stack.api('GET', '/healthz');
  assert.equal(h.status, 200);
});

test('an idle connection and a request whose headers never end are closed by the gateway', async () => {
  const port = Number(new URL(stack.url).port);
  const closedBy = (s) => new Promise((resolve) => {
    s.on('error', () => {});
    s.on('close', () => resolve(true));
  });
  const idle = net.connect(port, '127.0.0.1');
  const slow = net.connect(port, '127.0.0.1');
  slow.on('connect', () => slow.write('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: '));
  const trickle = setInterval(() => { if (!slow.destroyed) slow.write('a'); }, 1000);
  try {
    const both = Promise.all([closedBy(idle), closedBy(slow)]);
    const limit = new Promise((resolve) => setTimeout(() => resolve(false), (IDLE_SECONDS * 3) * 1000));
    assert.ok(await Promise.race([both.then(() => true), limit]), 'the gateway closed both');
  } finally {
    clearInterval(trickle);
    idle.destroy();
    slow.destroy();
  }
});

test('a client\'s X-Request-Id is echoed but never names another user\'s request', async () => {
  await stack.fake.reset();
  await stack.fake.config({ latency_ms: 2000 });
  const victim = await newUser(stack, 'victim');
  const attacker = await newUser(stack, 'attacker');
  let filler, victimAnswer;
  try {
    // the only key is busy; the attacker's request then the victim's wait for it, both
    // carrying the same X-Request-Id
    filler = relay(user, 'POST', '/ai/generate-image', { json: imageBody({ seed: 1 }) });
    await until('the filler upstream', async () => (await stack.fake.stats()).in_flight === 1);
    const ac = new AbortController();
    const attack = fetch(stack.url + '/v1/novelai/ai/generate-image', {
      method: 'POST', signal: ac.signal,
      headers: { authorization: 'Bearer ' + attacker.token, 'content-type': 'application/json', 'x-request-id': 'shared-id-1' },
      body: JSON.stringify(imageBody({ seed: 2 })),
    }).catch((e) => e);
    await until('the attacker queued', async () => (await queueDepth()) === 1);
    victimAnswer = relay(victim, 'POST', '/ai/generate-image', {
      json: imageBody({ seed: 3 }), headers: { 'x-request-id': 'shared-id-1' },
    });
    await until('the victim queued', async () => (await queueDepth()) === 2);
    ac.abort(); // the gateway tells the pool the attacker's request is gone
    await attack;
  } finally {
    await stack.fake.config({ latency_ms: 0 });
  }
  assert.equal((await filler).status, 200);
  const v = await victimAnswer;
  assert.equal(v.status, 200, 'the victim\'s request was not aborted: ' + v.text);
  assert.equal(v.headers.get('x-request-id'), 'shared-id-1');
  const own = v.headers.get('x-novelaipool-request-id');
  assert.match(own ?? '', /^[0-9a-f]{16}$/);
  // the usage log names the request by the gateway's id
  const row = await until('the victim\'s usage row', async () => {
    const logs = await stack.api('GET', '/logs', { token: victim.token });
    return logs.json.find((x) => x.request_id === own);
  });
  assert.equal(row.status, 200);
});

/** queueDepth reads the pool's naipool_pool_queue_depth from /metrics. */
async function queueDepth() {
  const m = (await stack.api('GET', '/metrics')).text.match(/^naipool_pool_queue_depth\{[^}]*\} (\d+)$/m);
  return m ? Number(m[1]) : -1;
}

test('the process holding decrypted tokens writes no core dump', async () => {
  const limits = readFileSync(`/proc/${stack.proc.child.pid}/limits`, 'utf8');
  const line = limits.split('\n').find((l) => l.startsWith('Max core file size'));
  assert.match(line, /^Max core file size\s+0\s+0\s+bytes/, line);
});

test('out of file descriptors: new connections are refused and closed, the gateway keeps serving', async () => {
  // a hard limit of 400 open files, far below GATEWAY_MAX_CONNECTIONS' default
  const fake = await startFake();
  const dataDir = mkdtempSync(join(tmpdir(), 'np-data-'));
  const env = stackEnv(createDatabase(), fake.url, { PORT: '0', DATA_DIR: dataDir, GATEWAY_THREADS: '1' });
  const proc = new Proc('naipool', 'prlimit', ['--nofile=400:400', NAIPOOL, 'all'], env);
  try {
    const m = await proc.waitFor(/serving http:\/\/127\.0\.0\.1:(\d+)\//, 60000);
    const url = `http://127.0.0.1:${m[1]}`;
    assert.match(proc.out + proc.err, /ulimit -n is 400/);
    const idle = await openIdle(600, url);
    await until('the connections beyond the descriptors refused', () => idle.closed.count >= 200, 30000);
    assert.ok(idle.closed.refusals > 0, 'refused connections are told why');
    for (const s of idle.socks) s.destroy();
    await until('healthz once descriptors are free', async () => {
      const r = await fetch(url + '/healthz').catch(() => null);
      return r && r.status === 200;
    });
  } finally {
    await proc.stop();
    await fake.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  assert.equal(proc.sanitizerReport(), null);
});
