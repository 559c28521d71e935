// Authenticated internal calls (issue 11): every NNG message between services carries an
// HMAC-SHA256 under INTERNAL_SECRET (np/wire_mac.h). A raw NNG client speaking the SP protocol
// by hand, as any process that reaches a service port could, gets no answer without the
// secret and changes nothing; with the secret it is answered, and a replay of that very
// message is dropped. Drops are counted in /metrics.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createHmac, randomBytes } from 'node:crypto';
import { startCluster, psql, sleep, Proc, NAIPOOL, freePort } from './harness.mjs';

let stack;
before(async () => {
  stack = await startCluster({ pools: 1 });
});
after(async () => {
  await stack?.stop();
});

// ---- a tiny msgpack writer (maps, strings, small ints) ----
function mp(v) {
  if (typeof v === 'number') return Buffer.from([v]); // 0..127
  if (typeof v === 'string') {
    const b = Buffer.from(v);
    if (b.length < 32) return Buffer.concat([Buffer.from([0xa0 | b.length]), b]);
    return Buffer.concat([Buffer.from([0xd9, b.length]), b]);
  }
  const keys = Object.keys(v);
  return Buffer.concat([Buffer.from([0x80 | keys.length]), ...keys.flatMap((k) => [mp(k), mp(v[k])])]);
}

/** seal appends the trailer a service would: sender | counter | time ms | HMAC. */
function seal(body, secret) {
  const key = createHmac('sha256', secret).update('naipool internal messages v1').digest();
  const head = Buffer.alloc(24);
  randomBytes(8).copy(head, 0);
  head.writeBigUInt64BE(1n, 8);
  head.writeBigUInt64BE(BigInt(Date.now()), 16);
  const signed = Buffer.concat([body, head]);
  return Buffer.concat([signed, createHmac('sha256', key).update(signed).digest()]);
}

/** rawRequest opens a REQ connection to url (tcp://host:port) by hand and sends each body in
 * turn; returns the answers' bodies (null where none came within ms). */
async function rawRequest(url, bodies, ms = 1500) {
  const [, host, port] = url.match(/^tcp:\/\/([^:]+):(\d+)$/);
  const sock = net.connect(Number(port), host);
  await new Promise((res, rej) => { sock.once('connect', res); sock.once('error', rej); });
  let buf = Buffer.alloc(0);
  let wake = null;
  sock.on('data', (d) => { buf = Buffer.concat([buf, d]); wake?.(); });
  sock.write(Buffer.from([0, 0x53, 0x50, 0, 0, 48, 0, 0])); // SP header, protocol req (48)
  const answers = [];
  let id = 0x80000001;
  let greeted = false;
  for (const body of bodies) {
    const frame = Buffer.alloc(12);
    frame.writeBigUInt64BE(BigInt(4 + body.length), 0);
    frame.writeUInt32BE(id, 8);
    sock.write(Buffer.concat([frame, body]));
    const end = Date.now() + ms;
    let answer = null;
    while (Date.now() < end) {
      if (!greeted && buf.length >= 8) { buf = buf.subarray(8); greeted = true; }
      if (greeted && buf.length >= 8) {
        const n = Number(buf.readBigUInt64BE(0));
        if (buf.length >= 8 + n) {
          const msg = buf.subarray(8, 8 + n);
          buf = buf.subarray(8 + n);
          if (msg.readUInt32BE(0) === id) { answer = msg.subarray(4); break; }
        }
      }
      await Promise.race([new Promise((r) => { wake = r; }), sleep(50)]);
    }
    answers.push(answer);
    id++;
  }
  sock.destroy();
  return answers;
}

const metric = async (name) => {
  const r = await stack.api('GET', '/metrics');
  const m = r.text.match(new RegExp(`^${name}\\{[^}]*\\} (\\d+)$`, 'm'));
  return m ? Number(m[1]) : null;
};

