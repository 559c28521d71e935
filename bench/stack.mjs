// Benchmark stack: the fake NovelAI upstream with K keys at latency L and `naipool all` with
// limits out of the way, both on 127.0.0.1 only, plus users with contributed keys. Prints one
// JSON line {url, fake, tokens:[...jwt], keys:[...]} and keeps running until stdin closes or SIGTERM.
// Usage: node bench/stack.mjs K LATENCY_MS USERS
import { startStack, newUser, pstToken } from '../tests/e2e/harness.mjs';

const [K = '4', L = '500', U = '8'] = process.argv.slice(2);
const keys = Array.from({ length: Number(K) }, () => pstToken());
const stack = await startStack({
  tokens: keys.map((token) => ({ token, anlas: 1e9 })),
  latencyMs: Number(L),
  env: {
    // one user with 16 keys: 1,000,000 requests/minute (MAX_RPM), far above what the box serves
    LOG_LEVEL: 'warn', BASE_RPM: '100000', PER_KEY_RPM: '100000', MAX_RPM: '1000000',
    USER_QUEUE_MAX: '100000', USER_MAX_CONCURRENCY: '10000', QUEUE_TIMEOUT_SECONDS: '600',
    AUTH_REGISTER_RATE_LIMIT_PER_MINUTE: '100000', AUTH_LOGIN_RATE_LIMIT_PER_MINUTE: '100000',
  },
});
const users = [];
for (let i = 0; i < Number(U); i++) users.push(await newUser(stack, 'bench'));
for (let i = 0; i < keys.length; i++) {
  const r = await stack.api('POST', '/keys', { token: users[i % users.length].token, json: { token: keys[i] } });
  if (r.status !== 201) throw new Error('contribute: ' + r.text);
}
console.log(JSON.stringify({ url: stack.url, fake: stack.fake.url, tokens: users.map((u) => u.token), keys }));
const stop = async () => { await stack.stop().catch(() => {}); process.exit(0); };
process.stdin.resume();
process.stdin.on('end', stop);
process.on('SIGTERM', stop);
