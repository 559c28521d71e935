// The live part of `make deploy-test` (scripts/deploy-test starts the stack and the fake, then
// runs this): a smoke through nginx on HTTPS (register, sign in, contribute a key, a relayed
// image, a streamed image, the rows in the admin log) and then the faults under a steady load
// of generations, each checked and printed on one line with its figures:
//   pool    SIGKILL one of the two pool containers: requests keep being served by the other,
//           p50 before and after, no failure among requests started after the kill
//   audit   SIGKILL audit, start it again: every relayed request has its usage row, once
//   postgres stop and start: /readyz shows the outage, then recovers with no restart
//   gateway restart one of the two gateways: nginx sends to the other, nothing fails
// and the fake saw no concurrent-generation lock violation. Exits 1 when any check fails.
// Settings come from the environment the script sets: NP_URL (https://127.0.0.1:PORT),
// NP_FAKE_URL, NP_ADMIN_PASSWORD_FILE, NP_PROJECT (the compose project), NP_TOKENS (comma
// list of the fake's tokens); NODE_EXTRA_CA_CERTS trusts the test's self-signed certificate.
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

const execFileAsync = promisify(execFile);
const URL_ = process.env.NP_URL;
const FAKE = process.env.NP_FAKE_URL;
const PROJECT = process.env.NP_PROJECT;
const COMPOSE_DIR = new URL('../../deploy/compose/', import.meta.url).pathname;
const TOKENS = process.env.NP_TOKENS.split(',');
const ADMIN_PASSWORD = readFileSync(process.env.NP_ADMIN_PASSWORD_FILE, 'utf8').trim();
const PG_PASSWORD = readFileSync(process.env.NP_PG_PASSWORD_FILE, 'utf8').trim();
const LEASE_TTL_S = Number(process.env.NP_LEASE_TTL_SECONDS || 10);
let failed = 0;

