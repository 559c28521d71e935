// UI tests against the in-memory mock API (mock-api.mjs): what the browser shows for given
// answers, whatever the state of the back-end. The end-to-end flows against the real suite
// are in flows.test.mjs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { launch, newPage, screenshot, assertClean, signIn, HERE } from './lib.mjs';
import { startMock } from './mock-api.mjs';

const WEB = path.resolve(HERE, '../../web');
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

async function page(opts) {
  const p = await newPage(browser, opts);
  await p.goto(`${mock.url}/#/login`);
  return p;
}

test('the dictionaries hold the same keys and every key the code names', async () => {
  const zh = (await import(path.join(WEB, 'i18n/zh.js'))).default;
  const en = (await import(path.join(WEB, 'i18n/en.js'))).default;
  // cfg.* entries translate the server's English setting descriptions, so English has none.
  const ui = (d) => Object.keys(d).filter((k) => !k.startsWith('cfg.')).sort();
  assert.deepEqual(ui(zh), ui(en));
  assert.equal(Object.keys(en).filter((k) => k.startsWith('cfg.')).length, 0);
  const used = new Set();
  const walk = (dir) => {
    for (const f of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, f.name);
      if (f.isDirectory()) walk(full);
      else if (f.name.endsWith('.js')) for (const m of fs.readFileSync(full, 'utf8').matchAll(/\bt\('([a-z0-9_.]+)'/g)) used.add(m[1]);
    }
  };
  walk(path.join(WEB, 'js'));
  used.delete('key');
  const missing = [...used].filter((k) => !(k in zh) || !(k in en));
  assert.deepEqual(missing, [], 'keys used in web/js but absent from the dictionaries');
  for (const s of ['pending', 'active', 'cooling', 'exhausted', 'invalid', 'expired', 'disabled']) assert.ok(zh[`state.${s}`] && en[`state.${s}`], s);
  for (const v of Object.values(zh)) assert.equal(typeof v, 'string');
});

test('sign-in shows the server\'s message in place, and registration checks the second password', async () => {
  const p = await page();
  assert.equal(await p.getAttribute('html', 'lang'), 'zh-CN', 'Chinese by default');
  await p.fill('input[name=username]', 'alice');
  await p.fill('input[name=password]', 'wrong-password');
  await p.click('form button[type=submit]');
  await p.waitForSelector('.form-error.is-shown');
  assert.equal(await p.textContent('.form-error'), 'wrong user name or password');
  await screenshot(p, 'ui-login-error');
  await p.click('a[href="#/register"]');
  await p.waitForSelector('input[name=password2]');
  await p.fill('input[name=username]', 'bob_1');
  await p.fill('input[name=password]', 'bob-password-1');
  await p.fill('input[name=password2]', 'bob-password-2');
  await p.click('form button[type=submit]');
  await p.waitForSelector('.form-error.is-shown');
  await p.fill('input[name=password2]', 'bob-password-1');
  await p.click('form button[type=submit]');
  await p.waitForSelector('.whoami-name');
  assert.equal(await p.textContent('.whoami-name'), 'bob_1');
  assertClean(assert, p);
});

test('every page renders in both languages with no console error or CSP violation', async () => {
  const p = await page();
  await signIn(p, mock.url, 'admin', 'admin-password-1');
  const pages = ['/', '/relay-keys', '/keys', '/logs', '/account', '/admin/users', '/admin/pool', '/admin/proxies', '/admin/config', '/admin/audit', '/admin/nodes', '/admin/stats'];
  for (const lang of ['zh', 'en']) {
    if (lang === 'en') await p.click('#lang-switch');
    for (const route of pages) {
      await p.goto(`${mock.url}/#${route}`);
      await p.waitForSelector('main h1');
      await p.waitForFunction(() => !document.querySelector('main [aria-busy=true], main .loading'));
      assert.equal(await p.locator('main .alert-error').count(), 0, `${route} shows an error`);
      assert.ok(await p.locator(`nav a[href="#${route}"][aria-current=page]`).count() === 1, `${route} is marked current`);
    }
  }
  await p.goto(`${mock.url}/#/admin/stats`);
  await p.waitForSelector('main .chart svg polyline');
  await screenshot(p, 'ui-admin-stats-en');
  assertClean(assert, p);
});

test('the language switch is remembered across reloads', async () => {
  const p = await page();
  assert.equal(await p.textContent('h1'), '登录');
  await p.click('#lang-switch');
  await p.waitForFunction(() => document.querySelector('h1')?.textContent === 'Sign in');
  assert.equal(await p.evaluate(() => localStorage.getItem('np.lang')), 'en');
  await p.reload();
  await p.waitForSelector('h1');
  assert.equal(await p.textContent('h1'), 'Sign in');
  assert.equal(await p.getAttribute('html', 'lang'), 'en');
  await p.click('#lang-switch');
  await p.waitForFunction(() => document.querySelector('h1')?.textContent === '登录');
  assertClean(assert, p);
});

