// Development aid: screenshot every page against a running server (mock or real).
//   node shoot.mjs http://127.0.0.1:8731 admin admin-password-1 [width] [lang]
import { launch, newPage, screenshot } from './lib.mjs';

const [base, user, pass, width = '1280', lang = 'zh'] = process.argv.slice(2);
const browser = await launch();
const page = await newPage(browser, { viewport: { width: Number(width), height: 900 } });
await page.goto(`${base}/#/login`);
await page.evaluate((l) => localStorage.setItem('np.lang', l), lang);
await page.reload();
await screenshot(page, `shoot-${width}-${lang}-login`);
await page.fill('input[name=username]', user);
await page.fill('input[name=password]', pass);
await page.click('form button[type=submit]');
await page.waitForSelector('.whoami-name');
for (const p of ['/', '/relay-keys', '/keys', '/logs', '/account', '/admin/users', '/admin/pool', '/admin/proxies', '/admin/config', '/admin/audit', '/admin/nodes', '/admin/stats']) {
  await page.goto(`${base}/#${p}`);
  await page.waitForTimeout(700);
  await screenshot(page, `shoot-${width}-${lang}${p.replace(/\//g, '_') || '_'}`);
}
console.log(page.problems.join('\n') || 'no problems');
await browser.close();