function report(name, ok, figures) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}: ${figures}`);
  if (!ok) failed++;
}

async function api(method, path, { token, json, headers = {} } = {}) {
  const h = { ...headers };
  if (token) h.authorization = 'Bearer ' + token;
  if (json !== undefined) h['content-type'] = 'application/json';
  const t0 = performance.now();
  const r = await fetch(URL_ + path, { method, headers: h, body: json === undefined ? undefined : JSON.stringify(json), redirect: 'manual' });
  const bytes = Buffer.from(await r.arrayBuffer());
  let body;
  try { body = JSON.parse(bytes.toString('utf8')); } catch { body = undefined; }
  return { status: r.status, headers: r.headers, bytes, json: body, ms: performance.now() - t0 };
}

/** podman, without stopping the event loop: for every call made while a load runs. */
async function podmanA(...args) {
  return (await execFileAsync('podman', args, { encoding: 'utf8' })).stdout.trim();
}
function podman(...args) {
  return execFileSync('podman', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}
/** The containers of one compose service, by name (podman-compose names them PROJECT_svc_N). */
function containers(svc) {
  return podman('ps', '-a', '--format', '{{.Names}}', '--filter', `label=io.podman.compose.project=${PROJECT}`,
    '--filter', `label=com.docker.compose.service=${svc}`).split('\n').filter(Boolean).sort();
}
/**
 * The answer of one query to the compose Postgres (psql inside its container, as the backup
 * step does). Asynchronous: a synchronous exec would stop the load's event loop, and with it
 * every request (and lease) the query means to see.
 */
let pgName;
async function sql(query) {
  pgName ??= containers('postgres')[0]; // looked up once: a sync call would stall the load too
  const { stdout } = await execFileAsync('podman', ['exec', '-e', `PGPASSWORD=${PG_PASSWORD}`, pgName, 'psql', '-U', 'naipool',
    '-d', 'naipool', '-Atc', query], { encoding: 'utf8' });
  return stdout.trim();
}
/** The unexpired leases held by the pool instance on one host (holder is "node/suffix"). */
async function leasesOf(host) {
  if (!/^[A-Za-z0-9._-]+$/.test(host)) throw new Error('odd hostname ' + host);
  return Number(await sql(`SELECT count(*) FROM key_leases WHERE split_part(holder, '/', 1) = '${host}' AND expires_at > now()`));
}
/** Whether a gateway container answers /healthz (its image HEALTHCHECK). */
async function healthy(name) {
  try { await podmanA('healthcheck', 'run', name); return true; } catch { return false; }
}
/** The HTTP requests one gateway has answered, from its /metrics (read inside the container). */
async function gatewayServed(name) {
  const text = await podmanA('exec', name, 'bash', '-c',
    'exec 3<>/dev/tcp/127.0.0.1/5002; printf "GET /metrics HTTP/1.0\\r\\n\\r\\n" >&3; while IFS= read -r l <&3; do printf "%s\\n" "$l"; done');
  let n = 0;
  for (const m of text.matchAll(/^naipool_http_requests_total\{route="relay[^"]*",[^}]*\} (\d+)$/gm)) n += Number(m[1]);
  return n;
}
function restarts(names) {
  return names.map((n) => Number(podman('inspect', n, '--format', '{{.RestartCount}}')));
}

async function until(what, fn, ms) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => false);
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out waiting for ' + what);
    await sleep(200);
  }
}

const median = (xs) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
};

function imageBody(seed) {
  return {
    input: 'a lighthouse at dusk', model: 'nai-diffusion-4-5-full', action: 'generate',
    parameters: { width: 832, height: 1216, steps: 28, n_samples: 1, seed },
  };
}

async function newUser(prefix) {
  const username = `${prefix}_${randomBytes(4).toString('hex')}`;
  const password = 'pw-' + randomBytes(12).toString('base64url');
  const r = await api('POST', '/auth/register', { json: { username, password } });
  if (r.status !== 201) throw new Error(`register: ${r.status} ${r.bytes}`);
  const l = await api('POST', '/auth/login', { json: { username, password } });
  if (l.status !== 200) throw new Error(`login: ${l.status} ${l.bytes}`);
  const me = await api('GET', '/auth/me', { token: l.json.access_token });
  return { username, password, token: l.json.access_token, id: me.json.id };
}

/** Every admin log row of one user (pages of 500 through X-Next-Cursor). */
async function logRows(admin, uid) {
  const rows = [];
  let q = `/admin/logs?user=${uid}&limit=500`;
  for (;;) {
    const r = await api('GET', q, { token: admin });
    if (r.status !== 200) throw new Error(`admin logs: ${r.status}`);
    rows.push(...r.json);
    const next = r.headers.get('x-next-cursor');
    if (!next) return rows;
    q = `/admin/logs?user=${uid}&limit=500&before=${encodeURIComponent(next)}`;
  }
}

/**
 * A steady load: `workers` loops of relayed generations, each request recorded with its start,
 * end, status and the gateway's request id. stop() ends it and returns the records.
 */
function load(user, workers) {
  const recs = [];
  let running = true;
  let seed = 1;
  const loop = async () => {
    while (running) {
      const start = Date.now();
      let r;
      try {
        r = await api('POST', '/v1/novelai/ai/generate-image', { token: user.token, json: imageBody(seed++) });
      } catch (e) {
        r = { status: 0, headers: new Headers(), ms: Date.now() - start, err: e.message };
      }
      recs.push({ start, end: Date.now(), ms: r.ms, status: r.status, rid: r.headers.get('x-novelaipool-request-id'),
        detail: r.status === 200 ? undefined : (r.err || r.bytes.toString('utf8').slice(0, 160)) });
    }
  };
  const done = Promise.all(Array.from({ length: workers }, loop));
  return { recs, async stop() { running = false; await done; return recs; } };
}
/** What the first failed request of recs said, for the report line. */
const firstFailure = (recs) => {
  const f = recs.find((r) => r.status !== 200);
  return f ? `; first failure ${f.status} (request ${f.rid}, at ${new Date(f.start).toISOString()}, ${f.end - f.start} ms): ${f.detail}` : '';
};
const okMs = (recs, from, to) => recs.filter((r) => r.status === 200 && r.start >= from && r.start < to).map((r) => r.ms);
const failedIn = (recs, from, to) => recs.filter((r) => r.status !== 200 && r.start >= from && r.start < to);

async function fakeStats() {
  return (await fetch(FAKE + '/__stats')).json();
}

async function main() {
  // --- smoke
  const admin = (await api('POST', '/auth/login', { json: { username: 'admin', password: ADMIN_PASSWORD } })).json?.access_token;
  report('admin login', Boolean(admin), admin ? 'signed in' : 'no token');
  const user = await newUser('deploy');
  // the restore check signs in as this user again, against the restored database
  writeFileSync(process.env.NP_STATE_FILE, JSON.stringify({ username: user.username, password: user.password }));
  const states = [];
  for (const token of TOKENS) {
    const r = await api('POST', '/keys', { token: user.token, json: { token } });
    states.push(r.status === 201 ? r.json.state : r.status);
  }
  report('contribute', states.every((s) => s === 'active'), `${TOKENS.length} keys: ${states.join(' ')}`);
  const img = await api('POST', '/v1/novelai/ai/generate-image', { token: user.token, json: imageBody(7) });
  const zip = img.bytes.subarray(0, 2).toString('latin1') === 'PK';
  report('relayed image', img.status === 200 && zip, `status ${img.status}, ${img.bytes.length} bytes, ${img.headers.get('content-type')}, ${img.ms.toFixed(0)} ms`);
  const res = await fetch(URL_ + '/v1/novelai/ai/generate-image-stream', {
    method: 'POST', headers: { authorization: 'Bearer ' + user.token, 'content-type': 'application/json' },
    body: JSON.stringify({ ...imageBody(8), parameters: { ...imageBody(8).parameters, stream: 'sse' } }),
  });
  let chunks = 0;
  let text = '';
  for await (const c of res.body) { chunks++; text += Buffer.from(c).toString('utf8'); }
  const events = (text.match(/^event:/gm) || []).length;
  report('streamed image', res.status === 200 && res.headers.get('content-type') === 'text/event-stream' && /event: *final/.test(text),
    `status ${res.status}, ${events} events in ${chunks} chunks`);
  const logged = await until('usage rows of the smoke', async () => {
    const rows = await logRows(admin, user.id);
    return rows.length >= 2 && rows;
  }, 20000).catch(() => []);
  report('admin logs', logged.length === 2 && logged.some((r) => r.route === '/ai/generate-image-stream'),
    `${logged.length} rows for the user: ${logged.map((r) => `${r.route} ${r.status}`).join(', ')}`);

  if (process.env.NP_DEPLOY_SMOKE_ONLY) return; // scripts/deploy-test: NP_DEPLOY_SMOKE_ONLY=1 NP_DEPLOY_KEEP=1
  const enc = await sql('SHOW server_encoding');
  report('database', enc === 'UTF8', `encoding ${enc}`);

  const pools = containers('pool');
  const gateways = containers('gateway');
  report('instances', pools.length === 2 && gateways.length === 2, `pool ${pools.join(' ')}; gateway ${gateways.join(' ')}`);

  // --- pool: SIGKILL one of two under load; the dead one's leases lapse within the lease TTL
  {
    const l = load(user, 4);
    const host = podman('inspect', pools[0], '--format', '{{.Config.Hostname}}');
    const host2 = podman('inspect', pools[1], '--format', '{{.Config.Hostname}}');
    await sleep(3000);
    // two instances serve: each holds leases under the load
    const seen = { [host]: 0, [host2]: 0 };
    for (let i = 0; i < 10; i++) {
      for (const h of (await sql(`SELECT split_part(holder, '/', 1) FROM key_leases WHERE expires_at > now()`)).split('\n')) {
        if (h in seen) seen[h]++;
      }
    }
    report('pools serve', seen[host] > 0 && seen[host2] > 0,
      `leases seen in 10 looks: ${pools[0]} ${seen[host]}, ${pools[1]} ${seen[host2]}`);
    await sleep(3000);
    // the leases it holds as it dies (sampled until it holds one: under 4 workers, at once)
    let held = 0;
    for (let i = 0; i < 50 && held === 0; i++) held = await leasesOf(host);
    const kill = Date.now();
    await podmanA('kill', '--signal', 'KILL', pools[0]);
    // how long the dead instance's leases still run, by their own expiry (none renews them now)
    const left = Number(await sql(`SELECT coalesce(extract(epoch FROM max(expires_at) - now()), 0) FROM key_leases ` +
      `WHERE split_part(holder, '/', 1) = '${host}'`));
    await podmanA('stop', '-t', '0', pools[0]); // keep it down while the "after" figures are taken
    let freedS = NaN;
    try {
      await until('the dead pool\'s leases to lapse', async () => (await leasesOf(host)) === 0, (LEASE_TTL_S + 5) * 1000);
      freedS = (Date.now() - kill) / 1000;
    } catch { /* reported below */ }
    await sleep(Math.max(0, kill + 8000 - Date.now()));
    const back = Date.now();
    await podmanA('start', pools[0]);
    await sleep(6000);
    const recs = await l.stop();
    const before = okMs(recs, 0, kill);
    const after = okMs(recs, kill + 1000, back);
    const lateFails = failedIn(recs, kill + 1000, Infinity);
    const rejoined = okMs(recs, back + 3000, Infinity);
    const p50b = median(before);
    const p50a = median(after);
    // "no added delay": the gateways route around the dead instance; allow noise, not the
    // second-long retry of a dead instance
    const ok = before.length > 5 && after.length > 5 && lateFails.length === 0 && p50a < p50b + 100 && rejoined.length > 0;
    report('pool kill', ok, `p50 before ${p50b.toFixed(0)} ms (${before.length} req), after ${p50a.toFixed(0)} ms (${after.length} req), ` +
      `failed in flight ${failedIn(recs, kill, kill + 1000).length}, failed later ${lateFails.length}, after restart ${rejoined.length} ok${firstFailure(recs)}`);
    // "free again within LEASE_TTL_SECONDS": at the kill none of its leases runs longer than
    // that, and then they lapse (seen by polling, which adds its own half second or so)
    report('pool kill leases', held > 0 && left <= LEASE_TTL_S + 0.5 && freedS <= LEASE_TTL_S + 3,
      `${held} held by the killed instance, the last expiring ${left.toFixed(1)} s after the kill, ` +
      `seen lapsed ${freedS.toFixed(1)} s after it (LEASE_TTL_SECONDS ${LEASE_TTL_S})`);
  }

  // --- audit: SIGKILL, start again; every relayed request has exactly one usage row
  {
    const u2 = await newUser('deployaudit');
    for (const token of TOKENS) await api('POST', '/keys', { token: u2.token, json: { token } });
    const audit = containers('audit');
    const l = load(u2, 2);
    await sleep(4000);
    await podmanA('kill', '--signal', 'KILL', audit[0]);
    await podmanA('stop', '-t', '0', audit[0]);
    await sleep(4000);
    await podmanA('start', audit[0]);
    await sleep(4000);
    const recs = await l.stop();
    const ok200 = new Set(recs.filter((r) => r.status === 200).map((r) => r.rid));
    let rows = [];
    try {
      rows = await until('every usage row', async () => {
        const got = await logRows(admin, u2.id);
        const ids = new Set(got.map((r) => r.request_id));
        return [...ok200].every((id) => ids.has(id)) && got;
      }, 60000);
    } catch {
      rows = await logRows(admin, u2.id);
    }
    const ids = rows.map((r) => r.request_id);
    const lost = [...ok200].filter((id) => !ids.includes(id)).length;
    const doubled = ids.length - new Set(ids).size;
    const failures = recs.filter((r) => r.status !== 200).length;
    report('audit kill', lost === 0 && doubled === 0 && ok200.size > 0,
      `${ok200.size} relayed, ${rows.length} usage rows, lost ${lost}, doubled ${doubled}, failed requests ${failures}${firstFailure(recs)}`);
  }

  // --- postgres: stop and start; /readyz shows it, the suite recovers without restarts
  {
    const backends = ['auth', 'pool', 'audit', 'health', 'gateway'].flatMap(containers);
    const before = restarts(backends);
    const pg = containers('postgres')[0];
    await podmanA('stop', '-t', '10', pg);
    let sawOutage = false;
    try {
      await until('/readyz to show the outage', async () => (await api('GET', '/readyz')).status !== 200, 20000);
      sawOutage = true;
    } catch { /* reported below */ }
    const t0 = Date.now();
    await podmanA('start', pg);
    let recovered = NaN;
    try {
      await until('/readyz to recover', async () => (await api('GET', '/readyz')).status === 200, 90000);
      recovered = (Date.now() - t0) / 1000;
    } catch { /* reported below */ }
    let gen = { status: 0 };
    try {
      await until('a generation after the restart', async () => {
        gen = await api('POST', '/v1/novelai/ai/generate-image', { token: user.token, json: imageBody(99) });
        return gen.status === 200;
      }, 30000);
    } catch { /* reported below */ }
    const after = restarts(backends);
    const same = before.every((n, i) => n === after[i]);
    report('postgres restart', sawOutage && recovered >= 0 && gen.status === 200 && same,
      `/readyz outage seen ${sawOutage}, ready again ${recovered.toFixed(1)} s after start, generation ${gen.status}, service restarts ${same ? 0 : 'some'}`);
  }

  // --- gateway: restart one of two under load; nginx sends to the other
  {
    const l = load(user, 2);
    await sleep(3000);
    const t0 = Date.now();
    await podmanA('restart', '-t', '5', gateways[0]);
    const took = (Date.now() - t0) / 1000;
    await sleep(5000);
    const recs = await l.stop();
    const fails = recs.filter((r) => r.status !== 200);
    report('gateway restart', fails.length === 0 && recs.length > 10,
      `${recs.length} requests, ${fails.length} failed (${[...new Set(fails.map((r) => r.status))].join(' ')}), restart took ${took.toFixed(1)} s${firstFailure(recs)}`);
  }

  // --- gateways: scale 1 -> 3 -> 1 under load, as docs/DEPLOYMENT says (replicas through
  // NAIPOOL_GATEWAYS and `up -d gateway`; the extra ones stopped). nginx is not told: it looks
  // `gateway` up every 5 s (deploy/nginx/naipool.conf.template).
  {
    const l = load(user, 4);
    await sleep(3000);
    const marks = [];
    const mark = (n) => marks.push(n);
    await podmanA('stop', '-t', '10', ...gateways.slice(1));
    mark(1);
    await sleep(6000);
    await execFileAsync('podman-compose', ['-p', PROJECT, '-f', 'docker-compose.yml', '-f', '../test/compose.fake.yml',
      'up', '-d', '--no-build', 'gateway'], { cwd: COMPOSE_DIR, env: { ...process.env, NAIPOOL_GATEWAYS: '3' } });
    const three = containers('gateway');
    for (const g of three) await until(`${g} to answer /healthz`, () => healthy(g), 30000);
    mark(three.length);
    await sleep(6000); // nginx's next lookup
    const served0 = await Promise.all(three.map(gatewayServed));
    await sleep(6000);
    const served = (await Promise.all(three.map(gatewayServed))).map((n, i) => n - served0[i]); // METRICS_CACHE_SECONDS 5
    await podmanA('stop', '-t', '10', ...three.slice(1));
    mark(1);
    await sleep(6000);
    const recs = await l.stop();
    // leave two, as the compose file has them
    for (const g of three.slice(2)) await podmanA('rm', '-f', g);
    await podmanA('start', three[1]);
    await until(`${three[1]} to answer /healthz`, () => healthy(three[1]), 30000);
    await sleep(6000);
    const fails = recs.filter((r) => r.status !== 200);
    report('gateway scale', three.length === 3 && served.every((n) => n > 0) && fails.length === 0 && recs.length > 20,
      `${marks.join(' -> ')} gateways, ${recs.length} requests, ${fails.length} failed, p50 ${median(okMs(recs, 0, Infinity)).toFixed(0)} ms, ` +
      `at 3 each served ${served.join('/')}${firstFailure(recs)}`);
  }

  const s = await fakeStats();
  report('fake', s.lock_violations === 0, `lock violations ${s.lock_violations}, ${s.total} upstream requests`);
}

/** After a restore: the smoke's user signs in, its keys still decrypt, a generation is relayed. */
async function restored() {
  const { username, password } = JSON.parse(readFileSync(process.env.NP_STATE_FILE, 'utf8'));
  // the back-ends came back on new addresses: each gateway finds them at its next lookup
  // (every 10 s); /readyz was answered by one of the two
  let l = { status: 0 };
  await until('a sign-in against the restored database', async () => {
    l = await api('POST', '/auth/login', { json: { username, password } });
    return l.status === 200;
  }, 30000).catch(() => {});
  // the keys come from pool, which a gateway may not have found yet when auth answered
  let keys = { status: 0, json: [] };
  if (l.status === 200) {
    await until('the keys from the restored database', async () => {
      keys = await api('GET', '/keys', { token: l.json.access_token });
      return keys.status === 200 && Array.isArray(keys.json);
    }, 30000).catch(() => {});
  }
  const states = Array.isArray(keys.json) ? keys.json.map((k) => k.state) : [`(GET /keys ${keys.status})`];
  let gen = { status: 0, ms: 0 };
  if (l.status === 200) {
    await until('a generation from the restored database', async () => {
      gen = await api('POST', '/v1/novelai/ai/generate-image', { token: l.json.access_token, json: imageBody(5) });
      return gen.status === 200;
    }, 30000).catch(() => {});
  }
  report('restore', l.status === 200 && states.length === TOKENS.length && states.every((s) => s === 'active') && gen.status === 200,
    `sign-in ${l.status}, keys ${states.join(' ')}, generation ${gen.status}`);
}

(process.argv[2] === 'restored' ? restored() : main()).then(() => process.exit(failed ? 1 : 0), (e) => { console.log('FAIL deploy drive: ' + e.message); process.exit(1); });
