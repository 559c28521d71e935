// End-to-end flows in the browser against the real suite: the fake NovelAI upstream, a
// Postgres database and `naipool all`, started by tests/e2e/harness.mjs. A step whose
// back-end operation does not exist yet (the service answers 404 "unknown operation") is
// skipped with that reason, never faked; everything else must pass.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { launch, newPage, screenshot, assertClean, signIn } from './lib.mjs';
import { startStack, pstToken, sleep } from '../e2e/harness.mjs';

const GOOD = pstToken();
let stack;
let browser;
const user = { username: `web_${randomBytes(4).toString('hex')}`, password: `pw-${randomBytes(12).toString('base64url')}` };
const state = {};

before(async () => {
  stack = await startStack({ tokens: [{ token: GOOD, tier: 3, active: true, anlas: 1000 }] });
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await stack?.stop();
});

// missing(r) names an operation the back-end has not built yet, or answers null.
function missing(r, what) {
  if (r.status === 404 && r.json && r.json.message === 'unknown operation') return `waiting for the back-end: ${what}`;
  if (r.status === 501) return `waiting for the back-end: ${what}`;
  return null;
}

async function userPage() {
  const p = await newPage(browser);
  await signIn(p, stack.url, user.username, user.password);
  return p;
}

test('register in the browser, with the server\'s refusal of a bad name shown in place', async () => {
  const p = await newPage(browser);
  await p.goto(`${stack.url}/#/register`);
  await p.fill('input[name=username]', '<script>window.__xss=1</script>');
  await p.fill('input[name=password]', user.password);
  await p.fill('input[name=password2]', user.password);
  await p.click('form button[type=submit]');
  await p.waitForSelector('.form-error.is-shown');
  const msg = await p.textContent('.form-error');
  assert.match(msg, /username/, 'the server\'s own sentence');
  assert.equal(await p.evaluate(() => window.__xss), undefined);
  await p.fill('input[name=username]', user.username);
  await p.click('form button[type=submit]');
  await p.waitForSelector('.whoami-name');
  assert.equal(await p.textContent('.whoami-name'), user.username);
  await p.waitForSelector('main .chart svg');
  await screenshot(p, 'flow-1-registered-dashboard');
  assertClean(assert, p);
});

test('sign out and sign in again; a wrong password is refused in place', async () => {
  const p = await newPage(browser);
  await p.goto(`${stack.url}/#/login`);
  await p.fill('input[name=username]', user.username);
  await p.fill('input[name=password]', 'not-the-password');
  await p.click('form button[type=submit]');
  await p.waitForSelector('.form-error.is-shown');
  await screenshot(p, 'flow-2-login-refused');
  await p.fill('input[name=password]', user.password);
  await p.click('form button[type=submit]');
  await p.waitForSelector('.whoami-name');
  const me = await p.evaluate(() => fetch('/auth/me', { headers: { Authorization: `Bearer ${localStorage.getItem('np.token')}` } }).then((r) => r.json()));
  assert.equal(me.username, user.username);
  state.token = await p.evaluate(() => localStorage.getItem('np.token'));
  await p.click('#logout');
  await p.waitForSelector('input[name=username]');
  assert.equal(await p.evaluate(() => localStorage.getItem('np.token')), null);
  assertClean(assert, p);
});

test('create a relay key: shown once, its name (with markup) listed as text', async () => {
  const p = await userPage();
  await p.goto(`${stack.url}/#/relay-keys`);
  const name = '<script>window.__xss=2</script><b>bold</b>'; // within the 64-character cap
  await p.fill('main form input', name);
  await p.click('main form button[type=submit]');
  await p.waitForSelector('.secret-key');
  state.relayKey = (await p.textContent('.secret-key')).trim();
  assert.match(state.relayKey, /^np-/);
  const row = p.locator('main table tbody tr', { hasText: name });
  await row.waitFor();
  assert.equal(await p.locator('main table img, main table script').count(), 0);
  assert.equal(await p.evaluate(() => window.__xss), undefined, 'no injected script ran');
  await screenshot(p, 'flow-3-relay-key');
  await p.reload();
  await p.waitForSelector('main table');
  assert.equal(await p.locator('.secret-key').count(), 0, 'the full key is never shown again');
  assert.ok(!(await p.textContent('main')).includes(state.relayKey));
  assertClean(assert, p);
});

