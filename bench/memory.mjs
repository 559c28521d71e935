// Memory figures of `naipool all` (bench/run part 3), read from /proc/PID/status: VmRSS (resident
// now) and VmHWM (peak resident) of the naipool process and any children, in MB (2^20 bytes).
// Prints one JSON line per figure. Only 127.0.0.1 (the stack's URL) is contacted.
// Usage: node bench/memory.mjs STACK_JSON idle
//        node bench/memory.mjs STACK_JSON hostile
//        node bench/memory.mjs STACK_JSON queue N SOAK_MINUTES CHURN_PER_SECOND
//   idle     the figures now (the stack set up, no request running);
//   hostile  one authenticated POST /v1/novelai/ai/generate-image whose JSON carries a 30 MiB
//            "pad":[0,0,...] array (#10): peak before and after, resident after;
//   queue    N generations held open (the fake is slow, so all but a few wait for a key), the
//            figures once they wait; then SOAK_MINUTES with requests arriving and leaving (each
//            second CHURN_PER_SECOND random waiting clients hang up and as many new ones come,
//            and every answer is replaced), sampled each minute; then all clients leave.
import http from 'node:http';
import { readFileSync, readdirSync } from 'node:fs';

const [json, mode, ...args] = process.argv.slice(2);
const s = JSON.parse(json);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const url = new URL(s.url);

/** The pids of pid and its descendants. */
function tree(pid) {
  const out = [pid];
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    let kids = '';
    try { kids = readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8'); } catch { continue; }
    for (const k of kids.split(/\s+/).filter(Boolean)) out.push(...tree(Number(k)));
  }
  return out;
}

/** rss: {rss_mb, hwm_mb, threads, procs} summed over the naipool process tree. */
function rss() {
  let rssKb = 0, hwmKb = 0, threads = 0;
  const pids = tree(s.pid);
  for (const p of pids) {
    const st = readFileSync(`/proc/${p}/status`, 'utf8');
    rssKb += Number(st.match(/^VmRSS:\s+(\d+) kB/m)[1]);
    hwmKb += Number(st.match(/^VmHWM:\s+(\d+) kB/m)[1]);
    threads += Number(st.match(/^Threads:\s+(\d+)/m)[1]);
  }
  return { rss_mb: +(rssKb / 1024).toFixed(1), hwm_mb: +(hwmKb / 1024).toFixed(1), threads, procs: pids.length };
}

/** The /metrics text ('' when it cannot be read). */
async function scrape() {
  const r = await fetch(s.url + '/metrics').catch(() => null);
  return r ? r.text() : '';
}

/** The pool's queue depth in metrics text t, -1 when absent. */
function depthIn(t) {
  const m = t.match(/^naipool_pool_queue_depth\{[^}]*\} (\d+)/m);
  return m ? Number(m[1]) : -1;
}

const depth = async () => depthIn(await scrape());

/** A sample's queue depth and malloc's figures (naipool_process_heap_bytes, MB) from one scrape:
 * what live blocks use and what malloc holds from the system; a leak grows the first,
 * fragmentation the second. */
async function figures() {
  const t = await scrape();
  const mb = (state) => {
    const m = t.match(new RegExp(`^naipool_process_heap_bytes\\{state="${state}"\\} (\\d+)$`, 'm'));
    return m ? +(Number(m[1]) / 1048576).toFixed(1) : -1;
  };
  return { depth: depthIn(t), heap_in_use_mb: mb('in_use'), heap_held_mb: mb('held') };
}

function print(o) { console.log(JSON.stringify(o)); }

const imageBody = (extra = '') => '{"input":"bench","model":"nai-diffusion-4-5-full","action":"generate",' +
  '"parameters":{"width":832,"height":1216,"steps":28,"n_samples":1,"seed":1}' + extra + '}';

