// Everything that depends on the exact shape of an answer the back-end has not fixed in
// HTTP-API.md lives here, one function per answer, so a change touches one place.

// listOf(resp, ...names) finds the array in an answer that is either the array itself or an
// object holding it under one of the given names (or "items" / "data").
export function listOf(resp, ...names) {
  if (Array.isArray(resp)) return resp;
  if (resp && typeof resp === 'object') {
    for (const n of [...names, 'items', 'data', 'rows']) {
      if (Array.isArray(resp[n])) return resp[n];
    }
  }
  return [];
}

// ---- GET /logs/stats?days=N -------------------------------------------------------------
// Accepted shapes:
//   {"days":14,"by_day":[{"day":"2026-11-26","total":4,"ok":3,"errors":1}],...}  (audit's answer)
//   {"days":[{"day":"2026-11-26","ok":3,"error":1}]}          (one object per day)
//   {"days":[{"day":"2026-11-26","counts":{"ok":3}}]}          (counts nested)
//   [{"day":"2026-11-26","status":"ok","count":3}, ...]        (one row per day and status)
//   {"stats"|"rows"|"items":[...either of the above rows...]}
// Answer: {days:[{day, counts:{status:n}}] for the last `days` days (gaps filled with zeros),
//          statuses:[...] ordered with "ok" first, then by total}.
const NON_STATUS = new Set(['day', 'date', 'counts', 'total', 'status', 'count', 'n']);

export function adaptDailyStats(resp, days = 14) {
  const rows = listOf(resp, 'by_day', 'days', 'stats');
  const byDay = new Map();
  const add = (day, status, n) => {
    if (!day) return;
    const key = String(day).slice(0, 10);
    const c = byDay.get(key) || {};
    c[status] = (c[status] || 0) + (Number(n) || 0);
    byDay.set(key, c);
  };
  for (const r of rows) {
    if (!r || typeof r !== 'object') continue;
    const day = r.day ?? r.date;
    if (r.status !== undefined && (r.count !== undefined || r.n !== undefined)) {
      add(day, String(r.status), r.count ?? r.n);
    } else if (r.counts && typeof r.counts === 'object') {
      for (const [st, n] of Object.entries(r.counts)) add(day, st, n);
    } else {
      for (const [st, n] of Object.entries(r)) {
        if (!NON_STATUS.has(st) && typeof n === 'number') add(day, st, n);
      }
    }
  }
  // The server counts days in UTC; so does this range, ending today or at the newest day.
  let end = new Date();
  const endKey = end.toISOString().slice(0, 10);
  const newest = [...byDay.keys()].sort().pop();
  if (newest && newest > endKey) end = new Date(`${newest}T00:00:00Z`);
  const out = [];
  for (let i = days - 1; i >= 0; i--) {
    const d = new Date(Date.UTC(end.getUTCFullYear(), end.getUTCMonth(), end.getUTCDate() - i));
    const key = d.toISOString().slice(0, 10);
    out.push({ day: key, counts: byDay.get(key) || {} });
  }
  const totals = {};
  for (const c of byDay.values()) for (const [st, n] of Object.entries(c)) totals[st] = (totals[st] || 0) + n;
  const statuses = Object.keys(totals).sort((a, b) => (a === 'ok' ? -1 : b === 'ok' ? 1 : totals[b] - totals[a]));
  return { days: out, statuses };
}

// ---- GET /logs and GET /admin/audit: keyset pagination -----------------------------------
// A page is either the array of rows or {items|logs|events: [...], next|next_before|cursor}.
// The cursor for the next page is what the server names, else the last row's own cursor
// field (cursor, then id, then time).
export function adaptPage(resp, ...names) {
  const rows = listOf(resp, ...names, 'logs', 'events');
  let next = null;
  if (resp && !Array.isArray(resp)) next = resp.next_before ?? resp.next_cursor ?? resp.next ?? resp.cursor ?? null;
  if (next === null && rows.length) next = rowCursor(rows[rows.length - 1]);
  return { rows, next };
}

export function rowCursor(row) {
  if (!row) return null;
  return row.cursor ?? row.id ?? row.seq ?? row.time ?? null;
}

