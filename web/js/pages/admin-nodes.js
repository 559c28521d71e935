// Admin: the instances seen (service, node, version, start, last heartbeat) and the leader.
import { h } from '../dom.js';
import { t } from '../i18n.js';
import { get } from '../api.js';
import { adaptNodes } from '../adapters.js';
import { fmtTime, fmtRelative, dash } from '../format.js';
import { card, load, table, pageHeader, empty, dl, badge } from '../ui.js';

export function render(root) {
  const box = h('div');
  function refresh() {
    load(box, () => get('/admin/nodes'), (resp) => {
      const { rows, leader, since } = adaptNodes(resp);
      const lead = rows.find((n) => n.isLeader);
      const head = card(t('nodes.leader_title'), dl([
        [t('nodes.leader'), leader ? h('code', { class: 'mono strong', text: leader }) : t('nodes.no_leader')],
        lead ? [t('nodes.leader_service'), `${dash(lead.service)} · ${dash(lead.instance)}`] : null,
        since ? [t('nodes.since'), fmtTime(since)] : null,
      ]));
      if (!rows.length) return [head, empty(t('nodes.none'))];
      return [head, card(t('nodes.list_title'), table([
        { label: t('nodes.service'), cell: (n) => dash(n.service) },
        { label: t('nodes.node'), cell: (n) => h('span', null, h('code', { class: 'mono', text: dash(n.node) }), n.isLeader ? h('span', { class: 'badge badge-active', text: t('nodes.is_leader') }) : null) },
        { label: t('nodes.instance'), cell: (n) => h('code', { class: 'mono small', text: dash(n.instance) }), when: rows.some((n) => n.instance) },
        { label: t('nodes.alive'), cell: (n) => badge(n.alive ? 'alive' : 'gone', 'nstate'), when: rows.some((n) => n.alive !== null) },
        { label: t('nodes.version'), cell: (n) => dash(n.version) },
        { label: t('nodes.started'), cell: (n) => fmtTime(n.started) },
        { label: t('nodes.heartbeat'), cell: (n) => (n.heartbeat ? h('span', { attrs: { title: fmtTime(n.heartbeat) }, text: fmtRelative(n.heartbeat) }) : '—') },
      ], rows, { caption: t('nodes.list_title') }))];
    });
  }
  root.append(pageHeader(t('nav.admin_nodes'), t('nodes.intro'), h('button', { type: 'button', class: 'btn', text: t('common.refresh'), on: { click: refresh } })), box);
  refresh();
}
