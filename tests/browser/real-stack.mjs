// Development aid: start the real suite (fake upstream + Postgres + naipool all) through the
// end-to-end harness and keep it running, printing the URL, the admin login and a few
// persistent tokens the fake upstream accepts.   NP_BUILD_DIR=build node real-stack.mjs
import { startStack, pstToken } from '../e2e/harness.mjs';

const tokens = [pstToken(), pstToken(), pstToken()];
const stack = await startStack({
  tokens: [
    { token: tokens[0], tier: 3, active: true, anlas: 1000 },
    { token: tokens[1], tier: 3, active: true, anlas: 50, behaviour: 'broke' },
    { token: tokens[2], tier: 3, active: true, behaviour: 'invalid' },
  ],
});
console.log(JSON.stringify({ url: stack.url, admin: stack.admin, tokens, fake: stack.fake.url }, null, 1));
const stop = async () => { await stack.stop().catch((e) => console.error(String(e))); process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
setInterval(() => {}, 1 << 30);