test('add a NovelAI key and see it become active', async (t) => {
  const probe = await stack.api('GET', '/keys', { token: state.token });
  const why = missing(probe, 'GET/POST /keys (pool)');
  if (why) { t.skip(why); return; }
  const p = await userPage();
  await p.goto(`${stack.url}/#/keys`);
  await p.waitForSelector('main .card');
  await p.fill('main form input[type=password]', GOOD);
  await p.fill('main form input[type=text]', '<b>note</b><script>window.__xss=4</script>');
  await p.click('main form button[type=submit]');
  const row = p.locator('main table tbody tr', { hasText: '<b>note</b>' });
  await row.waitFor();
  await row.locator('.badge-active').waitFor({ timeout: 20000 });
  assert.equal(await p.evaluate(() => window.__xss), undefined);
  await screenshot(p, 'flow-4-key-active');
  state.keyActive = true;
  assertClean(assert, p);
});

test('generate an image through the relay with the relay key, then see it in the logs and the chart', async (t) => {
  if (!state.keyActive) { t.skip('needs the active key of the previous step'); return; }
  const r = await fetch(`${stack.url}/v1/novelai/ai/generate-image`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${state.relayKey}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ input: '1girl, best quality', model: 'nai-diffusion-4-5-full', action: 'generate', parameters: { width: 832, height: 1216, steps: 28, n_samples: 1, scale: 5 } }),
  });
  const bytes = Buffer.from(await r.arrayBuffer());
  assert.equal(r.status, 200, bytes.toString('utf8').slice(0, 300));
  assert.equal(bytes.subarray(0, 2).toString('latin1'), 'PK', 'a ZIP of images');
  const p = await userPage();
  // Usage events reach the audit log asynchronously: look until the row is there.
  let seen = false;
  for (let i = 0; i < 40 && !seen; i++) {
    await p.goto(`${stack.url}/#/logs`);
    await p.waitForSelector('main table, main .empty, main .alert-error');
    seen = (await p.locator('main table tbody tr', { hasText: '/ai/generate-image' }).count()) > 0;
    if (!seen) await sleep(250);
  }
  assert.ok(seen, 'the generation is in my logs');
  const row = p.locator('main table tbody tr', { hasText: '/ai/generate-image' }).first();
  assert.equal((await row.locator('.badge').first().textContent()).trim(), '200');
  assert.ok((await row.textContent()).includes('832×1216'));
  await screenshot(p, 'flow-5-logs');
  await p.goto(`${stack.url}/#/`);
  await p.waitForSelector('main .chart svg rect.bar');
  assert.ok(await p.locator('main .chart svg rect.bar.series-ok').count() >= 1, 'a success bar today');
  await screenshot(p, 'flow-5-chart');
  assertClean(assert, p);
});