if (mode === 'idle') {
  print({ part: 'idle', ...rss() });
} else if (mode === 'hostile') {
  const zeros = 15 * 1024 * 1024;
  const body = imageBody(',"pad":[' + '0,'.repeat(zeros - 1) + '0]');
  const before = rss();
  const t0 = Date.now();
  const r = await fetch(s.url + '/v1/novelai/ai/generate-image', {
    method: 'POST', body, headers: { authorization: 'Bearer ' + s.tokens[0], 'content-type': 'application/json' },
  });
  const text = await r.text();
  const ms = Date.now() - t0;
  await sleep(2000);
  const after = rss();
  print({ part: 'hostile', body_mib: +(body.length / 1048576).toFixed(1), status: r.status,
    answer: text.slice(0, 120), ms, hwm_before_mb: before.hwm_mb, hwm_after_mb: after.hwm_mb,
    rss_before_mb: before.rss_mb, rss_after_mb: after.rss_mb });
  if (r.status !== 400 && r.status !== 413) process.exit(1);
} else if (mode === 'queue') {
  const [N = '10000', MIN = '10', CHURN = '20'] = args.map(String);
  const n = Number(N), churn = Number(CHURN);
  const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
  const body = imageBody();
  const open = new Map(); // id -> ClientRequest
  const answers = {}, samples_of = {}; // counts by status, and the first body of each
  let nextId = 0, left = 0, errors = 0, running = true;
  const start = () => {
    const id = nextId++;
    const req = http.request({
      host: url.hostname, port: url.port, path: '/v1/novelai/ai/generate-image', method: 'POST', agent,
      headers: { authorization: 'Bearer ' + s.tokens[id % s.tokens.length], 'content-type': 'application/json',
        'content-length': Buffer.byteLength(body) },
    }, (res) => {
      let text = '';
      res.on('data', (d) => { if (text.length < 200) text += d; });
      res.on('end', () => {
        answers[res.statusCode] = (answers[res.statusCode] || 0) + 1;
        if (!(res.statusCode in samples_of) && res.statusCode !== 200) {
          samples_of[res.statusCode] = text.slice(0, 200);
          console.error(`first ${res.statusCode} answer: ${samples_of[res.statusCode]}`);
        }
        if (open.delete(id) && running) start();
      });
    });
    req.on('error', () => {
      if (open.delete(id)) { errors++; if (running) start(); }
    });
    req.end(body);
    open.set(id, req);
  };
  const hangUp = () => { // a random waiting client leaves
    const ids = [...open.keys()];
    const id = ids[Math.floor(Math.random() * ids.length)];
    const req = open.get(id);
    open.delete(id);
    req.destroy();
    left++;
  };
  const base = rss();
  // Ramp up in steps, so the listen backlog and the auth cache are not the subject.
  for (let i = 0; i < n; i += 250) {
    for (let j = i; j < Math.min(n, i + 250); j++) start();
    await sleep(100);
  }
  const until = Date.now() + 180000;
  let d = await depth();
  while (d < n - (s.keys?.length ?? 0) * 2 && Date.now() < until) {
    await sleep(1000);
    d = await depth();
  }
  await sleep(3000);
  const full = { part: 'queue', minute: 0, ...(await figures()), clients: open.size, ...rss(),
    base_rss_mb: base.rss_mb, answers: { ...answers }, errors };
  print(full);
  if (full.depth < n * 0.9) {
    console.error(`only ${full.depth} of ${n} requests are waiting`);
    process.exit(1);
  }
  const samples = [full];
  for (let m = 1; m <= Number(MIN); m++) {
    const end = Date.now() + 60000;
    while (Date.now() < end) {
      for (let k = 0; k < churn && open.size > 0; k++) { hangUp(); start(); }
      await sleep(1000);
    }
    const o = { part: 'soak', minute: m, ...(await figures()), clients: open.size, ...rss(),
      answers: { ...answers }, left, errors };
    samples.push(o);
    print(o);
  }
  running = false;
  for (const req of open.values()) req.destroy();
  open.clear();
  const gone = Date.now() + 60000;
  while ((await depth()) > 0 && Date.now() < gone) await sleep(500);
  await sleep(5000);
  const rs = samples.map((x) => x.rss_mb);
  const hs = samples.map((x) => x.heap_in_use_mb);
  const first = Math.min(1, rs.length - 1);
  print({ part: 'drained', ...(await figures()), ...rss(), soak_rss_min_mb: Math.min(...rs.slice(1)),
    soak_rss_max_mb: Math.max(...rs.slice(1)), growth_mb_first_to_last: +(rs[rs.length - 1] - rs[first]).toFixed(1),
    heap_in_use_growth_mb_first_to_last: +(hs[hs.length - 1] - hs[first]).toFixed(1) });
  agent.destroy();
} else {
  console.error('usage: memory.mjs STACK_JSON idle|hostile|queue N MINUTES CHURN');
  process.exit(2);
}
process.exit(0);
