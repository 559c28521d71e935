// Shared helpers for the browser tests: launch Debian's chromium through playwright-core,
// collect console errors, page errors and CSP violations (tests fail on any), screenshots.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const OUTPUT = path.join(HERE, 'output');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

export function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
}

const API = /^\/(auth|client-keys|keys|logs|admin|v1)(\/|$|\?)/;

// newPage(browser, opts) opens a page whose problems are collected in page.problems:
// uncaught errors, console errors and CSP violations. An API answer of 4xx is an expected
// error state the UI shows (wrong password, 409...), so Chromium's "Failed to load resource"
// line for it is not a problem; anything else is.
export async function newPage(browser, { viewport = { width: 1280, height: 900 }, locale = 'zh-CN', timezoneId = 'Asia/Shanghai' } = {}) {
  const context = await browser.newContext({ viewport, locale, timezoneId, reducedMotion: 'reduce' });
  const page = await context.newPage();
  const problems = [];
  page.problems = problems;
  await page.exposeFunction('__reportCsp', (v) => problems.push(`CSP violation: ${v}`));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__reportCsp(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'} (${e.sourceFile || ''}:${e.lineNumber || 0})`);
    });
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const text = msg.text();
    const loc = msg.location() || {};
    if (/Failed to load resource: the server responded with a status of 4\d\d/.test(text) && loc.url) {
      try { if (API.test(new URL(loc.url).pathname)) return; } catch { /* keep it */ }
    }
    problems.push(`console error: ${text} ${loc.url || ''}`);
  });
  return page;
}

export async function screenshot(page, name) {
  fs.mkdirSync(OUTPUT, { recursive: true });
  const file = path.join(OUTPUT, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

export function assertClean(assert, page) {
  assert.deepEqual(page.problems, [], `console errors or CSP violations:\n${page.problems.join('\n')}`);
}

// signIn fills the sign-in form and waits for the dashboard.
export async function signIn(page, base, username, password) {
  await page.goto(`${base}/#/login`);
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', password);
  await page.click('form button[type=submit]');
  await page.waitForSelector('.whoami-name');
}

// signInByApi puts a token straight into localStorage (for tests about later pages).
export async function tokenFor(base, username, password) {
  const r = await fetch(`${base}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  if (!r.ok) throw new Error(`login ${username}: ${r.status} ${await r.text()}`);
  return (await r.json()).access_token;
}