test('a raw NNG client without the secret gets no answer and changes nothing', async () => {
  const name = 'raw_' + randomBytes(4).toString('hex');
  const register = mp({
    v: 1, op: 'http', m: 'POST', p: '/auth/register', q: '', ip: '203.0.113.5', rid: 'raw',
    b: JSON.stringify({ username: name, password: 'long-enough-password' }),
  });
  const before = await metric('naipool_auth_rpc_unauthenticated_total');
  assert.equal(before, 0);
  const forged = seal(register, 'not-the-secret-' + randomBytes(8).toString('hex'));
  const answers = await rawRequest(stack.env.AUTH_RPC_URL, [mp({ v: 1, op: 'ping' }), register, forged]);
  assert.deepEqual(answers, [null, null, null]);
  assert.equal(psql(stack.db, `SELECT count(*) FROM users WHERE username = '${name}'`)[0][0], '0');
  assert.equal(await metric('naipool_auth_rpc_unauthenticated_total'), 3);
});

test('with the secret the same client is answered once; the replayed message is dropped', async () => {
  const ping = seal(mp({ v: 1, op: 'ping' }), stack.env.INTERNAL_SECRET);
  const [first, replay] = await rawRequest(stack.env.AUTH_RPC_URL, [ping, ping]);
  assert.ok(first, 'no answer to a sealed ping');
  assert.ok(first.includes(Buffer.from('auth')), 'the answer names the service');
  assert.equal(replay, null);
});

test('in multi-node mode a service needs INTERNAL_SECRET and only its own secrets', async () => {
  const tcp = async () => `tcp://127.0.0.1:${await freePort()}`;
  const { SECRET_KEY, ENCRYPTION_KEY, INTERNAL_SECRET, ...rest } = stack.env;
  assert.ok(SECRET_KEY && ENCRYPTION_KEY);
  const own = {
    ...rest, NODE_ID: 'audit-x', AUDIT_RPC_LISTEN: await tcp(), EVENTS_LISTEN: await tcp(), ACKS_LISTEN: await tcp(),
    EVENTS_URL: 'tcp://127.0.0.1:9', ACKS_URL: 'tcp://127.0.0.1:9',
  };
  // audit holds neither SECRET_KEY nor ENCRYPTION_KEY
  const audit = new Proc('audit-x', NAIPOOL, ['audit'], { ...own, INTERNAL_SECRET });
  await audit.waitFor(/answering on/, 60000);
  await audit.stop();
  assert.equal(audit.sanitizerReport(), null);
  // without INTERNAL_SECRET no service starts
  const bare = new Proc('audit-y', NAIPOOL, ['audit'], own);
  const r = await bare.exited;
  assert.notEqual(r.code, 0);
  assert.match(bare.err, /INTERNAL_SECRET: required/);
});

test('an event published without the secret is dropped by audit and counted', async () => {
  const [, host, port] = stack.env.EVENTS_URL.match(/^tcp:\/\/([^:]+):(\d+)$/);
  const before = await metric('naipool_audit_messages_unauthenticated_total');
  const sock = net.connect(Number(port), host);
  await new Promise((res, rej) => { sock.once('connect', res); sock.once('error', rej); });
  sock.write(Buffer.from([0, 0x53, 0x50, 0, 0, 32, 0, 0])); // SP header, protocol pub (32)
  const body = seal(mp({ v: 1, p: 'forged', e: 'x' }), 'not-the-secret-' + randomBytes(8).toString('hex'));
  const frame = Buffer.alloc(8);
  frame.writeBigUInt64BE(BigInt(body.length), 0);
  // the subscriber needs a moment to take the new pipe; send a few times
  for (let i = 0; i < 5; i++) { sock.write(Buffer.concat([frame, body])); await sleep(200); }
  let after = before;
  for (let i = 0; i < 50 && after === before; i++) {
    after = await metric('naipool_audit_messages_unauthenticated_total');
    await sleep(100);
  }
  sock.destroy();
  assert.ok(after > before, `unauthenticated events counted: ${before} -> ${after}`);
  assert.equal(psql(stack.db, "SELECT count(*) FROM audit_events WHERE producer_id = 'forged'")[0][0], '0');
});