test('names and notes holding markup show as text and run nothing', async () => {
  const p = await page();
  await signIn(p, mock.url, 'alice', 'alice-password-1');
  await p.goto(`${mock.url}/#/keys`);
  await p.waitForSelector('main table');
  const note = '<img src=x onerror=window.__xss=2>';
  assert.ok((await p.textContent('main table')).includes(note), 'the note shows literally');
  await p.goto(`${mock.url}/#/relay-keys`);
  const evil = '<script>window.__xss=3</script><b>bold</b>';
  await p.fill('main form input', evil);
  await p.click('main form button[type=submit]');
  await p.waitForSelector('.secret-key');
  await p.waitForSelector('main table');
  assert.ok((await p.textContent('main table')).includes(evil));
  assert.equal(await p.locator('main table b, main table script, main table img').count(), 0, 'no element made from the name');
  await p.click('#logout');
  await signIn(p, mock.url, 'admin', 'admin-password-1');
  await p.goto(`${mock.url}/#/admin/users`);
  await p.waitForSelector('main table');
  assert.ok((await p.textContent('main table')).includes('<script>window.__xss=1</script>'));
  await p.goto(`${mock.url}/#/admin/audit`);
  await p.waitForSelector('main table');
  assert.ok((await p.textContent('main table')).includes('<b>not bold</b>'));
  assert.equal(await p.evaluate(() => window.__xss), undefined, 'no injected script ran');
  await screenshot(p, 'ui-xss-audit');
  assertClean(assert, p);
});

test('a user sees no admin links, and an admin page refuses them', async () => {
  const p = await page();
  await signIn(p, mock.url, 'alice', 'alice-password-1');
  assert.equal(await p.locator('nav a[href^="#/admin"]').count(), 0);
  await p.goto(`${mock.url}/#/admin/config`);
  await p.waitForSelector('main .alert-error');
  assert.equal(await p.locator('main form').count(), 0);
  assertClean(assert, p);
});

test('relay keys: shown once with a copy button, renamed, disabled, deleted after confirming', async () => {
  const p = await page();
  await p.context().grantPermissions(['clipboard-read', 'clipboard-write']);
  await signIn(p, mock.url, 'alice', 'alice-password-1');
  await p.goto(`${mock.url}/#/relay-keys`);
  await p.fill('main form input', 'laptop');
  await p.click('main form button[type=submit]');
  const key = await p.textContent('.secret-key');
  assert.match(key, /^np-/);
  await p.click('.reveal button:has-text("复制")');
  assert.equal(await p.evaluate(() => navigator.clipboard.readText()), key);
  await screenshot(p, 'ui-relay-key-created');
  const row = p.locator('main table tbody tr', { hasText: 'laptop' });
  await row.locator('button', { hasText: '重命名' }).click();
  await p.fill('dialog input', 'desktop');
  await p.click('dialog button[type=submit]');
  const row2 = p.locator('main table tbody tr', { hasText: 'desktop' });
  await row2.waitFor();
  await row2.locator('button', { hasText: '停用' }).click();
  await row2.locator('.badge', { hasText: '已停用' }).waitFor();
  await row2.locator('button', { hasText: '删除' }).click();
  await p.click('dialog button:has-text("取消")');
  assert.equal(await p.locator('main table tbody tr', { hasText: 'desktop' }).count(), 1, 'cancel keeps it');
  await row2.locator('button', { hasText: '删除' }).click();
  await p.click('dialog .btn-danger');
  await p.locator('main table tbody tr', { hasText: 'desktop' }).waitFor({ state: 'detached' });
  assertClean(assert, p);
});

test('NovelAI keys: the paid options appear when allowed, a new key turns active', async () => {
  const p = await page();
  await signIn(p, mock.url, 'alice', 'alice-password-1');
  await p.goto(`${mock.url}/#/keys`);
  await p.waitForSelector('main table');
  assert.equal(await p.isVisible('.paid-extra'), false);
  await p.check('main form .fieldset input[type=checkbox]');
  assert.equal(await p.isVisible('.paid-extra'), true);
  await p.fill('main form input[type=password]', 'not-a-token');
  await p.click('main form button[type=submit]');
  await p.waitForSelector('main .form-error.is-shown');
  await p.fill('main form input[type=password]', 'pst-mockmockmockmock1234');
  await p.fill('.paid-extra input >> nth=0', '12');
  await p.click('main form button[type=submit]');
  const row = p.locator('main table tbody tr', { hasText: 'pst-mock' });
  await row.locator('.badge', { hasText: '待检测' }).waitFor();
  await row.locator('.badge', { hasText: '可用' }).waitFor({ timeout: 10000 });
  assert.ok((await row.textContent()).includes('≤12'));
  await screenshot(p, 'ui-keys');
  assertClean(assert, p);
});

