// The end-to-end harness: starts the fake NovelAI upstream, a database in the test Postgres
// and the whole suite (`naipool all`) on free ports, drives it over HTTP, and stops
// everything (TERM, then KILL) even when a case fails. Only 127.0.0.1 is ever contacted.
import { spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BUILD = process.env.NP_BUILD_DIR
  ? resolve(process.env.NP_BUILD_DIR)
  : existsSync(join(ROOT, 'build-asan/services/naipool')) ? join(ROOT, 'build-asan') : join(ROOT, 'build');
export const NAIPOOL = join(BUILD, 'services/naipool');
export const FAKE = join(BUILD, 'tests/fakes/fake-novelai');

const SANITIZER = /AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|ThreadSanitizer|runtime error:/;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A random persistent token of NovelAI's shape (pst- + 64 characters). */
export function pstToken() {
  return 'pst-' + randomBytes(48).toString('base64url').slice(0, 64);
}

/** freePort asks the kernel for a free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolveP, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolveP(port));
    });
  });
}

let pgBase = null; // postgresql:///naipool?host=...&user=naipool
let pgOwned = null; // the data dir of a cluster this process started

/** testPostgres returns the URL of the test cluster, starting one if the runner did not. */
export function testPostgres() {
  if (pgBase) return pgBase;
  if (process.env.NP_TEST_PG_URL) {
    pgBase = process.env.NP_TEST_PG_URL;
    return pgBase;
  }
  pgOwned = mkdtempSync(join(tmpdir(), 'np-pg-'));
  execFileSync('chmod', ['755', pgOwned]);
  pgBase = execFileSync(NAIPOOL, ['pg', 'start', pgOwned], { encoding: 'utf8' }).trim();
  process.once('exit', () => {
    try { execFileSync(NAIPOOL, ['pg', 'stop', pgOwned], { stdio: 'ignore' }); } catch {}
  });
  return pgBase;
}

/** parsePgUrl splits a socket URL postgresql:///NAME?host=DIR&user=USER. */
export function parsePgUrl(url) {
  const m = url.match(/^postgres(?:ql)?:\/\/\/([^?]*)\?(.*)$/);
  if (!m) throw new Error('not a socket URL: ' + url);
  const q = new URLSearchParams(m[2]);
  return { db: m[1], host: q.get('host'), user: q.get('user') || 'naipool' };
}

/** createDatabase makes a fresh database in the test cluster and returns its URL. */
export function createDatabase() {
  const { host } = parsePgUrl(testPostgres());
  const name = 't_' + randomBytes(6).toString('hex');
  execFileSync('psql', ['-h', host, '-U', 'naipool', '-d', 'postgres', '-qAtc', `CREATE DATABASE ${name}`],
    { stdio: ['ignore', 'ignore', 'inherit'] });
  return `postgresql:///${name}?host=${host}&user=naipool`;
}

/** psql runs SQL against a database URL and returns the rows as arrays of strings. */
export function psql(url, sql) {
  const { db, host, user } = parsePgUrl(url);
  const out = execFileSync('psql', ['-h', host, '-U', user, '-d', decodeURIComponent(db), '-qAt',
    '-F', '\t', '-v', 'ON_ERROR_STOP=1', '-c', sql], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return out.split('\n').filter((l) => l.length).map((l) => l.split('\t'));
}

/** A child process whose output is kept, and which is stopped with TERM then KILL. */
export class Proc {
  constructor(name, cmd, args, env) {
    this.name = name;
    this.out = '';
    this.err = '';
    this.child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout.on('data', (d) => { this.out += d; });
    this.child.stderr.on('data', (d) => { this.err += d; });
    this.exited = new Promise((r) => this.child.once('exit', (code, signal) => r({ code, signal })));
  }
  /** waitFor polls the output until re matches, up to ms. */
  async waitFor(re, ms = 30000) {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      const m = (this.out + this.err).match(re);
      if (m) return m;
      if (this.child.exitCode !== null) break;
      await sleep(25);
    }
    throw new Error(`${this.name}: ${re} not seen; output:\n${this.out}\n${this.err}`.slice(0, 8000));
  }
  async stop(signal = 'SIGTERM', ms = 10000) {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill(signal);
      const t = setTimeout(() => this.child.kill('SIGKILL'), ms);
      const r = await this.exited;
      clearTimeout(t);
      return r;
    }
    return this.exited;
  }
  /** sanitizerReport returns the sanitizer report in the output, or null. */
  sanitizerReport() {
    const m = this.err.match(SANITIZER);
    return m ? this.err.slice(Math.max(0, m.index - 200), m.index + 4000) : null;
  }
}

