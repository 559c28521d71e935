// Admin: pool-wide figures with charts (keys by state, requests and errors per minute),
// refreshed every 15 seconds while the page is open.
import { h, replace } from '../dom.js';
import { t, has } from '../i18n.js';
import { get } from '../api.js';
import { adaptAdminStats } from '../adapters.js';
import { hbars, lineChart } from '../chart.js';
import { fmtNum, toDate } from '../format.js';
import { locale } from '../i18n.js';
import { card, loading, errorBox, pageHeader, empty, dl } from '../ui.js';
import { KEY_STATES } from './dashboard.js';

function minuteLabel(v) {
  const d = toDate(v);
  if (!d) return String(v ?? '');
  return d.toLocaleTimeString(locale(), { hour: '2-digit', minute: '2-digit', hour12: false });
}

export function render(root) {
  const box = h('div');
  let timer = null;
  let first = true;

  async function refresh() {
    if (first) replace(box, loading());
    try {
      const st = adaptAdminStats(await get('/admin/stats'));
      if (!box.isConnected && !first) return;
      first = false;
      const states = [...KEY_STATES, ...Object.keys(st.keys).filter((k) => !KEY_STATES.includes(k))];
      const items = states.filter((s) => st.keys[s] !== undefined).map((s) => ({ key: s, label: has(`state.${s}`) ? t(`state.${s}`) : s, value: Number(st.keys[s]) || 0 }));
      const totalKeys = items.reduce((a, i) => a + i.value, 0);
      const req = st.series.reduce((a, p) => a + p.requests, 0);
      const errs = st.series.reduce((a, p) => a + p.errors, 0);
      const figures = Object.entries(st.extra).filter(([k]) => k !== 'queue_depth' && k !== 'queue');
      replace(box,
        h('div', { class: 'grid grid-3' },
          card(t('stats.keys_total'), h('p', { class: 'big-number' }, h('span', { class: 'big-value', text: fmtNum(totalKeys) }))),
          card(t('stats.queue'), h('p', { class: 'big-number' }, h('span', { class: 'big-value', text: fmtNum(st.queue) }))),
          card(t('stats.window'), h('p', { class: 'big-number' }, h('span', { class: 'big-value', text: fmtNum(req) }), h('span', { class: 'big-unit', text: t('stats.errors_n', { n: fmtNum(errs) }) })))),
        card(t('stats.keys_by_state'), items.length ? hbars(items, { title: t('stats.keys_by_state') }) : empty(t('pool.none'))),
        card(t('stats.per_minute'), st.series.length ? lineChart({
          labels: st.series.map((p) => minuteLabel(p.t)),
          series: [
            { key: 'requests', label: t('stats.requests'), values: st.series.map((p) => p.requests) },
            { key: 'errors', label: t('stats.errors'), values: st.series.map((p) => p.errors) },
          ],
          summary: t('stats.per_minute_summary', { req: fmtNum(req), err: fmtNum(errs) }),
        }) : empty(t('stats.no_series'))),
        figures.length ? card(t('stats.figures'), dl(figures.map(([k, v]) => [has(`stats.f.${k}`) ? t(`stats.f.${k}`) : k, typeof v === 'number' ? fmtNum(v) : String(v)]))) : null);
    } catch (err) {
      if (first || !box.querySelector('.chart')) replace(box, errorBox(err, refresh));
    }
    clearTimeout(timer);
    if (box.isConnected || first) timer = setTimeout(refresh, 15000);
  }
  root.append(pageHeader(t('nav.admin_stats'), t('stats.intro'), h('button', { type: 'button', class: 'btn', text: t('common.refresh'), on: { click: () => { first = true; refresh(); } } })), box);
  refresh();
  return () => clearTimeout(timer);
}
