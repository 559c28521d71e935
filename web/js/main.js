// The app shell: hash routing (#/path), the navigation, the language switch and sign-out.
import { h, replace } from './dom.js';
import { t, getLang, setLang, onLangChange } from './i18n.js';
import { onUnauthorized } from './api.js';
import * as session from './session.js';
import { errorBox, loading, toast } from './ui.js';

import * as login from './pages/login.js';
import * as dashboard from './pages/dashboard.js';
import * as relayKeys from './pages/relay-keys.js';
import * as keys from './pages/keys.js';
import * as logs from './pages/logs.js';
import * as account from './pages/account.js';
import * as adminUsers from './pages/admin-users.js';
import * as adminPool from './pages/admin-pool.js';
import * as adminProxies from './pages/admin-proxies.js';
import * as adminConfig from './pages/admin-config.js';
import * as adminAudit from './pages/admin-audit.js';
import * as adminNodes from './pages/admin-nodes.js';
import * as adminStats from './pages/admin-stats.js';

// path -> {page, title key, public?, admin?, nav section}
const routes = {
  '/login': { page: login, title: 'nav.login', public: true, params: { mode: 'login' } },
  '/register': { page: login, title: 'nav.register', public: true, params: { mode: 'register' } },
  '/': { page: dashboard, title: 'nav.dashboard', nav: 'user' },
  '/relay-keys': { page: relayKeys, title: 'nav.relay_keys', nav: 'user' },
  '/keys': { page: keys, title: 'nav.keys', nav: 'user' },
  '/logs': { page: logs, title: 'nav.logs', nav: 'user' },
  '/account': { page: account, title: 'nav.account', nav: 'user' },
  '/admin/users': { page: adminUsers, title: 'nav.admin_users', admin: true, nav: 'admin' },
  '/admin/pool': { page: adminPool, title: 'nav.admin_pool', admin: true, nav: 'admin' },
  '/admin/proxies': { page: adminProxies, title: 'nav.admin_proxies', admin: true, nav: 'admin' },
  '/admin/config': { page: adminConfig, title: 'nav.admin_config', admin: true, nav: 'admin' },
  '/admin/logs': { page: logs, title: 'nav.admin_logs', admin: true, nav: 'admin', params: { mode: 'admin' } },
  '/admin/audit': { page: adminAudit, title: 'nav.admin_audit', admin: true, nav: 'admin' },
  '/admin/nodes': { page: adminNodes, title: 'nav.admin_nodes', admin: true, nav: 'admin' },
  '/admin/stats': { page: adminStats, title: 'nav.admin_stats', admin: true, nav: 'admin' },
};

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const navToggle = document.getElementById('nav-toggle');
const langBtn = document.getElementById('lang-switch');
const logoutBtn = document.getElementById('logout');
const whoami = document.getElementById('whoami');
let cleanup = null;
let renderSeq = 0;

export function go(path) {
  if (location.hash === `#${path}`) render();
  else location.hash = `#${path}`;
}

function currentPath() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const path = raw.split('?')[0];
  return path.startsWith('/') ? path : `/${path}`;
}

function renderChrome(path) {
  const signedIn = session.isSignedIn() && session.current();
  document.getElementById('skip-link').textContent = t('nav.skip');
  document.getElementById('nav-toggle-label').textContent = t('nav.menu');
  langBtn.textContent = getLang() === 'zh' ? 'English' : '中文';
  langBtn.setAttribute('lang', getLang() === 'zh' ? 'en' : 'zh');
  langBtn.setAttribute('aria-label', t('nav.switch_language'));
  logoutBtn.textContent = t('nav.logout');
  logoutBtn.hidden = !signedIn;
  whoami.hidden = !signedIn;
  nav.hidden = !signedIn;
  navToggle.hidden = !signedIn;
  if (!signedIn) { replace(nav); return; }
  const me = session.current();
  replace(whoami, h('span', { class: 'whoami-name', text: me.username }),
    me.role === 'admin' ? h('span', { class: 'badge badge-admin', text: t('role.admin') }) : null);
  const link = (p) => h('a', {
    href: `#${p}`, class: ['nav-link', p === path ? 'is-current' : null],
    attrs: { 'aria-current': p === path ? 'page' : null }, text: t(routes[p].title),
  });
  const userLinks = Object.keys(routes).filter((p) => routes[p].nav === 'user');
  const parts = [h('ul', { class: 'nav-list' }, userLinks.map((p) => h('li', null, link(p))))];
  // Admin links exist only for admins (the API refuses others anyway).
  if (session.isAdmin()) {
    const adminLinks = Object.keys(routes).filter((p) => routes[p].nav === 'admin');
    parts.push(h('p', { class: 'nav-heading', text: t('nav.admin') }),
      h('ul', { class: 'nav-list', attrs: { 'data-admin': 'true' } }, adminLinks.map((p) => h('li', null, link(p)))));
  }
  replace(nav, parts);
}

async function render() {
  const seq = ++renderSeq;
  const path = currentPath();
  const route = routes[path];
  if (cleanup) { try { cleanup(); } catch { /* ignore */ } cleanup = null; }
  closeNav();
  if (!route) { go(session.isSignedIn() ? '/' : '/login'); return; }
  if (!route.public && !session.isSignedIn()) { go('/login'); return; }
  if (route.public && session.isSignedIn()) { go('/'); return; }
  if (!route.public && !session.current()) {
    replace(main, loading());
    try { await session.refreshMe(); } catch (err) {
      if (seq !== renderSeq) return;
      if (!session.isSignedIn()) { go('/login'); return; }
      renderChrome(path);
      replace(main, errorBox(err, render));
      return;
    }
    if (seq !== renderSeq) return;
  }
  renderChrome(path);
  document.title = `${t(route.title)} · NovelAI Pool`;
  replace(main);
  if (route.admin && !session.isAdmin()) {
    main.append(errorBox({ message: t('err.admin_only') }));
    return;
  }
  const out = route.page.render(main, { ...(route.params || {}), go, refreshChrome: () => renderChrome(path) });
  cleanup = typeof out === 'function' ? out : null;
  const heading = main.querySelector('h1');
  if (heading && document.activeElement && document.activeElement !== document.body && !main.contains(document.activeElement)) heading.focus({ preventScroll: true });
}

function closeNav() {
  document.body.classList.remove('nav-open');
  navToggle.setAttribute('aria-expanded', 'false');
}

navToggle.addEventListener('click', () => {
  const open = !document.body.classList.contains('nav-open');
  document.body.classList.toggle('nav-open', open);
  navToggle.setAttribute('aria-expanded', String(open));
  if (open) { const first = nav.querySelector('a'); if (first) first.focus(); }
});
document.addEventListener('keydown', (e) => { if (e.key === 'Escape' && document.body.classList.contains('nav-open')) { closeNav(); navToggle.focus(); } });

// The skip link must not touch the hash (the router owns it): it moves the focus itself.
document.getElementById('skip-link').addEventListener('click', (e) => {
  e.preventDefault();
  const target = main.querySelector('h1') || main;
  target.focus();
});

langBtn.addEventListener('click', () => setLang(getLang() === 'zh' ? 'en' : 'zh'));
onLangChange(() => render());

logoutBtn.addEventListener('click', () => { session.signOut(); go('/login'); });

// A 401 on a signed-in request means the token expired or was revoked: back to sign-in.
onUnauthorized(() => {
  session.signOut();
  toast(t('err.session_expired'), 'error');
  go('/login');
});

window.addEventListener('hashchange', render);
render();