/** startFake starts the fake NovelAI upstream with a token table. */
export async function startFake({ tokens = [], latencyMs = 0, eventDelayMs = 0 } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'np-fake-'));
  const file = join(dir, 'tokens.json');
  writeFileSync(file, JSON.stringify(tokens));
  const p = new Proc('fake', FAKE, ['--port', '0', '--tokens', file, '--latency-ms', String(latencyMs),
    '--event-delay-ms', String(eventDelayMs)], {});
  const m = await p.waitFor(/listening on 127\.0\.0\.1:(\d+)/);
  const url = `http://127.0.0.1:${m[1]}`;
  const fake = {
    proc: p,
    url,
    async stats() { return (await fetch(url + '/__stats')).json(); },
    async reset() { await fetch(url + '/__reset', { method: 'POST' }); },
    async last(route) {
      const r = await fetch(url + '/__last?route=' + encodeURIComponent(route));
      return r.status === 200 ? r.json() : null;
    },
    async addTokens(list) {
      await fetch(url + '/__tokens', { method: 'POST', body: JSON.stringify(list) });
    },
    async config(c) {
      await fetch(url + '/__config', { method: 'POST', body: JSON.stringify(c) });
    },
    async stop() { await p.stop(); rmSync(dir, { recursive: true, force: true }); },
  };
  return fake;
}

/** LeakSanitizer settings for every process a test starts: the project's suppressions. */
export const LSAN_OPTIONS = `suppressions=${join(ROOT, 'tests/lsan.supp')}:print_suppressions=0`;

/**
 * The rates most tests were written against: everyone may generate a little without a key.
 * The shipped defaults are the old pool's (BASE_RPM 0, contributors only; compat_defaults
 * tests them): a test passes `null` for a setting to leave it at its shipped default.
 */
const TEST_RATES = { BASE_RPM: '5', BASE_RPM_CONTRIBUTOR_ONLY: 'false', MAX_RPM: '60', MANUAL_GLOBAL_RPM: '10' };

/**
 * Under ThreadSanitizer (`make test-tsan` sets NP_TSAN=1) everything runs several times slower,
 * argon2id most of all (its 19 MiB blocks get shadow memory): calls between services get a
 * minute instead of 10 s, so a slow hash is not a 503. A test's own setting still wins.
 */
const TSAN_ENV = process.env.NP_TSAN === '1' ? { RPC_TIMEOUT_MS: '60000' } : {};
/** How long a suite may take to start: longer under ThreadSanitizer, for the same reason. */
const START_MS = process.env.NP_TSAN === '1' ? 180000 : 60000;

/** The environment every naipool process of one stack shares (null values are left out). */
export function stackEnv(databaseUrl, fakeUrl, extra = {}) {
  const env = {
    DATABASE_URL: databaseUrl,
    SECRET_KEY: randomBytes(36).toString('base64url'),
    INTERNAL_SECRET: randomBytes(36).toString('base64url'),
    METRICS_CACHE_SECONDS: '0', // tests read figures right after causing them
    ENCRYPTION_KEY: randomBytes(32).toString('base64url'),
    NOVELAI_IMAGE_BASE: fakeUrl,
    NOVELAI_TEXT_BASE: fakeUrl,
    NOVELAI_API_BASE: fakeUrl,
    ADMIN_USERNAME: 'admin',
    ADMIN_PASSWORD: 'admin-' + randomBytes(9).toString('base64url'),
    BIND_ADDRESS: '127.0.0.1',
    LOG_LEVEL: 'info',
    ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=0:exitcode=23',
    LSAN_OPTIONS,
    UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1',
    ...TEST_RATES,
    ...TSAN_ENV,
    ...extra,
  };
  for (const k of Object.keys(env)) if (env[k] === null) delete env[k];
  return env;
}