test('logs: filters and keyset "load more"', async () => {
  const p = await page();
  await signIn(p, mock.url, 'alice', 'alice-password-1');
  await p.goto(`${mock.url}/#/logs`);
  await p.waitForSelector('main table');
  assert.equal(await p.locator('main table tbody tr').count(), 50);
  await p.click('button:has-text("加载更多")');
  await p.waitForFunction(() => document.querySelectorAll('main table tbody tr').length === 100);
  const times = await p.locator('main table tbody tr td:first-child > div > div:first-child').allTextContents();
  assert.equal(new Set(times).size, 100, 'no row twice');
  await p.selectOption('main form select', 'error');
  await p.click('main form button[type=submit]');
  await p.waitForFunction(() => [...document.querySelectorAll('main table tbody .badge')].every((b) => Number(b.textContent) >= 400));
  assertClean(assert, p);
});

test('phone width: the menu opens from a button and tables become cards', async () => {
  const p = await page({ viewport: { width: 390, height: 844 } });
  await signIn(p, mock.url, 'admin', 'admin-password-1');
  assert.equal(await p.isVisible('#nav'), false);
  await p.click('#nav-toggle');
  await p.waitForSelector('#nav a[href="#/admin/pool"]', { state: 'visible' });
  await screenshot(p, 'ui-phone-menu');
  await p.click('#nav a[href="#/admin/pool"]');
  await p.waitForSelector('main table');
  assert.equal(await p.isVisible('#nav'), false, 'the menu closes after choosing');
  const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than the phone`);
  await p.goto(`${mock.url}/#/`);
  await p.waitForSelector('main .chart svg');
  await screenshot(p, 'ui-phone-dashboard');
  assertClean(assert, p);
});

test('keyboard: skip link first, sign in without a mouse, dialogs close on Escape', async () => {
  const p = await page();
  assert.equal(await p.evaluate(() => document.activeElement.name), 'username', 'the sign-in form takes the focus');
  await p.keyboard.type('alice');
  await p.keyboard.press('Tab');
  await p.keyboard.type('alice-password-1');
  await p.keyboard.press('Enter');
  await p.waitForSelector('.whoami-name');
  await p.reload();
  await p.waitForSelector('main h1');
  await p.keyboard.press('Tab');
  assert.equal(await p.evaluate(() => document.activeElement.id), 'skip-link');
  await p.keyboard.press('Enter');
  await p.keyboard.press('Tab');
  assert.ok(await p.evaluate(() => document.getElementById('main').contains(document.activeElement)), 'the skip link leads into the page');
  await p.goto(`${mock.url}/#/relay-keys`);
  await p.fill('main form input', 'kb');
  await p.keyboard.press('Enter');
  await p.waitForSelector('main table');
  const kbRow = p.locator('main table tbody tr', { hasText: 'kb' });
  await kbRow.locator('button', { hasText: '删除' }).focus();
  await p.keyboard.press('Enter');
  await p.waitForSelector('dialog[open]');
  await p.keyboard.press('Escape');
  await p.waitForSelector('dialog', { state: 'detached' });
  assert.equal(await kbRow.count(), 1, 'Escape cancels');
  assertClean(assert, p);
});

test('an admin saves a setting; a locked one cannot be edited', async () => {
  const p = await page();
  await signIn(p, mock.url, 'admin', 'admin-password-1');
  await p.goto(`${mock.url}/#/admin/config`);
  await p.waitForSelector('.config-form');
  assert.equal(await p.isDisabled('[data-key=DATABASE_URL] input'), true);
  await p.fill('[data-key=PER_KEY_RPM] input', '12');
  await p.check('[data-key=LOG_REQUEST_IP] input');
  await p.click('.config-form button[type=submit]');
  await p.waitForSelector('.toast');
  await p.waitForSelector('[data-key=PER_KEY_RPM] .badge-db');
  assert.equal(mock.state.config.PER_KEY_RPM.value, 12);
  assert.equal(mock.state.config.LOG_REQUEST_IP.value, true);
  assert.equal(await p.inputValue('[data-key=PER_KEY_RPM] input'), '12');
  assertClean(assert, p);
});
