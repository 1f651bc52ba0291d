// The dashboard page served at GET /: one self-contained HTML document (inline CSS and script, no CDN, no build
// step) that polls /dashboard.json every second and draws clusters, hosts, request rates, latency and xDS state.

/** The page. Rates and p50/p99 are computed in the browser from the difference of two polls (fixed buckets). */
export const DASHBOARD_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>meshlet</title>
<style>
  :root { --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --muted: #57606a; --line: #d0d7de; }
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1f2328; background: #f6f8fa; }
  header { display: flex; gap: 16px; align-items: baseline; padding: 12px 20px; background: #24292f; color: #fff; }
  header h1 { font-size: 18px; margin: 0; }
  header .meta { color: #c9d1d9; font-size: 13px; }
  main { padding: 16px 20px; display: grid; gap: 16px; }
  section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 12px 16px; }
  h2 { font-size: 15px; margin: 0 0 8px; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); font-variant-numeric: tabular-nums; }
  th { color: var(--muted); font-weight: 600; font-size: 12px; }
  .badge { display: inline-block; padding: 0 6px; border-radius: 10px; font-size: 12px; color: #fff; }
  .healthy { background: var(--ok); } .degraded { background: var(--warn); } .unhealthy, .ejected { background: var(--bad); }
  .cluster { margin-bottom: 14px; } .cluster h3 { font-size: 14px; margin: 6px 0; }
  .stats span { margin-right: 14px; color: var(--muted); } .stats b { color: #1f2328; }
  .nack { color: var(--bad); white-space: pre-wrap; } .err { color: var(--bad); }
</style>
</head>
<body>
<header><h1>meshlet</h1><span class="meta" id="node"></span><span class="meta" id="updated">loading…</span></header>
<main>
  <section><h2>xDS</h2><div id="xds">…</div></section>
  <section><h2>Clusters</h2><div id="clusters">…</div></section>
</main>
<script>
'use strict';
let previous = null;
const el = (tag, attrs, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
};
function quantile(bounds, buckets, q) {
  const total = buckets.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  let seen = 0;
  for (let i = 0; i < buckets.length; i++) {
    const lower = i === 0 ? 0 : bounds[i - 1];
    const upper = i < bounds.length ? bounds[i] : bounds[bounds.length - 1] * 2;
    if (seen + buckets[i] >= q * total) return lower + (upper - lower) * ((q * total - seen) / buckets[i]);
    seen += buckets[i];
  }
  return bounds[bounds.length - 1];
}
const ms = (v) => (v === null ? '–' : v < 10 ? v.toFixed(1) + ' ms' : Math.round(v) + ' ms');
function renderXds(x) {
  const box = document.getElementById('xds');
  box.replaceChildren();
  if (!x) { box.append(el('span', {}, 'static configuration (no xDS server)')); return; }
  box.append(el('div', {}, 'server ', el('b', {}, x.server), ' · ', el('span', { id: 'xds-state', class: 'badge ' + (x.state === 'CONNECTED' ? 'healthy' : 'unhealthy') }, x.state), x.lastError ? el('span', { class: 'err' }, ' ' + x.lastError) : ''));
  const table = el('table', {}, el('tr', {}, el('th', {}, 'type'), el('th', {}, 'version'), el('th', {}, 'accepted'), el('th', {}, 'rejected'), el('th', {}, 'last NACK')));
  for (const t of x.types) table.append(el('tr', {}, el('td', {}, t.type), el('td', {}, t.version || '–'), el('td', {}, t.accepted), el('td', {}, t.rejected), el('td', { class: 'nack' }, t.lastNack ? t.lastNack.at + ' ' + t.lastNack.error : '–')));
  box.append(table);
}
function renderClusters(data) {
  const box = document.getElementById('clusters');
  box.replaceChildren();
  const dt = previous ? (data.at - previous.at) / 1000 : 0;
  for (const c of data.clusters) {
    const before = previous && previous.clusters.find((p) => p.name === c.name);
    const delta = before ? c.time.map((n, i) => n - (before.time[i] || 0)) : c.time;
    const rps = before && dt > 0 ? (c.requests - before.requests) / dt : 0;
    const div = el('div', { class: 'cluster', 'data-cluster': c.name });
    div.append(el('h3', {}, c.name));
    div.append(el('div', { class: 'stats' },
      el('span', {}, 'req/s ', el('b', { class: 'rps' }, rps.toFixed(1))),
      el('span', {}, 'p50 ', el('b', {}, ms(quantile(data.bounds, delta, 0.5)))),
      el('span', {}, 'p99 ', el('b', {}, ms(quantile(data.bounds, delta, 0.99)))),
      el('span', {}, 'total ', el('b', {}, c.requests)),
      el('span', {}, '5xx ', el('b', {}, c.errors)),
      el('span', {}, 'retries ', el('b', {}, c.retries)),
      el('span', {}, 'ejected ', el('b', {}, c.ejected))));
    const table = el('table', {}, el('tr', {}, el('th', {}, 'host'), el('th', {}, 'state'), el('th', {}, 'flags'), el('th', {}, 'active'), el('th', {}, 'weight')));
    for (const h of c.hosts) {
      const state = h.ejected ? 'ejected' : h.health;
      table.append(el('tr', { class: 'host', 'data-host': h.address, 'data-state': state },
        el('td', {}, h.address), el('td', {}, el('span', { class: 'badge ' + state }, state.toUpperCase())), el('td', {}, h.flags), el('td', {}, h.activeRequests), el('td', {}, h.weight)));
    }
    div.append(table);
    box.append(div);
  }
  if (data.clusters.length === 0) box.append('no clusters');
}
async function poll() {
  try {
    const res = await fetch('dashboard.json', { cache: 'no-store' });
    const data = await res.json();
    document.getElementById('node').textContent = 'node ' + data.node;
    renderXds(data.xds);
    renderClusters(data);
    previous = data;
    document.getElementById('updated').textContent = 'updated ' + new Date(data.at).toLocaleTimeString();
  } catch (error) {
    document.getElementById('updated').textContent = 'admin unreachable: ' + error;
  }
  setTimeout(poll, 1000);
}
poll();
</script>
</body>
</html>
`;
