// The dashboard: my rate limit and how it is earned, my keys at a glance, my requests per
// day (last 14 days) by outcome, and how to call the relay.
import { h, replace } from '../dom.js';
import { t, has } from '../i18n.js';
import { get } from '../api.js';
import * as session from '../session.js';
import { adaptDailyStats, listOf } from '../adapters.js';
import { stackedBars } from '../chart.js';
import { fmtDateShort, fmtNum } from '../format.js';
import { card, load, badge, copyButton, pageHeader, empty, errorBox } from '../ui.js';

export const KEY_STATES = ['pending', 'active', 'cooling', 'exhausted', 'invalid', 'expired', 'disabled'];

export function statusLabel(st) {
  return has(`status.${st}`) ? t(`status.${st}`) : st;
}

function rateCard(me) {
  const rpm = me.rpm_limit;
  const healthy = Number(me.healthy_keys) || 0;
  const parts = [
    h('p', { class: 'big-number' }, h('span', { class: 'big-value', text: fmtNum(rpm) }), h('span', { class: 'big-unit', text: t('dash.rpm_unit') })),
  ];
  // /auth/me may carry the numbers behind the limit; when it does, show the sum itself.
  const base = me.base_rpm, per = me.per_key_rpm, max = me.max_rpm;
  const override = me.rpm_override;
  if (override !== undefined && override !== null) {
    parts.push(h('p', { text: t('dash.rate_override', { rpm: fmtNum(override) }) }));
  } else if (me.rate_mode === 'manual') {
    parts.push(h('p', { text: t('dash.rate_manual') }));
  } else if (base !== undefined && per !== undefined && max !== undefined) {
    const sum = Number(base) + Number(per) * healthy;
    parts.push(h('p', { text: t('dash.rate_numbers', { base, per, healthy, sum: fmtNum(sum), max, rpm: fmtNum(rpm) }) }));
  } else {
    parts.push(h('p', { text: t('dash.rate_explain', { healthy }) }));
  }
  parts.push(h('p', { class: 'muted', text: t('dash.rate_formula') }),
    h('p', { class: 'muted', text: t('dash.rate_tip') }));
  return card(t('dash.rate_title'), ...parts);
}

function keysCard() {
  const box = h('div');
  load(box, () => get('/keys'), (resp) => {
    const keys = listOf(resp, 'keys');
    if (!keys.length) {
      return [empty(t('dash.no_keys')), h('a', { class: 'btn btn-primary', href: '#/keys', text: t('dash.add_key') })];
    }
    const counts = {};
    for (const k of keys) counts[k.state] = (counts[k.state] || 0) + 1;
    return [
      h('ul', { class: 'state-counts' }, KEY_STATES.filter((s) => counts[s]).map((s) => h('li', null, badge(s), h('span', { class: 'state-count', text: fmtNum(counts[s]) })))),
      h('ul', { class: 'mini-list' }, keys.slice(0, 6).map((k) => h('li', null,
        h('span', { class: 'mono', text: k.masked || '—' }),
        k.note ? h('span', { class: 'muted mini-note', text: k.note }) : null,
        badge(k.state)))),
      h('a', { href: '#/keys', class: 'link-more', text: t('dash.manage_keys', { n: keys.length }) }),
    ];
  });
  return card(t('dash.keys_title'), box);
}

function chartCard() {
  const box = h('div', { class: 'chart-box' });
  load(box, () => get('/logs/stats?days=14'), (resp) => {
    const { days, statuses } = adaptDailyStats(resp, 14);
    const total = days.reduce((a, d) => a + Object.values(d.counts).reduce((x, y) => x + y, 0), 0);
    const series = statuses.map((st) => ({ key: st, label: statusLabel(st), values: days.map((d) => d.counts[st] || 0) }));
    const chart = stackedBars({
      labels: days.map((d) => fmtDateShort(d.day)),
      series: series.length ? series : [{ key: 'ok', label: statusLabel('ok'), values: days.map(() => 0) }],
      summary: t('dash.chart_summary', { total: fmtNum(total) }),
    });
    return [h('p', { class: 'muted', text: t('dash.chart_total', { total: fmtNum(total) }) }), chart];
  });
  return card(t('dash.chart_title'), box);
}

// modelsCard: what the pool serves (GET /v1/novelai/models?detail=1, answered by the pool
// itself: no NovelAI call, no rate spent).
function modelsCard() {
  const box = h('div');
  load(box, () => get('/v1/novelai/models?detail=1'), (resp) => {
    const models = Array.isArray(resp) ? resp.map((id) => ({ id })) : listOf(resp, 'models');
    if (!models.length) return empty(t('dash.models_none'));
    return h('ul', { class: 'mini-list', attrs: { 'data-list': 'models' } }, models.map((m) => h('li', null,
      h('code', { class: 'mono', text: String(m.id) }),
      m.type ? h('span', { class: 'muted mini-note', text: m.type === 'image' ? t('dash.model_image') : t('dash.model_text') }) : null)));
  });
  return card(t('dash.models_title'), box);
}

function howToCard() {
  const base = `${location.origin}/v1/novelai`;
  const curl = [
    `curl -X POST "${base}/ai/generate-image" \\`,
    `  -H "Authorization: Bearer np-YOUR-RELAY-KEY" \\`,
    '  -H "Content-Type: application/json" \\',
    `  -d '{"input":"1girl, best quality","model":"nai-diffusion-4-5-full","action":"generate","parameters":{"width":832,"height":1216,"steps":28,"n_samples":1,"scale":5}}' \\`,
    '  -o images.zip',
  ].join('\n');
  return card(t('dash.howto_title'),
    h('p', { text: t('dash.howto_intro') }),
    h('div', { class: 'copy-row' },
      h('code', { class: 'code-inline', text: base, id: 'base-url' }),
      copyButton(base)),
    h('p', { class: 'muted', text: t('dash.howto_key') }),
    h('div', { class: 'code-block-wrap' },
      h('pre', { class: 'code-block' }, h('code', { text: curl })),
      h('div', { class: 'code-actions' }, copyButton(curl, t('dash.copy_curl')))),
    h('p', null, h('a', { href: '#/relay-keys', text: t('dash.get_relay_key') })));
}

export function render(root) {
  const me = session.current();
  const rateBox = h('div', { class: 'grid-item' });
  root.append(
    pageHeader(t('dash.title'), t('dash.hello', { name: me.username })),
    h('div', { class: 'grid grid-2' }, rateBox, h('div', { class: 'grid-item' }, keysCard())),
    chartCard(),
    modelsCard(),
    howToCard());
  // The cached /auth/me may be stale (keys added since): show it, then refresh it.
  replace(rateBox, rateCard(me));
  session.refreshMe().then((fresh) => { if (rateBox.isConnected) replace(rateBox, rateCard(fresh)); }).catch((err) => {
    if (rateBox.isConnected && err && err.status !== 401) rateBox.append(errorBox(err));
  });
}
