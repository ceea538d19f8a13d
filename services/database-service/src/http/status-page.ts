import type { FastifyInstance } from 'fastify';

/**
 * GET /: the status page, one self-contained HTML document (no front-end build): per database and
 * table the chunks by state, rows and bytes archived, what is due next, failures with a Retry
 * button (asking for the API token when the service wants one), conflicts, dead letters and the
 * Redis endpoints, from the same JSON routes an operator's scripts use. Refreshes itself.
 */
export async function statusPage(app: FastifyInstance): Promise<void> {
  app.get('/', { schema: { hide: true } }, async (_request, reply) =>
    reply
      .header('content-type', 'text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .header(
        'content-security-policy',
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'",
      )
      .send(STATUS_PAGE),
  );
}

// Escaped for a template literal: \` and \${ in the page's own script.
const STATUS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>chunk-archiver status</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1d1d1f; background: #fafafa; }
  h1 { font-size: 1.3rem; margin: 0 0 .2rem; }
  h2 { font-size: 1.1rem; margin: 1.6rem 0 .4rem; }
  h3 { font-size: .95rem; margin: 1rem 0 .3rem; }
  table { border-collapse: collapse; background: #fff; margin-bottom: .6rem; }
  th, td { border: 1px solid #ddd; padding: .25rem .5rem; text-align: left; vertical-align: top; }
  th { background: #f0f0f3; font-weight: 600; }
  td.n { text-align: right; font-variant-numeric: tabular-nums; }
  .bad { color: #b00020; font-weight: 600; }
  .ok { color: #126b2b; }
  .muted { color: #777; }
  button { font: inherit; padding: .1rem .6rem; cursor: pointer; }
  #banner { padding: .4rem .6rem; margin: .6rem 0; display: none; border-radius: 4px; }
  #banner.show { display: block; background: #fff3cd; border: 1px solid #e0c36b; }
  code { font-size: .9em; }
</style>
</head>
<body>
<h1>chunk-archiver</h1>
<div class="muted">database-service status · <span id="updated">loading…</span> · refreshes every 10 s</div>
<div id="banner" role="status"></div>
<div id="redis"></div>
<div id="databases"></div>
<h2>Dead letters</h2>
<div id="dead-letters" class="muted">loading…</div>
<script>
'use strict';
const STATES = ['pending', 'requested', 'archived', 'dropped', 'failed', 'dead'];
const TOKEN_KEY = 'chunk-archiver-token';

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') node.className = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(c == null ? '' : String(c)));
  return node;
}

function table(headers, rows) {
  return el('table', {}, el('tr', {}, ...headers.map((h) => el('th', {}, h))), ...rows);
}

function bytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return \`\${n.toFixed(i ? 1 : 0)} \${units[i]}\`;
}

function say(message) {
  const banner = document.getElementById('banner');
  banner.textContent = message;
  banner.className = message ? 'show' : '';
}

/** POSTs with the token this browser tab was given, asking for one when the service wants it. */
async function post(url, body) {
  for (let attempt = 0; attempt < 2; attempt++) {
    const token = sessionStorage.getItem(TOKEN_KEY);
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: \`Bearer \${token}\` } : {}) },
      body: JSON.stringify(body),
    });
    if (res.status !== 401) return res;
    const given = window.prompt('This service needs its API token to retry chunks:');
    if (!given) return res;
    sessionStorage.setItem(TOKEN_KEY, given);
  }
  return fetch(url, { method: 'POST' });
}

async function retry(database, failure, button) {
  button.disabled = true;
  const url = \`/database/retention/chunks/\${encodeURIComponent(failure.id)}/retry?database=\${encodeURIComponent(database)}\`;
  const res = await post(url, { reason: 'retried from the status page' });
  const body = await res.json().catch(() => ({}));
  if (res.ok) say(\`\${failure.chunk}: re-queued\`);
  else say(\`\${failure.chunk}: not retried (\${res.status}): \${body.message || res.statusText}\`);
  await refresh();
}

function renderDatabase(db) {
  const box = el('section', { 'data-database': db.database });
  box.append(el('h2', {}, \`Database \${db.database} \`,
    el('span', { class: db.ok ? 'ok' : 'bad' }, db.ok ? (db.leader ? 'leading' : 'standby') : \`error: \${db.error}\`)));
  if (db.last_scan) {
    const s = db.last_scan;
    box.append(el('div', { class: 'muted' },
      \`last scan \${s.finished_at || 'not yet'}: found \${s.discovered}, requested \${s.requested}, dropped \${s.dropped}\`));
  }
  box.append(table(['table', 'kind', ...STATES, 'rows archived', 'bytes archived', 'oldest pending'],
    db.tables.map((t) => el('tr', { 'data-table': t.table },
      el('td', {}, t.table), el('td', {}, t.kind),
      ...STATES.map((s) => el('td', { class: \`n\${(s === 'failed' || s === 'dead') && t.chunks[s] ? ' bad' : ''}\` }, t.chunks[s])),
      el('td', { class: 'n' }, t.rows_archived.toLocaleString('en')), el('td', { class: 'n' }, bytes(t.bytes_archived)),
      el('td', {}, t.oldest_pending || '–')))));
  const conflicts = db.tables.flatMap((t) => t.conflicts.map((c) => [t.table, c]));
  if (conflicts.length) {
    box.append(el('h3', {}, 'Conflicts'));
    box.append(table(['table', 'kind', 'what'], conflicts.map(([t, c]) =>
      el('tr', {}, el('td', {}, t), el('td', {}, c.kind), el('td', {}, c.message)))));
  }
  box.append(el('h3', {}, 'Next due'));
  box.append(db.next_due.length
    ? table(['chunk', 'table', 'state', 'due'], db.next_due.map((d) =>
      el('tr', {}, el('td', {}, d.chunk), el('td', {}, d.table), el('td', {}, d.state), el('td', {}, d.due_at || 'next scan'))))
    : el('div', { class: 'muted' }, 'nothing waiting'));
  box.append(el('h3', {}, 'Failures'));
  box.append(db.failures.length
    ? table(['chunk', 'state', 'attempts', 'error', ''], db.failures.map((f) => {
      const button = el('button', { 'data-retry': f.id }, 'Retry');
      button.addEventListener('click', () => retry(db.database, f, button));
      return el('tr', { 'data-failure': f.id }, el('td', {}, f.chunk), el('td', { class: 'bad' }, f.state),
        el('td', { class: 'n' }, f.attempts), el('td', {}, el('code', {}, f.error_code || ''), ' ', f.error || ''),
        el('td', {}, button));
    }))
    : el('div', { class: 'muted' }, 'none'));
  return box;
}

function renderRedis(redis) {
  const node = document.getElementById('redis');
  node.replaceChildren();
  if (!redis) return;
  node.append(el('h2', {}, 'Redis ', el('span', { class: redis.ok ? 'ok' : 'bad' }, redis.ok ? \`on \${redis.active}\` : 'no healthy endpoint')));
  node.append(table(['endpoint', 'address', 'weight', 'health', 'circuit', ''], redis.endpoints.map((e) =>
    el('tr', {}, el('td', {}, e.name), el('td', {}, e.address), el('td', { class: 'n' }, e.weight),
      el('td', { class: e.healthy ? 'ok' : 'bad' }, e.healthy ? 'healthy' : e.last_error || 'unhealthy'),
      el('td', {}, e.circuit), el('td', {}, e.active ? 'active' : '')))));
}

function renderDeadLetters(body) {
  const node = document.getElementById('dead-letters');
  node.replaceChildren();
  node.className = '';
  const counts = Object.entries(body.counts).map(([t, n]) => \`\${t}: \${n}\`).join(' · ');
  node.append(el('div', { class: 'muted' }, counts));
  if (body.dead_letters.length)
    node.append(table(['topic', 'id', 'reason', 'deliveries', 'size'], body.dead_letters.map((d) =>
      el('tr', {}, el('td', {}, d.topic), el('td', {}, d.id), el('td', {}, d.reason),
        el('td', { class: 'n' }, d.deliveries), el('td', { class: 'n' }, bytes(d.payload_bytes))))));
}

async function refresh() {
  try {
    const [status, dead] = await Promise.all([
      fetch('/database/retention/status').then((r) => r.json()),
      fetch('/database/retention/dead-letters?limit=20').then((r) => (r.ok ? r.json() : null)),
    ]);
    renderRedis(status.redis);
    document.getElementById('databases').replaceChildren(...status.database_stats.map(renderDatabase));
    if (dead) renderDeadLetters(dead);
    document.getElementById('updated').textContent = \`updated \${new Date().toLocaleTimeString()}\`;
  } catch (error) {
    document.getElementById('updated').textContent = \`could not load: \${error.message}\`;
  }
}

refresh();
setInterval(refresh, 10000);
</script>
</body>
</html>
`;
