// Lossless events across an audit crash: producers and audit run as separate processes on
// TCP; audit is killed with SIGKILL in the middle of a stream of 10,000 events and started
// again, and every event ends up stored exactly once. Also: two audit instances side by
// side, one of them killed, still exactly once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { NAIPOOL, LSAN_OPTIONS, Proc, createDatabase, freePort, sleep, psql } from './harness.mjs';

const PRODUCER = join(dirname(dirname(NAIPOOL)), 'tests/service/audit/event-producer');

function commonEnv(db) {
  return {
    DATABASE_URL: db,
    MULTI_NODE_ENABLED: 'true',
    SECRET_KEY: randomBytes(36).toString('base64url'),
    ENCRYPTION_KEY: randomBytes(32).toString('base64url'),
    INTERNAL_SECRET: randomBytes(36).toString('base64url'),
    LOG_LEVEL: 'info',
    ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=0:exitcode=23',
    LSAN_OPTIONS,
    UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1',
  };
}

async function addrs() {
  return {
    events: `tcp://127.0.0.1:${await freePort()}`,
    acks: `tcp://127.0.0.1:${await freePort()}`,
    rpc: `tcp://127.0.0.1:${await freePort()}`,
  };
}

// startAudit starts an audit instance on the addresses a. freePort's port can be taken by
// another process before audit binds it (a busy machine runs many tests): a start that fails
// with "Address in use" is tried again on fresh ports, written back into a, unless the
// addresses are fixed (a restart that producers already dial).
async function startAudit(name, env, a, { fixed = false } = {}) {
  for (let attempt = 1; ; attempt++) {
    const p = new Proc(name, NAIPOOL, ['audit'], {
      ...env, NODE_ID: name, EVENTS_LISTEN: a.events, ACKS_LISTEN: a.acks, AUDIT_RPC_LISTEN: a.rpc,
    });
    try {
      await p.waitFor(/receiving events on/);
      return p;
    } catch (e) {
      await p.stop('SIGKILL');
      if (fixed || attempt === 5 || !/Address in use/.test(p.out + p.err)) throw e;
      Object.assign(a, await addrs());
    }
  }
}

function startProducer(name, env, audits, count) {
  // 50 events every 20 ms: a stream of a couple of seconds, long enough to kill audit inside it.
  return new Proc(name, PRODUCER, [String(count), '50', '20'], {
    ...env, NODE_ID: name,
    EVENTS_URL: audits.map((a) => a.events).join(','),
    ACKS_URL: audits.map((a) => a.acks).join(','),
    EVENTS_RESEND_MS: '300',
    EVENTS_OUTBOX_MAX: '20000',
  });
}

const rows = (db) => Number(psql(db, 'SELECT count(*) FROM usage_logs')[0][0]);

async function waitExit(p, ms = 400000) {
  const t = setTimeout(() => p.child.kill('SIGKILL'), ms);
  const r = await p.exited;
  clearTimeout(t);
  return r;
}

function assertExactlyOnce(db, producers, each) {
  const [[total, distinct, nprod]] = psql(db,
    'SELECT count(*), count(DISTINCT (producer_id, seq)), count(DISTINCT producer_id) FROM usage_logs');
  assert.equal(Number(total), producers * each, 'every event stored');
  assert.equal(Number(distinct), producers * each, 'no event stored twice');
  assert.equal(Number(nprod), producers);
  for (const [, min, max, n] of psql(db,
    'SELECT producer_id, min(seq), max(seq), count(*) FROM usage_logs GROUP BY 1')) {
    assert.deepEqual([Number(min), Number(max), Number(n)], [1, each, each]);
  }
}

test('audit killed with SIGKILL during 10,000 events: all stored exactly once', { timeout: 480000 }, async () => {
  const db = createDatabase();
  const env = commonEnv(db);
  execFileSync(NAIPOOL, ['migrate'], { env: { ...process.env, ...env }, stdio: 'ignore' });
  const a = await addrs();
  let audit = await startAudit('audit-1', env, a);
  const producers = [startProducer('prod-1', env, [a], 5000), startProducer('prod-2', env, [a], 5000)];
  try {
    await producers[0].waitFor(/emitted 1000/);
    for (let i = 0; i < 400 && rows(db) === 0; i++) await sleep(25);
    assert.ok(rows(db) > 0, 'audit stores while the stream runs');
    audit.child.kill('SIGKILL');
    await audit.exited;
    const atKill = rows(db);
    assert.ok(atKill < 10000, 'the kill happened inside the stream');
    // The stream goes on while audit is down; the producers keep the events in their outbox.
    await producers[1].waitFor(/emitted 3000/);
    audit = await startAudit('audit-1b', env, a, { fixed: true });
    const results = await Promise.all(producers.map((p) => waitExit(p)));
    for (const [i, r] of results.entries()) {
      assert.equal(r.code, 0, `producer ${i + 1} drained: ${producers[i].out}${producers[i].err}`);
      assert.match(producers[i].out, /done emitted=5000 dropped=0 .* depth=0/);
    }
    // Events published while audit was down were lost on the wire and came back as re-sends.
    const resent = producers.map((p) => Number(p.out.match(/resent=(\d+)/)[1]));
    assert.ok(resent[0] + resent[1] > 0, `re-sends happened: ${resent}`);
    assertExactlyOnce(db, 2, 5000);
  } finally {
    for (const p of producers) await p.stop('SIGKILL');
    await audit.stop();
  }
  assert.equal(audit.sanitizerReport(), null);
});

test('two audit instances side by side, one killed: still exactly once', { timeout: 480000 }, async () => {
  const db = createDatabase();
  const env = commonEnv(db);
  execFileSync(NAIPOOL, ['migrate'], { env: { ...process.env, ...env }, stdio: 'ignore' });
  const a1 = await addrs();
  const a2 = await addrs();
  const first = await startAudit('audit-a', env, a1);
  let second, producers = [];
  try {
    second = await startAudit('audit-b', env, a2);
    producers = [startProducer('prod-a', env, [a1, a2], 5000), startProducer('prod-b', env, [a1, a2], 5000)];
    await producers[0].waitFor(/emitted 2000/);
    first.child.kill('SIGKILL');
    const results = await Promise.all(producers.map((p) => waitExit(p)));
    for (const [i, r] of results.entries()) {
      assert.equal(r.code, 0, `producer ${i + 1} drained: ${producers[i].out}${producers[i].err}`);
    }
    assertExactlyOnce(db, 2, 5000);
  } finally {
    for (const p of producers) await p.stop('SIGKILL');
    await first.stop('SIGKILL');
    await second?.stop();
  }
  assert.equal(second.sanitizerReport(), null);
});
