// A stand-in for the pool's HTTP API, in memory, for working on the web UI without the
// back-end and for the UI-only tests (ui.test.mjs). It serves web/ exactly as the gateway's
// static.c does (same CSP, index.html for extension-less paths) and answers the routes of
// shared/HTTP-API.md in the shapes the UI's adapters accept. The end-to-end flows
// (flows.test.mjs) never use it: they run against the real suite.
//
//   node mock-api.mjs [port]      then open the URL it prints (admin / admin-password-1)
import http from 'node:http';
import fs from 'node:fs/promises';
import path from 'node:path';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';

const WEB = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../web');
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml', '.json': 'application/json', '.png': 'image/png', '.txt': 'text/plain; charset=utf-8' };

function seed() {
  const now = Date.now();
  const day = 86400e3;
  const st = {
    seq: 100,
    users: [
      { id: 1, username: 'admin', password: 'admin-password-1', role: 'admin', disabled: false, rpm_override: null, created_at: new Date(now - 40 * day).toISOString() },
      { id: 2, username: 'alice', password: 'alice-password-1', role: 'user', disabled: false, rpm_override: null, created_at: new Date(now - 20 * day).toISOString() },
      { id: 3, username: '<script>window.__xss=1</script>', password: 'xss-password-1', role: 'user', disabled: false, rpm_override: 30, created_at: new Date(now - 3 * day).toISOString() },
    ],
    tokens: new Map(),
    clientKeys: [],
    keys: [
      { id: 11, owner_id: 2, masked: 'pst-abcd…wxyz', note: 'Opus main', state: 'active', tier: 3, anlas: 8420, v5_allowance: { percent: 64, isNegative: false }, allow_paid: false, max_anlas_per_request: null, anlas_floor: null, fail_streak: 0, cooldown_until: null, last_checked_at: new Date(now - 600e3).toISOString(), last_error: null, uses_today: 37, created_at: new Date(now - 15 * day).toISOString() },
      { id: 12, owner_id: 2, masked: 'pst-efgh…stuv', note: '<img src=x onerror=window.__xss=2>', state: 'cooling', tier: 3, anlas: 120, v5_allowance: { percent: 100, isNegative: true }, allow_paid: true, max_anlas_per_request: 20, anlas_floor: 50, fail_streak: 2, cooldown_until: new Date(now + 240e3).toISOString(), last_checked_at: new Date(now - 60e3).toISOString(), last_error: '429 Concurrent generation is locked', uses_today: 5, created_at: new Date(now - 9 * day).toISOString() },
      { id: 13, owner_id: 1, masked: 'pst-ijkl…mnop', note: '', state: 'invalid', tier: 3, anlas: 0, v5_allowance: null, allow_paid: false, fail_streak: 1, cooldown_until: null, last_checked_at: new Date(now - 3600e3).toISOString(), last_error: '401 unauthorized', uses_today: 0, created_at: new Date(now - 30 * day).toISOString() },
    ],
    logs: [],
    config: {
      BASE_RPM: { value: 5, source: 'default', read_only: false, type: 'int' },
      PER_KEY_RPM: { value: 10, source: 'env', read_only: false, type: 'int' },
      MAX_RPM: { value: 60, source: 'default', read_only: false, type: 'int' },
      RATE_MODE: { value: 'auto', source: 'default', read_only: false, type: 'string' },
      LOG_REQUEST_IP: { value: false, source: 'default', read_only: false, type: 'bool' },
      PROXY_CHECK_INTERVAL_S: { value: 60, source: 'default', read_only: false, type: 'int' },
      PROXY_FAIL_THRESHOLD: { value: 3, source: 'default', read_only: false, type: 'int' },
      DATABASE_URL: { value: 'postgresql://…', source: 'env', read_only: true, type: 'string' },
      CORS_ALLOW_ORIGINS: { value: '', source: 'default', read_only: true, type: 'string' },
    },
    proxies: [
      { id: 21, url: 'http://proxy-a.example:3128', name: 'A', state: 'healthy', enabled: true, latency_ms: 84, failures: 0, last_checked_at: new Date(now - 30e3).toISOString(), last_error: null },
      { id: 22, url: 'socks5://user:•••@proxy-b.example:1080', name: 'B', state: 'down', enabled: true, latency_ms: null, failures: 5, last_checked_at: new Date(now - 50e3).toISOString(), last_error: 'connect timeout' },
    ],
    audit: [],
  };
  const routes = ['/ai/generate-image', '/ai/generate-image-stream', '/ai/generate', '/ai/upscale'];
  const statuses = [200, 200, 200, 200, 200, 200, 429, 402, 504, 200];
  const codes = { 429: 'rate_limited', 402: 'anlas_protection', 504: 'upstream_timeout' };
  for (let i = 0; i < 180; i++) {
    const t = now - i * (13 * 3600e3 / 7) - (i % 5) * 1000;
    const status = statuses[(i * 7) % statuses.length];
    st.logs.push({ id: 1000 - i, owner_id: 2, time: new Date(t).toISOString(), request_id: crypto.randomUUID(), route: routes[i % routes.length], model: 'nai-diffusion-4-5-full', width: 832, height: 1216, steps: 28, n_samples: 1, status, error: codes[status] ?? null, latency_ms: 2000 + (i * 137) % 9000, bytes: status === 200 ? 1_400_000 + i * 1000 : 120 });
  }
  for (let i = 0; i < 70; i++) {
    st.audit.push({ id: 500 - i, cursor: `${now - i}_${500 - i}`, time: new Date(now - i * 1800e3).toISOString(), type: ['auth.login_succeeded', 'key.state', 'config.changed', 'auth.login_failed'][i % 4], actor_user_id: i % 3 ? 2 : null, subject: i % 2 ? 'key:12' : 'user:3', details: { from: 'active', to: 'cooling', note: '<b>not bold</b>' }, producer_id: 'auth.vm.e7f0ad4cf910' });
  }
  return st;
}

