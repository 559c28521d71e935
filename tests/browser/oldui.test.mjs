// The pieces of the earlier Python pool's UI, against the mock API (mock-api.mjs): relay-key
// rotation, the model list on the dashboard, everyone's usage logs for admins (with the client
// IP, date-range and text filters and a page-size choice), "check all keys".
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, newPage, screenshot, assertClean, signIn } from './lib.mjs';
import { startMock } from './mock-api.mjs';

let mock;
let browser;

before(async () => {
  mock = await startMock();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await mock?.close();
});

async function page() {
  const p = await newPage(browser);
  await p.goto(`${mock.url}/#/login`);
  return p;
}

test('rotate: a new relay key, and the others are gone', async () => {
  const p = await page();
  await signIn(p, mock.url, 'alice', 'alice-password-1');
  await p.goto(`${mock.url}/#/relay-keys`);
  for (const n of ['one', 'two']) {
    await p.fill('main form input', n);
    await p.click('main form button[type=submit]');
    await p.locator('main table tbody tr', { hasText: n }).waitFor();
  }
  await p.fill('main form input', 'fresh');
  await p.click('main form button[data-action=rotate]');
  await p.click('dialog .btn-danger, dialog .btn-primary');
  await p.waitForSelector('.secret-key');
  await p.locator('main table tbody tr', { hasText: 'fresh' }).waitFor();
  await p.locator('main table tbody tr', { hasText: 'one' }).waitFor({ state: 'detached' });
  assert.equal(await p.locator('main table tbody tr').count(), 1);
  await screenshot(p, 'oldui-rotated');
  assertClean(assert, p);
});

test('the dashboard lists the models the pool serves', async () => {
  const p = await page();
  await signIn(p, mock.url, 'alice', 'alice-password-1');
  await p.goto(`${mock.url}/#/`);
  await p.waitForSelector('main [data-list=models] li');
  const text = await p.textContent('main [data-list=models]');
  assert.ok(text.includes('nai-diffusion-4-5-full'), text);
  assert.ok(text.includes('glm-4-6'), text);
  assertClean(assert, p);
});

test('admin usage logs: everyone, with IP; page size; date and text filters; both languages', async () => {
  const p = await page();
  await signIn(p, mock.url, 'admin', 'admin-password-1');
  await p.goto(`${mock.url}/#/admin/logs`);
  await p.waitForSelector('main table tbody tr');
  assert.ok((await p.textContent('main table')).includes('203.0.113.7'), 'the IP column');
  assert.equal(await p.locator('nav a[href="#/admin/logs"][aria-current=page]').count(), 1);
  await p.selectOption('main select[data-filter=page-size]', '25');
  await p.click('main form button[type=submit]');
  await p.waitForFunction(() => document.querySelectorAll('main table tbody tr').length === 25);
  // the text filter narrows the loaded rows at once
  await p.fill('main input[data-filter=text]', 'no-such-thing-anywhere');
  await p.waitForFunction(() => document.querySelectorAll('main table tbody tr').length === 0);
  await p.fill('main input[data-filter=text]', '');
  // a date range in the future holds nothing
  await p.fill('main input[data-filter=since]', '2999-01-01');
  await p.click('main form button[type=submit]');
  await p.waitForFunction(() => document.querySelectorAll('main table tbody tr').length === 0);
  await screenshot(p, 'oldui-admin-logs');
  await p.click('#lang-switch');
  await p.goto(`${mock.url}/#/admin/logs`);
  await p.waitForSelector('main table tbody tr');
  assert.equal(await p.textContent('main h1'), "Everyone's usage logs");
  assertClean(assert, p);
});

test('the user log page has the new filters too and no admin columns', async () => {
  const p = await page();
  await signIn(p, mock.url, 'alice', 'alice-password-1');
  await p.goto(`${mock.url}/#/logs`);
  await p.waitForSelector('main table tbody tr');
  assert.equal(await p.locator('main select[data-filter=page-size]').count(), 1);
  assert.equal(await p.locator('main input[data-filter=since]').count(), 1);
  assert.equal(await p.locator('main input[data-filter=user]').count(), 0);
  assert.ok(!(await p.textContent('main table')).includes('203.0.113.7'));
  assertClean(assert, p);
});

test('admins check all keys at once', async () => {
  const p = await page();
  await signIn(p, mock.url, 'admin', 'admin-password-1');
  await p.goto(`${mock.url}/#/admin/pool`);
  await p.waitForSelector('main table tbody tr');
  await p.click('main button[data-action=check-all]');
  await p.locator('#toasts', { hasText: '已检查' }).waitFor();
  assertClean(assert, p);
});