/**
 * startStack starts the fake upstream (with tokens), a fresh database and `naipool all`.
 * Returns { url, fake, db, env, admin: {username, password}, api(), login(), output(), stop() }.
 */
export async function startStack({ tokens = [], env = {}, latencyMs = 0, eventDelayMs = 0 } = {}) {
  const fake = await startFake({ tokens, latencyMs, eventDelayMs });
  const db = createDatabase();
  const dataDir = mkdtempSync(join(tmpdir(), 'np-data-'));
  const fullEnv = stackEnv(db, fake.url, { PORT: '0', DATA_DIR: dataDir, ...env });
  const proc = new Proc('naipool', NAIPOOL, ['all'], fullEnv);
  let m;
  try {
    m = await proc.waitFor(/serving http:\/\/127\.0\.0\.1:(\d+)\//, START_MS);
  } catch (e) {
    await proc.stop();
    await fake.stop();
    throw e;
  }
  const url = `http://127.0.0.1:${m[1]}`;
  const stack = {
    url, fake, db, env: fullEnv, proc,
    admin: { username: fullEnv.ADMIN_USERNAME, password: fullEnv.ADMIN_PASSWORD },
    api: (method, path, opts) => api(url, method, path, opts),
    login: (username, password) => login(url, username, password),
    output: () => proc.out + proc.err + fake.proc.out + fake.proc.err,
    async stop() {
      const r = await proc.stop();
      await fake.stop();
      rmSync(dataDir, { recursive: true, force: true });
      const report = proc.sanitizerReport();
      if (report) throw new Error('sanitizer report from naipool:\n' + report);
      return r;
    },
  };
  // Ready means auth and pool answer and see the database.
  const end = Date.now() + 30000;
  for (;;) {
    const r = await fetch(url + '/readyz').catch(() => null);
    if (r && r.status === 200) break;
    if (Date.now() > end) {
      await stack.stop().catch(() => {});
      throw new Error('suite not ready:\n' + proc.err.slice(-4000));
    }
    await sleep(50);
  }
  return stack;
}

/**
 * api calls the suite: opts = { token, json, body, headers, raw }. Returns
 * { status, headers, text, json, bytes }.
 */
export async function api(base, method, path, opts = {}) {
  const headers = { ...(opts.headers || {}) };
  if (opts.token) headers.authorization = 'Bearer ' + opts.token;
  let body = opts.body;
  if (opts.json !== undefined) {
    headers['content-type'] = headers['content-type'] || 'application/json';
    body = JSON.stringify(opts.json);
  }
  const r = await fetch(base + path, { method, headers, body, redirect: 'manual' });
  const bytes = Buffer.from(await r.arrayBuffer());
  const text = bytes.toString('utf8');
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: r.status, headers: r.headers, text, json, bytes };
}

/** login signs in and returns the access token. */
export async function login(base, username, password) {
  const r = await api(base, 'POST', '/auth/login', { json: { username, password } });
  if (r.status !== 200) throw new Error(`login ${username}: ${r.status} ${r.text}`);
  return r.json.access_token;
}

/** newUser registers a user and returns { username, password, token }. */
export async function newUser(stack, prefix = 'user') {
  const username = `${prefix}_${randomBytes(4).toString('hex')}`;
  const password = 'pw-' + randomBytes(12).toString('base64url');
  const r = await stack.api('POST', '/auth/register', { json: { username, password } });
  if (r.status !== 201) throw new Error(`register: ${r.status} ${r.text}`);
  return { username, password, token: await stack.login(username, password) };
}

/** until polls fn (sync or async) every 100 ms until it returns something truthy, up to ms. */
export async function until(what, fn, ms = 30000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out waiting for ' + what);
    await sleep(100);
  }
}