function send(res, status, body, headers = {}) {
  const data = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': crypto.randomUUID(), ...headers });
  res.end(data);
}
const fail = (res, status, error, message) => send(res, status, { error, message });

async function readBody(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  if (!chunks.length) return {};
  try { return JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch { return undefined; }
}

export async function startMock({ port = 0, delayMs = 0 } = {}) {
  const st = seed();
  const userOf = (req) => {
    const m = /^Bearer (.+)$/.exec(req.headers.authorization || '');
    return m ? st.users.find((u) => u.id === st.tokens.get(m[1])) : null;
  };
  const healthy = (u) => st.keys.filter((k) => k.owner_id === u.id && k.state === 'active').length;
  const rpm = (u) => u.rpm_override ?? Math.min(st.config.MAX_RPM.value, st.config.BASE_RPM.value + st.config.PER_KEY_RPM.value * healthy(u));
  const pub = (k) => { const { owner_id: _o, ...rest } = k; return rest; };
  const ck = (k) => { const { user_id: _u, key: _k, ...rest } = k; return rest; };

  async function api(req, res, url) {
    const p = url.pathname;
    const m = req.method;
    if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
    const body = m === 'GET' || m === 'DELETE' ? {} : await readBody(req);
    if (body === undefined) return fail(res, 400, 'bad_request', 'the body is not valid JSON');
    if (m === 'POST' && p === '/auth/register') {
      if (!/^[A-Za-z0-9._<>/=\-()]{3,64}$/.test(body.username || '')) return fail(res, 400, 'bad_request', 'username must be 3 to 64 letters, digits, dots, dashes or underscores');
      if (String(body.password || '').length < 8) return fail(res, 400, 'bad_request', 'password must be at least 8 characters');
      if (st.users.some((u) => u.username === body.username)) return fail(res, 409, 'conflict', 'that user name is taken');
      const u = { id: ++st.seq, username: body.username, password: body.password, role: 'user', disabled: false, rpm_override: null, created_at: new Date().toISOString() };
      st.users.push(u);
      return send(res, 201, { id: u.id, username: u.username, role: u.role });
    }
    if (m === 'POST' && p === '/auth/login') {
      const u = st.users.find((x) => x.username === body.username && x.password === body.password);
      if (!u) return fail(res, 401, 'unauthorized', 'wrong user name or password');
      if (u.disabled) return fail(res, 403, 'forbidden', 'this account is disabled');
      const tok = crypto.randomBytes(16).toString('hex');
      st.tokens.set(tok, u.id);
      return send(res, 200, { access_token: tok, token_type: 'bearer', expires_in: 3600 });
    }
    const u = userOf(req);
    if (!u) return fail(res, 401, 'unauthorized', 'authentication required');
    if (p.startsWith('/admin') && u.role !== 'admin') return fail(res, 403, 'forbidden', 'not allowed for this account');
    const idm = /\/(\d+)(\/check)?$/.exec(p);
    const id = idm ? Number(idm[1]) : null;

    if (m === 'GET' && p === '/auth/me') return send(res, 200, { id: u.id, username: u.username, role: u.role, rpm_limit: rpm(u), contributed_keys: st.keys.filter((k) => k.owner_id === u.id).length, healthy_keys: healthy(u), created_at: u.created_at });
    if (m === 'POST' && p === '/auth/password') {
      if (body.old_password !== u.password) return fail(res, 401, 'unauthorized', 'the current password is wrong');
      u.password = body.new_password;
      return send(res, 204);
    }
    if (p === '/client-keys' && m === 'GET') return send(res, 200, st.clientKeys.filter((k) => k.user_id === u.id).map(ck));
    if (p === '/client-keys' && m === 'POST') {
      if (!body.name) return fail(res, 400, 'bad_request', 'name is required');
      const key = `np-${crypto.randomBytes(24).toString('base64url')}`;
      const k = { id: ++st.seq, user_id: u.id, name: body.name, prefix: key.slice(0, 10), enabled: true, created_at: new Date().toISOString(), last_used_at: null };
      // rotate: the caller's other relay keys are revoked (as the suite does)
      const others = body.rotate === true ? st.clientKeys.filter((x) => x.user_id === u.id) : [];
      st.clientKeys = st.clientKeys.filter((x) => !others.includes(x));
      st.clientKeys.push(k);
      return send(res, 201, { id: k.id, name: k.name, key, prefix: k.prefix, created_at: k.created_at, ...(body.rotate === true ? { revoked: others.length } : {}) });
    }
    if (p.startsWith('/client-keys/')) {
      const k = st.clientKeys.find((x) => x.id === id && x.user_id === u.id);
      if (!k) return fail(res, 404, 'not_found', 'no such relay key');
      if (m === 'DELETE') { st.clientKeys.splice(st.clientKeys.indexOf(k), 1); return send(res, 204); }
      if (m === 'PATCH') { if (body.name !== undefined) k.name = body.name; if (body.enabled !== undefined) k.enabled = body.enabled; return send(res, 200, ck(k)); }
    }
    if (p === '/keys' && m === 'GET') return send(res, 200, st.keys.filter((k) => k.owner_id === u.id).map(pub));
    if (p === '/keys' && m === 'POST') {
      if (!/^pst-[A-Za-z0-9_-]{8,}$/.test(body.token || '')) return fail(res, 400, 'bad_request', 'not a persistent API token (pst-...)');
      const k = { id: ++st.seq, owner_id: u.id, masked: `${body.token.slice(0, 8)}…${body.token.slice(-4)}`, note: body.note || '', state: 'pending', tier: null, anlas: null, v5_allowance: null, allow_paid: !!body.allow_paid, max_anlas_per_request: body.max_anlas_per_request ?? null, anlas_floor: body.anlas_floor ?? null, fail_streak: 0, cooldown_until: null, last_checked_at: null, last_error: null, uses_today: 0, created_at: new Date().toISOString() };
      st.keys.push(k);
      setTimeout(() => Object.assign(k, { state: 'active', tier: 3, anlas: 1000, v5_allowance: { percent: 0, isNegative: false }, last_checked_at: new Date().toISOString() }), 1500);
      return send(res, 201, pub(k));
    }
    if (p.startsWith('/keys/')) {
      const k = st.keys.find((x) => x.id === id && x.owner_id === u.id);
      if (!k) return fail(res, 404, 'not_found', 'no such key');
      if (m === 'DELETE') { st.keys.splice(st.keys.indexOf(k), 1); return send(res, 204); }
      if (m === 'PATCH') {
        for (const f of ['note', 'allow_paid', 'max_anlas_per_request', 'anlas_floor']) if (body[f] !== undefined) k[f] = body[f];
        if (body.enabled === false) k.state = 'disabled';
        if (body.enabled === true && k.state === 'disabled') k.state = 'pending';
        return send(res, 200, pub(k));
      }
    }
    if (m === 'GET' && p === '/logs') {
      let rows = st.logs.filter((l) => l.owner_id === u.id);
      const before = url.searchParams.get('before');
      if (before) rows = rows.filter((l) => l.id < Number(before));
      const sf = url.searchParams.get('status');
      if (sf) rows = rows.filter((l) => (sf === 'ok' ? l.status < 400 : sf === 'error' ? l.status >= 400 : /xx$/.test(sf) ? String(l.status)[0] === sf[0] : l.status === Number(sf)));
      if (url.searchParams.get('route')) rows = rows.filter((l) => l.route === url.searchParams.get('route'));
      const limit = Math.min(200, Number(url.searchParams.get('limit')) || 50);
      return send(res, 200, rows.slice(0, limit).map(({ owner_id: _o, ...r }) => ({ ...r, cursor: String(r.id) })));
    }
    if (m === 'GET' && p === '/v1/novelai/models') {
      const ids = ['nai-diffusion-4-5-full', 'nai-diffusion-4-5-curated', 'glm-4-6'];
      return send(res, 200, url.searchParams.get('detail') ? { models: ids.map((id) => ({ id, type: id.startsWith('nai-diffusion') ? 'image' : 'text' })) } : ids);
    }
    if (m === 'GET' && p === '/admin/logs') {
      let rows = st.logs.slice();
      const before = url.searchParams.get('before');
      if (before) rows = rows.filter((l) => l.id < Number(before));
      if (url.searchParams.get('user')) rows = rows.filter((l) => l.owner_id === Number(url.searchParams.get('user')));
      if (url.searchParams.get('since')) rows = rows.filter((l) => l.time >= url.searchParams.get('since'));
      if (url.searchParams.get('until')) rows = rows.filter((l) => l.time <= url.searchParams.get('until'));
      const limit = Math.min(500, Number(url.searchParams.get('limit')) || 50);
      return send(res, 200, rows.slice(0, limit).map(({ owner_id: o, ...r }) => ({ ...r, user_id: o, relay_key_id: 1, upstream_key_id: 2, ip: '203.0.113.7', cursor: String(r.id) })));
    }
    if (m === 'POST' && p === '/admin/health-check') {
      for (const k of st.keys) k.last_checked_at = new Date().toISOString();
      return send(res, 200, { checked: st.keys.length, failed: 0, keys: st.keys.map(pub) });
    }
    if (m === 'GET' && p === '/logs/stats') {
      // audit's shape: {days, since, total, ok, errors, by_day:[{day,total,ok,errors}], by_status}
      const n = Number(url.searchParams.get('days')) || 14;
      const by = [];
      for (let i = n - 1; i >= 0; i--) by.push({ day: new Date(Date.now() - i * 86400e3).toISOString().slice(0, 10), total: 0, ok: 0, errors: 0 });
      for (const l of st.logs.filter((x) => x.owner_id === u.id)) {
        const d = by.find((b) => b.day === l.time.slice(0, 10));
        if (!d) continue;
        d.total += 1;
        if (l.status < 400) d.ok += 1; else d.errors += 1;
      }
      return send(res, 200, { days: n, since: `${by[0].day}T00:00:00.000Z`, total: by.reduce((a, b) => a + b.total, 0), ok: by.reduce((a, b) => a + b.ok, 0), errors: by.reduce((a, b) => a + b.errors, 0), by_day: by, by_status: [] });
    }
    if (m === 'GET' && p === '/admin/users') return send(res, 200, st.users.filter((x) => x.username.toLowerCase().includes((url.searchParams.get('q') || '').toLowerCase())).slice(Number(url.searchParams.get('offset') || 0), Number(url.searchParams.get('offset') || 0) + Number(url.searchParams.get('limit') || 100)).map((x) => ({ id: x.id, username: x.username, role: x.role, disabled: x.disabled, rpm_override: x.rpm_override, rpm_limit: rpm(x), contributed_keys: st.keys.filter((k) => k.owner_id === x.id).length, healthy_keys: healthy(x), requests_today: st.logs.filter((l) => l.owner_id === x.id).length, created_at: x.created_at })));
    if (m === 'PATCH' && p.startsWith('/admin/users/')) {
      const x = st.users.find((y) => y.id === id);
      if (!x) return fail(res, 404, 'not_found', 'no such user');
      for (const f of ['role', 'disabled', 'rpm_override']) if (body[f] !== undefined) x[f] = body[f];
      return send(res, 200, { id: x.id, username: x.username, role: x.role });
    }
    if (m === 'GET' && p === '/admin/keys') return send(res, 200, st.keys.map((k) => ({ ...pub(k), owner: st.users.find((x) => x.id === k.owner_id)?.username })));
    if (p.startsWith('/admin/keys/')) {
      const k = st.keys.find((x) => x.id === id);
      if (!k) return fail(res, 404, 'not_found', 'no such key');
      if (m === 'POST' && idm[2]) { k.last_checked_at = new Date().toISOString(); return send(res, 200, pub(k)); }
      if (m === 'PATCH') { k.state = body.enabled === false ? 'disabled' : 'pending'; return send(res, 200, pub(k)); }
    }
    if (p === '/admin/config' && m === 'GET') return send(res, 200, { settings: Object.entries(st.config).map(([key, v]) => ({ key, ...v })) });
    if (p === '/admin/config' && m === 'PUT') {
      for (const k of Object.keys(body)) {
        if (!st.config[k]) return fail(res, 400, 'bad_request', `unknown setting ${k}`);
        if (st.config[k].read_only) return fail(res, 400, 'bad_request', `${k} cannot be changed online`);
      }
      for (const [k, v] of Object.entries(body)) Object.assign(st.config[k], { value: v, source: 'db' });
      return send(res, 200, { settings: Object.entries(st.config).map(([key, v]) => ({ key, ...v })) });
    }
    if (p === '/admin/proxies' && m === 'GET') return send(res, 200, st.proxies);
    if (p === '/admin/proxies' && m === 'POST') {
      const x = { id: ++st.seq, url: String(body.url).replace(/:[^:@/]+@/, ':•••@'), name: body.name || '', state: 'unknown', enabled: true, latency_ms: null, failures: 0, last_checked_at: null, last_error: null };
      st.proxies.push(x);
      return send(res, 201, x);
    }
    if (p.startsWith('/admin/proxies/')) {
      const x = st.proxies.find((y) => y.id === id);
      if (!x) return fail(res, 404, 'not_found', 'no such proxy');
      if (m === 'DELETE') { st.proxies.splice(st.proxies.indexOf(x), 1); return send(res, 204); }
      if (m === 'PATCH') { if (body.enabled !== undefined) x.enabled = body.enabled; return send(res, 200, x); }
    }
    if (m === 'GET' && p === '/admin/audit') {
      let rows = st.audit;
      const before = url.searchParams.get('before');
      if (before) rows = rows.filter((e) => e.id < Number(before.split('_')[1]));
      const ty = url.searchParams.get('type');
      if (ty) rows = rows.filter((e) => (ty.endsWith('.') ? e.type.startsWith(ty) : e.type === ty));
      const limit = Math.min(200, Number(url.searchParams.get('limit')) || 50);
      return send(res, 200, rows.slice(0, limit));
    }
    if (m === 'GET' && p === '/admin/nodes') {
      const started = new Date(Date.now() - 7200e3).toISOString();
      const hb = new Date(Date.now() - 4e3).toISOString();
      return send(res, 200, { leader: 'node-a', nodes: ['gateway', 'auth', 'pool', 'audit', 'health'].map((service) => ({ service, node_id: 'node-a', version: '0.1.0', started_at: started, last_heartbeat: hb })) });
    }
    if (m === 'GET' && p === '/admin/stats') {
      const now = Date.now();
      const counts = {};
      for (const k of st.keys) counts[k.state] = (counts[k.state] || 0) + 1;
      return send(res, 200, { keys_by_state: counts, queue_depth: 2, users: st.users.length, per_minute: Array.from({ length: 30 }, (_, i) => ({ minute: new Date(now - (29 - i) * 60e3).toISOString(), requests: 10 + ((i * 7) % 13), errors: (i * 3) % 4 })) });
    }
    return fail(res, 404, 'not_found', 'no such resource');
  }

  async function serveStatic(req, res, url) {
    let rel = decodeURIComponent(url.pathname);
    if (rel.endsWith('/')) rel += 'index.html';
    if (rel.split('/').some((seg) => seg.startsWith('.'))) return fail(res, 404, 'not_found', 'no such file');
    let file = path.join(WEB, rel);
    let data;
    try { data = await fs.readFile(file); } catch {
      if (path.extname(rel)) return fail(res, 404, 'not_found', 'no such file');
      file = path.join(WEB, 'index.html');
      data = await fs.readFile(file);
    }
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] || 'application/octet-stream', 'content-security-policy': CSP, 'x-content-type-options': 'nosniff', 'cache-control': 'no-cache' });
    res.end(data);
  }

  const API = /^\/(auth|client-keys|keys|logs|admin|v1)(\/|$)/;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    (API.test(url.pathname) ? api(req, res, url) : serveStatic(req, res, url)).catch((e) => fail(res, 500, 'internal', String(e)));
  });
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  const { port: bound } = server.address();
  return { url: `http://127.0.0.1:${bound}`, state: st, close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }) };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const m = await startMock({ port: Number(process.argv[2] || 0) });
  console.log(`mock API and web UI on ${m.url} (admin / admin-password-1, alice / alice-password-1)`);
}
