// Health leader election: two `naipool health` instances and one `naipool all` share one
// database; the leader is frozen with SIGSTOP and another instance takes over within 10 s;
// after SIGCONT the old leader steps down. GET /admin/nodes shows the instances and the leader.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  NAIPOOL, Proc, startFake, createDatabase, stackEnv, freePort, psql, api, login, sleep, until } from './harness.mjs';

function leaderNode(db) {
  const rows = psql(db, `SELECT substr(a.application_name, 16) FROM pg_locks l
    JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory'
    AND l.classid = 1313817676 AND l.objid = 1 AND l.objsubid = 2 AND l.granted
    AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`);
  return rows.length ? rows[0][0] : null;
}

test('a frozen leader is replaced within 10 s and steps down when it thaws', async () => {
  const fake = await startFake({});
  const db = createDatabase();
  const base = stackEnv(db, fake.url, {
    MULTI_NODE_ENABLED: 'true',
    HEALTH_LEADER_TIMEOUT_SECONDS: '3',
    NODE_HEARTBEAT_SECONDS: '1',
    EVENTS_URL: `tcp://127.0.0.1:${await freePort()}`,
    ACKS_URL: `tcp://127.0.0.1:${await freePort()}`,
    AUDIT_RPC_URL: `tcp://127.0.0.1:${await freePort()}`,
  });
  const procs = [];
  const dataDir = mkdtempSync(join(tmpdir(), 'np-data-'));
  try {
    const start = async (node, args, extra = {}) => {
      const p = new Proc(node, NAIPOOL, args, { ...base, NODE_ID: node, ...extra });
      procs.push(p);
      return p;
    };
    const a = await start('health-a', ['health'],
      { HEALTH_RPC_LISTEN: `tcp://127.0.0.1:${await freePort()}` });
    await a.waitFor(/health-a\) is now the health leader/);
    assert.equal(leaderNode(db), 'health-a');
    const b = await start('health-b', ['health'],
      { HEALTH_RPC_LISTEN: `tcp://127.0.0.1:${await freePort()}` });
    await b.waitFor(/answering on/);
    // A whole suite on the same database: its gateway serves /admin/nodes.
    const all = await start('suite', ['all'], { PORT: '0', DATA_DIR: dataDir, MULTI_NODE_ENABLED: 'false' });
    const m = await all.waitFor(/serving http:\/\/127\.0\.0\.1:(\d+)\//, 60000);
    const url = `http://127.0.0.1:${m[1]}`;
    const token = await login(url, base.ADMIN_USERNAME, base.ADMIN_PASSWORD);

    const nodes = await until('three health instances in /admin/nodes', async () => {
      const r = await api(url, 'GET', '/admin/nodes', { token });
      assert.equal(r.status, 200, r.text);
      const h = r.json.nodes.filter((n) => n.service === 'health' && n.alive);
      return h.length === 3 ? r.json : null;
    });
    assert.equal(nodes.leader.node, 'health-a');
    const rowA = nodes.nodes.find((n) => n.node_id === 'health-a' && n.service === 'health');
    assert.equal(rowA.leader, true);
    assert.match(rowA.version, /^\d+\.\d+/);
    assert.ok(rowA.started_at && rowA.last_seen);
    for (const svc of ['auth', 'pool', 'audit']) {
      assert.ok(nodes.nodes.some((n) => n.service === svc && n.node_id === 'suite'), svc);
    }
    // 403 for a non-admin is the gateway's job; a wrong method is ours.
    const bad = await api(url, 'DELETE', '/admin/nodes', { token });
    assert.ok(bad.status === 404 || bad.status === 405);

    // Freeze the leader: another instance takes over within 10 s.
    a.child.kill('SIGSTOP');
    const frozenAt = Date.now();
    const next = await until('a new leader', () => {
      const l = leaderNode(db);
      return l && l !== 'health-a' ? l : null;
    }, 15000);
    assert.ok(Date.now() - frozenAt < 10000, `takeover took ${Date.now() - frozenAt} ms`);
    assert.ok(['health-b', 'suite'].includes(next));
    const after = await until('the new leader in /admin/nodes', async () => {
      const r = await api(url, 'GET', '/admin/nodes', { token });
      return r.json.leader && r.json.leader.node === next ? r.json : null;
    });
    assert.equal(after.nodes.find((n) => n.node_id === 'health-a').leader, false);

    // Thaw the old leader: it finds its session gone and steps down; the new one stays.
    a.child.kill('SIGCONT');
    await a.waitFor(/stepping down as leader/, 15000);
    await sleep(2000);
    assert.equal(leaderNode(db), next);
    const count = (a.err.match(/is now the health leader/g) || []).length;
    assert.equal(count, 1, 'the old leader did not take the lock back');
  } finally {
    for (const p of procs.reverse()) {
      p.child.kill('SIGCONT');
      await p.stop();
    }
    await fake.stop();
    rmSync(dataDir, { recursive: true, force: true });
    for (const p of procs) {
      const rep = p.sanitizerReport();
      if (rep) throw new Error(`sanitizer report from ${p.name}:\n${rep}`);
    }
  }
});
