// Benchmark stack: the fake NovelAI upstream with K keys at latency L and `naipool all` with
// limits out of the way, both on 127.0.0.1 only, plus users with contributed keys. Prints one
// JSON line {url, fake, pid, tokens:[...jwt], keys:[...]} and keeps running until stdin closes
// or SIGTERM. STACK_ENV (a JSON object; bench/run's parts set it) and then BENCH_ENV (the same,
// given by whoever runs the bench) add or override naipool's environment; with
// BENCH_LOG_DIR set, the output of naipool and of the fake goes to naipool.out, naipool.err,
// fake.out and fake.err there, as it comes.
// Usage: node bench/stack.mjs K LATENCY_MS USERS
import { createWriteStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startStack, newUser, pstToken } from '../tests/e2e/harness.mjs';

/** keep writes what proc printed so far to DIR/NAME.{out,err}, then what it prints next. */
function keep(dir, name, proc) {
  for (const [stream, past, ext] of [[proc.child.stdout, proc.out, 'out'], [proc.child.stderr, proc.err, 'err']]) {
    const f = createWriteStream(join(dir, `${name}.${ext}`), { flags: 'a' }); // a part may start several
    f.write(`==== ${new Date().toISOString()} stack ${process.argv.slice(2).join(' ')}\n` + past);
    stream.on('data', (d) => f.write(d));
  }
}

const [K = '4', L = '500', U = '8'] = process.argv.slice(2);
const keys = Array.from({ length: Number(K) }, () => pstToken());
const stack = await startStack({
  tokens: keys.map((token) => ({ token, anlas: 1e9 })),
  latencyMs: Number(L),
  env: {
    // one user with 16 keys: 1,000,000 requests/minute (MAX_RPM), far above what the box serves
    LOG_LEVEL: 'warn', BASE_RPM: '100000', PER_KEY_RPM: '100000', MAX_RPM: '1000000',
    USER_QUEUE_MAX: '100000', USER_MAX_CONCURRENCY: '10000', QUEUE_TIMEOUT_SECONDS: '600',
    KEY_UPLOADS_PER_HOUR: '0', // one user contributes all 16 keys
    AUTH_REGISTER_RATE_LIMIT_PER_MINUTE: '100000', AUTH_LOGIN_RATE_LIMIT_PER_MINUTE: '100000',
    ...JSON.parse(process.env.STACK_ENV || '{}'),
    ...JSON.parse(process.env.BENCH_ENV || '{}'),
  },
});
if (process.env.BENCH_LOG_DIR) {
  keep(process.env.BENCH_LOG_DIR, 'naipool', stack.proc);
  keep(process.env.BENCH_LOG_DIR, 'fake', stack.fake.proc);
}
// Resident memory of naipool once ready, before any user exists (VmRSS, MB).
const bootRss = Number(readFileSync(`/proc/${stack.proc.child.pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m)[1]) / 1024;
const users = [];
try {
  if (keys.length > 0 && Number(U) < 1) throw new Error('keys need at least one user');
  for (let i = 0; i < Number(U); i++) users.push(await newUser(stack, 'bench'));
  for (let i = 0; i < keys.length; i++) {
    const r = await stack.api('POST', '/keys', { token: users[i % users.length].token, json: { token: keys[i] } });
    if (r.status !== 201) throw new Error('contribute: ' + r.text);
  }
} catch (e) {
  await stack.stop().catch(() => {}); // not left running behind a failed setup
  throw e;
}
console.log(JSON.stringify({ url: stack.url, fake: stack.fake.url, pid: stack.proc.child.pid,
  boot_rss_mb: +bootRss.toFixed(1), tokens: users.map((u) => u.token), keys }));
const stop = async () => { await stack.stop().catch(() => {}); process.exit(0); };
process.stdin.resume();
process.stdin.on('end', stop);
process.on('SIGTERM', stop);
