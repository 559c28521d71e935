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
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

const URL_ = process.env.NP_URL;
const FAKE = process.env.NP_FAKE_URL;
const PROJECT = process.env.NP_PROJECT;
const TOKENS = process.env.NP_TOKENS.split(',');
const ADMIN_PASSWORD = readFileSync(process.env.NP_ADMIN_PASSWORD_FILE, 'utf8').trim();
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

function podman(...args) {
  return execFileSync('podman', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}
/** The containers of one compose service, by name (podman-compose names them PROJECT_svc_N). */
function containers(svc) {
  return podman('ps', '-a', '--format', '{{.Names}}', '--filter', `label=io.podman.compose.project=${PROJECT}`,
    '--filter', `label=com.docker.compose.service=${svc}`).split('\n').filter(Boolean).sort();
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
      recs.push({ start, end: Date.now(), ms: r.ms, status: r.status, rid: r.headers.get('x-novelaipool-request-id') });
    }
  };
  const done = Promise.all(Array.from({ length: workers }, loop));
  return { recs, async stop() { running = false; await done; return recs; } };
}
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

  const pools = containers('pool');
  const gateways = containers('gateway');
  report('instances', pools.length === 2 && gateways.length === 2, `pool ${pools.join(' ')}; gateway ${gateways.join(' ')}`);

  // --- pool: SIGKILL one of two under load
  {
    const l = load(user, 2);
    await sleep(8000);
    const kill = Date.now();
    podman('kill', '--signal', 'KILL', pools[0]);
    podman('stop', '-t', '0', pools[0]); // keep it down while the "after" figures are taken
    await sleep(8000);
    const back = Date.now();
    podman('start', pools[0]);
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
      `failed in flight ${failedIn(recs, kill, kill + 1000).length}, failed later ${lateFails.length}, after restart ${rejoined.length} ok`);
  }

  // --- audit: SIGKILL, start again; every relayed request has exactly one usage row
  {
    const u2 = await newUser('deployaudit');
    for (const token of TOKENS) await api('POST', '/keys', { token: u2.token, json: { token } });
    const l = load(u2, 2);
    await sleep(4000);
    const audit = containers('audit');
    podman('kill', '--signal', 'KILL', audit[0]);
    podman('stop', '-t', '0', audit[0]);
    await sleep(4000);
    podman('start', audit[0]);
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
      `${ok200.size} relayed, ${rows.length} usage rows, lost ${lost}, doubled ${doubled}, failed requests ${failures}`);
  }

  // --- postgres: stop and start; /readyz shows it, the suite recovers without restarts
  {
    const backends = ['auth', 'pool', 'audit', 'health', 'gateway'].flatMap(containers);
    const before = restarts(backends);
    const pg = containers('postgres')[0];
    podman('stop', '-t', '10', pg);
    let sawOutage = false;
    try {
      await until('/readyz to show the outage', async () => (await api('GET', '/readyz')).status !== 200, 20000);
      sawOutage = true;
    } catch { /* reported below */ }
    const t0 = Date.now();
    podman('start', pg);
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
    podman('restart', '-t', '5', gateways[0]);
    const took = (Date.now() - t0) / 1000;
    await sleep(5000);
    const recs = await l.stop();
    const fails = recs.filter((r) => r.status !== 200);
    report('gateway restart', fails.length === 0 && recs.length > 10,
      `${recs.length} requests, ${fails.length} failed (${[...new Set(fails.map((r) => r.status))].join(' ')}), restart took ${took.toFixed(1)} s`);
  }

  const s = await fakeStats();
  report('fake', s.lock_violations === 0, `lock violations ${s.lock_violations}, ${s.total} upstream requests`);
}

/** After a restore: the smoke's user signs in, its keys still decrypt, a generation is relayed. */
async function restored() {
  const { username, password } = JSON.parse(readFileSync(process.env.NP_STATE_FILE, 'utf8'));
  const l = await api('POST', '/auth/login', { json: { username, password } });
  const keys = l.status === 200 ? await api('GET', '/keys', { token: l.json.access_token }) : { json: [] };
  const states = (keys.json || []).map((k) => k.state);
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