test('an admin sees the admin pages, finds the new user and changes a setting', async (t) => {
  const p = await newPage(browser);
  await signIn(p, stack.url, stack.admin.username, stack.admin.password);
  assert.ok(await p.locator('nav a[href="#/admin/config"]').count() === 1, 'admin links for an admin');
  await p.goto(`${stack.url}/#/admin/users`);
  await p.locator('main table tbody tr', { hasText: user.username }).waitFor();
  await screenshot(p, 'flow-6-admin-users');
  await p.goto(`${stack.url}/#/admin/audit`);
  await p.locator('main table tbody tr', { hasText: 'auth.registered' }).first().waitFor({ timeout: 10000 });
  await screenshot(p, 'flow-6-admin-audit');
  const token = await p.evaluate(() => localStorage.getItem('np.token'));
  const cfg = await stack.api('GET', '/admin/config', { token });
  const why = missing(cfg, 'GET/PUT /admin/config (pool)');
  if (why) { t.skip(why); assertClean(assert, p); return; }
  await p.goto(`${stack.url}/#/admin/config`);
  await p.waitForSelector('.config-form');
  const row = p.locator('.config-row[data-key=PER_KEY_RPM]');
  const input = row.locator('input');
  const before = Number(await input.inputValue());
  await input.fill(String(before + 1));
  await p.click('.config-form button[type=submit]');
  await p.waitForSelector('.toast');
  await p.waitForFunction(() => !document.querySelector('main .loading'));
  const after = await stack.api('GET', '/admin/config', { token });
  assert.ok(JSON.stringify(after.json).includes('PER_KEY_RPM'));
  await p.reload();
  await p.waitForSelector('.config-form');
  assert.equal(Number(await p.locator('.config-row[data-key=PER_KEY_RPM] input').inputValue()), before + 1, 'saved');
  await screenshot(p, 'flow-6-admin-config');
  assertClean(assert, p);
});

test('an admin: every admin page shows real data; a forced check, a proxy added and removed', async () => {
  const p = await newPage(browser);
  await signIn(p, stack.url, stack.admin.username, stack.admin.password);
  for (const route of ['/admin/users', '/admin/pool', '/admin/proxies', '/admin/config', '/admin/audit', '/admin/nodes', '/admin/stats']) {
    await p.goto(`${stack.url}/#${route}`);
    await p.waitForSelector('main h1');
    await p.waitForFunction(() => !document.querySelector('main .loading'));
    assert.equal(await p.locator('main .alert-error').count(), 0, `${route}: ${await p.locator('main .alert-error').allTextContents()}`);
  }
  await p.goto(`${stack.url}/#/admin/nodes`);
  await p.locator('main table tbody tr', { hasText: 'pool' }).waitFor();
  assert.equal(await p.locator('main .badge', { hasText: '领导' }).count(), 1, 'one leader marked');
  await screenshot(p, 'flow-7-admin-nodes');
  await p.goto(`${stack.url}/#/admin/stats`);
  await p.waitForSelector('main .chart svg polyline');
  await screenshot(p, 'flow-7-admin-stats');
  if (state.keyActive) {
    await p.goto(`${stack.url}/#/admin/pool`);
    const row = p.locator('main table tbody tr', { hasText: user.username });
    await row.waitFor();
    await row.locator('button', { hasText: '立即检测' }).click();
    await p.locator('.toast', { hasText: '可用' }).waitFor({ timeout: 20000 });
    await screenshot(p, 'flow-7-admin-pool');
  }
  await p.goto(`${stack.url}/#/admin/proxies`);
  await p.waitForSelector('main form');
  await p.fill('main form input >> nth=0', 'http://user:secret@127.0.0.1:9');
  await p.fill('main form input >> nth=1', '<i>test proxy</i>');
  await p.click('main form button[type=submit]');
  const prow = p.locator('main table tbody tr', { hasText: '<i>test proxy</i>' });
  await prow.waitFor();
  assert.ok(!(await prow.textContent()).includes('secret'), 'proxy credentials are never shown');
  await screenshot(p, 'flow-7-admin-proxies');
  await prow.locator('button', { hasText: '移除' }).click();
  await p.click('dialog .btn-danger');
  await prow.waitFor({ state: 'detached' });
  assertClean(assert, p);
});

test('a user gets no admin links and the API refuses the admin pages', async () => {
  const p = await userPage();
  assert.equal(await p.locator('nav a[href^="#/admin"]').count(), 0);
  const r = await stack.api('GET', '/admin/users', { token: state.token });
  assert.equal(r.status, 403);
  await p.goto(`${stack.url}/#/admin/users`);
  await p.waitForSelector('main .alert-error');
  assertClean(assert, p);
});
