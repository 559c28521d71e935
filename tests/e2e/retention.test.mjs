// Log retention: the health leader deletes usage rows older than LOG_RETENTION_DAYS and audit
// events older than AUDIT_RETENTION_DAYS, in small batches, and keeps everything newer.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, psql, sleep, until } from './harness.mjs';

let stack;
after(async () => { await stack?.stop(); });

test('the leader deletes old logs in batches and keeps recent ones', async () => {
  stack = await startStack({
    env: { LOG_RETENTION_DAYS: '30', AUDIT_RETENTION_DAYS: '90', HEALTH_RETENTION_BATCH: '7',
      HEALTH_HOUSEKEEPING_SECONDS: '1' },
  });
  psql(stack.db, `INSERT INTO usage_logs (producer_id, seq, time, route, status)
    SELECT 'old-test', g, now() - interval '40 days' - g * interval '1 minute', '/ai/generate-image', 200
    FROM generate_series(1, 23) g`);
  psql(stack.db, `INSERT INTO usage_logs (producer_id, seq, time, route, status)
    SELECT 'new-test', g, now() - interval '29 days', '/ai/generate-image', 200
    FROM generate_series(1, 3) g`);
  psql(stack.db, `INSERT INTO audit_events (producer_id, seq, time, type, details)
    SELECT 'old-test', g, now() - interval '100 days', 'test.old', '{}'::jsonb
    FROM generate_series(1, 9) g`);
  const count = (sql) => Number(psql(stack.db, sql)[0][0]);
  const end = Date.now() + 30000;
  while (Date.now() < end) {
    if (count("SELECT count(*) FROM usage_logs WHERE producer_id = 'old-test'") === 0 &&
        count("SELECT count(*) FROM audit_events WHERE producer_id = 'old-test'") === 0) break;
    await sleep(200);
  }
  assert.equal(count("SELECT count(*) FROM usage_logs WHERE producer_id = 'old-test'"), 0);
  assert.equal(count("SELECT count(*) FROM audit_events WHERE producer_id = 'old-test'"), 0);
  assert.equal(count("SELECT count(*) FROM usage_logs WHERE producer_id = 'new-test'"), 3);
  // health logs a batch after audit's answer arrives, which is after the rows are gone
  await until('the retention log line', () => /log retention: deleted/.test(stack.proc.err));
});