// ---- GET /admin/config ------------------------------------------------------------------
// Accepted shapes:
//   {"settings":[{"key","value","source","read_only"|"editable","type","description"}]}
//   [{...same...}]
//   {"PER_KEY_RPM":{"value":5,"source":"default","read_only":false}, ...}
//   {"values":{...}, "read_only":[...], "sources":{...}}
// Answer, in the server's order (it groups related settings):
//   [{key, value, source, readOnly, type ('bool'|'int'|'number'|'string'), description, min, max,
//     secret, default}]
export function adaptConfig(resp) {
  let items = [];
  if (Array.isArray(resp) || (resp && Array.isArray(resp.settings || resp.items || resp.config))) {
    items = listOf(resp, 'settings', 'config').map((s) => ({ ...s, key: s.key ?? s.name }));
  } else if (resp && resp.values && typeof resp.values === 'object') {
    const ro = new Set(resp.read_only || resp.readonly || []);
    items = Object.entries(resp.values).map(([key, value]) => ({
      key, value, read_only: ro.has(key), source: resp.sources ? resp.sources[key] : undefined,
    }));
  } else if (resp && typeof resp === 'object') {
    items = Object.entries(resp).map(([key, v]) => (v && typeof v === 'object' && !Array.isArray(v) && 'value' in v ? { key, ...v } : { key, value: v }));
  }
  return items.filter((s) => s.key).map((s) => {
    const readOnly = s.read_only === true || s.readonly === true || s.editable === false || s.mutable === false;
    let type = s.type;
    if (!type || !['bool', 'int', 'number', 'string', 'secret'].includes(type)) {
      if (type === 'boolean') type = 'bool';
      else if (type === 'integer') type = 'int';
      else if (type === 'float' || type === 'double') type = 'number';
      else if (typeof s.value === 'boolean') type = 'bool';
      else if (typeof s.value === 'number') type = Number.isInteger(s.value) ? 'int' : 'number';
      else type = 'string';
    }
    return {
      key: String(s.key), value: s.value, source: s.source ?? null, readOnly, type,
      description: s.description ?? s.help ?? null, min: s.min ?? null, max: s.max ?? null,
      secret: s.secret === true || type === 'secret', default: s.default,
    };
  });
}

// ---- GET /admin/nodes -------------------------------------------------------------------
// {nodes|instances:[{service, node|node_id, version, started|started_at, last_heartbeat|last_seen}],
//  leader: "node-id" | {node|node_id, service, since}}
export function adaptNodes(resp) {
  const rows = listOf(resp, 'nodes', 'instances').map((n) => ({
    service: n.service ?? n.svc ?? null,
    node: n.node_id ?? n.node ?? n.id ?? null,
    version: n.version ?? null,
    started: n.started_at ?? n.started ?? null,
    heartbeat: n.last_heartbeat ?? n.last_seen ?? n.heartbeat_at ?? null,
    leader: n.leader === true || n.is_leader === true,
    instance: n.instance ?? n.address ?? n.addr ?? null,
    alive: n.alive ?? null,
  }));
  let leader = resp && !Array.isArray(resp) ? resp.leader ?? null : null;
  let since = null;
  if (leader && typeof leader === 'object') { since = leader.since ?? null; leader = leader.node_id ?? leader.node ?? leader.instance ?? leader.id ?? null; }
  if (!leader) { const l = rows.find((r) => r.leader); leader = l ? l.node : null; }
  // When rows carry their own leader flag, that marks the one instance; else match the node.
  const flagged = rows.some((r) => r.leader);
  for (const r of rows) r.isLeader = flagged ? r.leader : leader !== null && String(r.node) === String(leader);
  return { rows, leader: leader === null ? null : String(leader), since };
}

// ---- GET /admin/stats -------------------------------------------------------------------
// {keys_by_state:{active:3,...} | [{state,count}], queue_depth|queue: N,
//  per_minute|minutes|series:[{minute|time|t, requests, errors}]}
export function adaptAdminStats(resp) {
  const r = resp || {};
  let keys = r.keys_by_state ?? r.keys ?? {};
  if (Array.isArray(keys)) keys = Object.fromEntries(keys.map((k) => [k.state, Number(k.count ?? k.n) || 0]));
  const series = listOf(r.per_minute ?? r.minutes ?? r.series ?? r.requests_per_minute ?? []).map((p) => ({
    t: p.minute ?? p.time ?? p.t ?? p.ts,
    requests: Number(p.requests ?? p.total ?? p.count ?? 0),
    errors: Number(p.errors ?? p.error ?? 0),
  }));
  const extra = {};
  for (const [k, v] of Object.entries(r)) {
    if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') extra[k] = v;
  }
  return { keys, queue: r.queue_depth ?? r.queue ?? null, series, extra };
}

// ---- owners in GET /admin/keys: a name, an id, or a nested user --------------------------
export function ownerOf(k) {
  if (k.owner && typeof k.owner === 'object') return k.owner.username ?? k.owner.name ?? k.owner.id;
  return k.owner_username ?? k.owner_name ?? k.username ?? k.owner ?? k.owner_id ?? k.user_id ?? null;
}
