// Postgres restarted (or every session ended by an operator, a failover, a proxy): the
// connections the services keep idle are dead, and libpq only learns it at their next use.
// The first requests after the server is back must be answered, not 503 "database_unavailable"
// once for each stale connection a service hands out (`make deploy-test` saw one after a
// Postgres restart).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, newUser, pstToken, psql, until } from './harness.mjs';

const imageBody = (seed) => ({ input: 'x', model: 'nai-diffusion-4-5-full', action: 'generate',
  parameters: { width: 832, height: 1216, steps: 28, n_samples: 1, seed } });

test('after every database session is ended, the next requests are answered from fresh connections', async () => {
  const key = pstToken();
  const stack = await startStack({ tokens: [{ token: key, anlas: 1e6 }] });
  try {
    const user = await newUser(stack, 'reconnect');
    assert.equal((await stack.api('POST', '/keys', { token: user.token, json: { token: key } })).status, 201);
    // warm every pool: sign-ins (auth), key lists and generations (pool), so each holds idle
    // connections
    for (let i = 0; i < 6; i++) {
      assert.equal((await stack.api('GET', '/keys', { token: user.token })).status, 200);
      assert.equal((await stack.api('POST', '/v1/novelai/ai/generate-image', { token: user.token, json: imageBody(i) })).status, 200);
    }
    // what a restart does to them: the server ends every session of this database but this one
    const ended = psql(stack.db, 'SELECT pid FROM pg_stat_activity WHERE datname = current_database() ' +
      'AND CASE WHEN pid = pg_backend_pid() THEN false ELSE pg_terminate_backend(pid) END').map((r) => r[0]);
    assert.ok(ended.length >= 3, `sessions ended: ${ended.length}`);
    await until('the ended sessions are gone', () =>
      psql(stack.db, `SELECT count(*) FROM pg_stat_activity WHERE pid IN (${ended.join(',')})`)[0][0] === '0');
    const answers = [];
    for (let i = 0; i < 6; i++) {
      const k = await stack.api('GET', '/keys', { token: user.token });
      const g = await stack.api('POST', '/v1/novelai/ai/generate-image', { token: user.token, json: imageBody(100 + i) });
      const l = await stack.api('POST', '/auth/login', { json: { username: user.username, password: user.password } });
      answers.push(`${k.status} ${g.status} ${l.status}`);
    }
    assert.deepEqual(answers, Array(6).fill('200 200 200'));
  } finally {
    await stack.stop();
  }
});