export { sleep };

/**
 * startCluster runs every service as its own process on tcp:// addresses sharing one database
 * (MULTI_NODE_ENABLED=true), with `pools` pool instances behind one gateway. Returns the same
 * shape as startStack, plus `procs` (name -> Proc).
 */
export async function startCluster({ pools = 2, tokens = [], env = {}, latencyMs = 0, eventDelayMs = 0, gatewayFirst } = {}) {
  const fake = await startFake({ tokens, latencyMs, eventDelayMs });
  const db = createDatabase();
  const port = async () => `tcp://127.0.0.1:${await freePort()}`;
  const addr = {
    AUTH: await port(), AUDIT: await port(), HEALTH: await port(),
    EVENTS: await port(), ACKS: await port(),
  };
  const poolAddrs = [];
  for (let i = 0; i < pools; i++) poolAddrs.push(await port());
  const common = stackEnv(db, fake.url, {
    MULTI_NODE_ENABLED: 'true',
    AUTH_RPC_URL: addr.AUTH, AUTH_RPC_LISTEN: addr.AUTH,
    AUDIT_RPC_URL: addr.AUDIT, AUDIT_RPC_LISTEN: addr.AUDIT,
    HEALTH_RPC_URL: addr.HEALTH, HEALTH_RPC_LISTEN: addr.HEALTH,
    EVENTS_URL: addr.EVENTS, EVENTS_LISTEN: addr.EVENTS,
    ACKS_URL: addr.ACKS, ACKS_LISTEN: addr.ACKS,
    POOL_RPC_URL: poolAddrs.join(','),
    ...env,
  });
  const procs = {};
  const start = async (name, svc, extra = {}) => {
    const p = new Proc(name, NAIPOOL, [svc], { ...common, NODE_ID: name, ...extra });
    procs[name] = p;
    await p.waitFor(svc === 'gateway' ? /serving http:\/\/127\.0\.0\.1:(\d+)\// : /answering on/, START_MS);
    return p;
  };
  const stopAll = async () => {
    for (const p of Object.values(procs).reverse()) await p.stop();
    await fake.stop();
  };
  let gw;
  try {
    // gatewayFirst(port): the gateway is started before every back-end, on a port of its own,
    // and the test looks at it alone before the back-ends start
    if (gatewayFirst) {
      const gwPort = await freePort();
      procs['gateway-1'] = new Proc('gateway-1', NAIPOOL, ['gateway'], { ...common, NODE_ID: 'gateway-1', PORT: String(gwPort) });
      await gatewayFirst(gwPort, procs['gateway-1']);
    }
    // in the order naipool all uses: each service after those it calls
    await start('audit-1', 'audit');
    for (let i = 0; i < pools; i++) {
      await start(`pool-${i + 1}`, 'pool', { POOL_RPC_LISTEN: poolAddrs[i] });
    }
    await start('auth-1', 'auth');
    await start('health-1', 'health');
    if (gatewayFirst) {
      gw = procs['gateway-1'];
      await gw.waitFor(/serving http:\/\/127\.0\.0\.1:(\d+)\//, START_MS);
    } else {
      gw = await start('gateway-1', 'gateway', { PORT: '0' });
    }
  } catch (e) {
    await stopAll();
    throw e;
  }
  const url = `http://127.0.0.1:${gw.out.match(/serving http:\/\/127\.0\.0\.1:(\d+)\//)[1]}`;
  return {
    url, fake, db, env: common, procs,
    admin: { username: common.ADMIN_USERNAME, password: common.ADMIN_PASSWORD },
    api: (method, path, opts) => api(url, method, path, opts),
    login: (username, password) => login(url, username, password),
    output: () => Object.values(procs).map((p) => p.out + p.err).join('') + fake.proc.out + fake.proc.err,
    async stop() {
      await stopAll();
      for (const p of Object.values(procs)) {
        const report = p.sanitizerReport();
        if (report) throw new Error(`sanitizer report from ${p.name}:\n${report}`);
      }
    },
  };
}
