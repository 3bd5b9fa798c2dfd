// The silverline dashboard. Polls GET /v1/hosts and GET /v1/apps every second (the apps carry
// their modules with live profiles and manifests), derives rates from successive counters,
// keeps a ring of timing samples per module, and follows GET /v1/events. Every view updates
// its DOM in place, keyed by name, so hundreds of modules stay cheap. Nothing is fetched before
// the page has a token the API accepts: until then it shows the login form (session.js).

import { el, setText, setAttr, fmtNs, fmtBytes, fmtRate, fmtCount, RateTracker, Ring } from './util.js';
import { AppGraph, stateClass } from './graph.js';
import { drawPlot } from './plot.js';
import { EventsPanel } from './events.js';
import { actionButtons, actionsKey, notify } from './actions.js';
import { ApiError, request, whoami, exchange, endSession, storedToken, storeToken, forgetToken, setWho, onUnauthenticated, eventsUrl } from './session.js';

const POLL_MS = 1000;
const RING = 600; // timing samples kept per module: 10 minutes at one per second

const $ = (id) => document.getElementById(id);
const rates = new RateTracker(5000);
const timings = new Map(); // module id -> Ring of {t, e50, e99, j50, j99}
const ui = { selected: null, apps: [], hosts: [], modules: new Map() };

// ----- Hosts ---------------------------------------------------------------------------------

const hostCards = new Map();

function hostCard(name) {
  const c = {
    pill: el('span', { class: 'pill' }),
    facts: el('div', { class: 'facts-line' }),
    os: el('div', { class: 'facts-line muted' }),
    bar: el('div', { class: 'bar' }),
    load: el('span', { class: 'meter-text' }),
    rss: el('dd'), avail: el('dd'), mods: el('dd'), seen: el('dd'), rt: el('dd', { 'data-testid': 'realtime' }),
  };
  c.root = el('article', { class: 'hostcard', 'data-host': name, 'data-testid': 'host' },
    el('header', {}, el('span', { class: 'name' }, name), c.pill),
    c.facts, c.os,
    el('div', { class: 'meter', title: '1-minute load average per core' }, c.bar, c.load),
    el('dl', { class: 'kv' },
      el('dt', {}, 'process RSS'), c.rss,
      el('dt', {}, 'available'), c.avail,
      el('dt', {}, 'modules'), c.mods,
      el('dt', {}, 'real-time'), c.rt,
      el('dt', {}, 'last seen'), c.seen));
  return c;
}

function renderHosts(hosts) {
  const box = $('hosts');
  const names = new Set(hosts.map((h) => h.name));
  for (const [name, c] of hostCards) if (!names.has(name)) { c.root.remove(); hostCards.delete(name); }
  for (const h of hosts) {
    let c = hostCards.get(h.name);
    if (!c) { c = hostCard(h.name); hostCards.set(h.name, c); box.append(c.root); }
    const p = h.platform || {};
    const cpu = p.cpu || {};
    setAttr(c.root, 'data-online', h.online);
    setAttr(c.root, 'class', `hostcard ${h.online ? 'online' : 'offline'}`);
    setText(c.pill, h.online ? 'online' : 'offline');
    const tags = h.manifest?.metadata?.tags || [];
    const pid = h.manifest?.metadata?.platformId || p.id;
    setText(c.facts, [cpu.arch, `${cpu.cores} cores`, cpu.model_name || cpu.modelName, fmtBytes(p.memory?.total_bytes ?? p.memory?.totalBytes)].filter(Boolean).join(' · '));
    setText(c.os, [p.os?.name, p.os?.kernel && `kernel ${p.os.kernel}`, pid && `platform ${pid}`, tags.length ? `tags ${tags.join(', ')}` : null].filter(Boolean).join(' · ') || '\u00a0');
    const r = h.resources;
    const perCore = r ? r.load1 / Math.max(1, cpu.cores || 1) : 0;
    c.bar.style.width = `${Math.min(100, perCore * 100).toFixed(0)}%`;
    setAttr(c.bar, 'class', `bar${perCore > 0.9 ? ' hot' : perCore > 0.6 ? ' warm' : ''}`);
    setText(c.load, r ? `load ${r.load1.toFixed(2)} / ${cpu.cores || '?'} cores` : 'no status');
    setText(c.rss, r ? fmtBytes(r.process_rss_bytes) : '–');
    setText(c.avail, r ? fmtBytes(r.memory_available_bytes) : '–');
    setText(c.mods, `${h.modules.length} running · ${h.assigned.length} assigned`);
    // The policy the Host offers real-time modules and the admission test it gets (docs/timing.md).
    const rt = h.realtime == null ? '–' : h.realtime.startsWith('none') ? h.realtime : `${h.realtime} (${h.scheduler})`;
    setText(c.rt, rt);
    setAttr(c.rt, 'title', rt);
    setText(c.seen, h.online ? `${(h.last_seen_ms / 1000).toFixed(1)} s ago` : `lost (${Math.round(h.last_seen_ms / 1000)} s ago)`);
  }
  const online = hosts.filter((h) => h.online).length;
  setText($('hosts-count'), `${online}/${hosts.length} online`);
}

// ----- Applications ----------------------------------------------------------------------------

const appSections = new Map();

function edgeRate(e) {
  if (!e.dst.profile) return null;
  return rates.rate(`${e.dst.id}|in|${e.inp.name}`);
}

function renderApps(apps, online) {
  const box = $('apps');
  const names = new Set(apps.map((a) => a.name));
  for (const [name, s] of appSections) if (!names.has(name)) { s.root.remove(); appSections.delete(name); }
  for (const app of apps) {
    let s = appSections.get(app.name);
    if (!s) {
      s = { state: el('span', { class: 'pill' }), meta: el('span', { class: 'muted' }), actions: el('span', { class: 'actions' }), body: el('div', { class: 'graph-wrap' }), key: null };
      const toggle = el('button', { type: 'button', class: 'toggle', 'aria-expanded': 'true', title: 'collapse' }, '▾');
      toggle.addEventListener('click', () => {
        const open = s.body.hidden;
        s.body.hidden = !open;
        toggle.textContent = open ? '▾' : '▸';
        toggle.setAttribute('aria-expanded', String(open));
      });
      s.root = el('section', { class: 'app', 'data-app': app.name, 'data-testid': 'app' },
        el('header', {}, toggle, el('h3', {}, app.name), s.state, s.meta, s.actions), s.body);
      s.graph = new AppGraph(s.body, select);
      appSections.set(app.name, s);
      box.append(s.root);
    }
    setText(s.state, app.state);
    setAttr(s.state, 'class', `pill ${app.state === 'running' ? 'ok' : app.state === 'degraded' ? 'bad' : 'wait'}`);
    setAttr(s.root, 'data-state', app.state);
    setText(s.meta, `generation ${app.generation} · ${app.modules.length} modules`);
    s.ctx = app;
    const key = actionsKey('app', { app });
    if (key !== s.key) {
      s.key = key;
      const section = s;
      s.actions.replaceChildren(...actionButtons('app', { get app() { return section.ctx; } }, pollSoon));
    }
    if (!s.body.hidden) s.graph.update(app, edgeRate, online, ui.selected);
  }
  $('no-apps').hidden = apps.length > 0;
  setText($('apps-count'), String(apps.length));
}

// ----- Modules table ---------------------------------------------------------------------------

const rows = new Map();
let rowOrder = '';

const COLS = ['host', 'state', 'act', 'activations', 'e50', 'e99', 'j50', 'j99', 'in', 'out', 'dropped', 'misses', 'traps', 'mem', 'fuel'];

function renderModules(modules) {
  const body = $('modules-body');
  const ids = new Set(modules.map((m) => m.id));
  for (const [id, r] of rows) if (!ids.has(id)) { r.tr.remove(); rows.delete(id); }
  for (const m of modules) {
    let r = rows.get(m.id);
    if (!r) {
      r = { cells: {} };
      r.name = el('td', { class: 'id' });
      r.tr = el('tr', { 'data-module': m.id, 'data-testid': 'module-row' }, r.name, ...COLS.map((c) => (r.cells[c] = el('td', { class: c === 'host' || c === 'state' ? c : 'num', 'data-col': c }))));
      r.tr.addEventListener('click', () => select(m.id));
      rows.set(m.id, r);
    }
    const p = m.profile;
    setText(r.name, m.role && m.role !== 'primary' ? `${m.id} (${m.role})` : m.id);
    setAttr(r.tr, 'class', `${stateClass(m.state)}${m.id === ui.selected ? ' selected' : ''}`);
    setAttr(r.tr, 'data-state', m.state);
    const v = {
      host: m.host || '–',
      state: m.problem ? `${m.state}: ${m.problem}` : m.state,
      act: fmtRate(p ? rates.rate(`${m.id}|act`) : null),
      activations: p ? fmtCount(p.activations) : '–',
      e50: p ? fmtNs(p.exec_ns.p50) : '–',
      e99: p ? fmtNs(p.exec_ns.p99) : '–',
      j50: p && p.trigger === 'periodic' ? fmtNs(p.start_jitter_ns.p50) : '–',
      j99: p && p.trigger === 'periodic' ? fmtNs(p.start_jitter_ns.p99) : '–',
      in: fmtRate(p ? rates.rate(`${m.id}|in`) : null),
      out: fmtRate(p ? rates.rate(`${m.id}|out`) : null),
      dropped: p ? fmtCount(p.messages_dropped) : '–',
      misses: p ? fmtCount(p.deadline_misses) : '–',
      traps: p ? fmtCount(p.traps) : '–',
      mem: p ? fmtBytes(p.memory_bytes) : '–',
      fuel: p ? fmtCount(p.fuel_last) : '–',
    };
    for (const c of COLS) setText(r.cells[c], v[c]);
    r.text = `${m.id} ${m.host || ''} ${m.state} ${m.role || ''}`.toLowerCase();
  }
  const order = modules.map((m) => m.id).join('\n');
  if (order !== rowOrder) {
    rowOrder = order;
    body.append(...modules.map((m) => rows.get(m.id).tr));
  }
  filterModules();
  const running = modules.filter((m) => m.state === 'running').length;
  setText($('modules-count'), `${running}/${modules.length} running`);
}

function filterModules() {
  const words = $('module-filter').value.trim().toLowerCase().split(/\s+/).filter(Boolean);
  for (const r of rows.values()) {
    const hide = !words.every((w) => r.text.includes(w));
    if (r.tr.hidden !== hide) r.tr.hidden = hide;
  }
}

// ----- Selected module: timing plots, facts, actions --------------------------------------------

let detailKey = null;

function select(id) {
  ui.selected = id;
  for (const [rid, r] of rows) r.tr.classList.toggle('selected', rid === id);
  for (const s of appSections.values()) s.graph.update(s.ctx, edgeRate, isOnline, id);
  detailKey = null;
  renderDetail();
}

function renderDetail() {
  const m = ui.modules.get(ui.selected);
  setText($('detail-name'), m ? m.id : 'select a module');
  $('detail').dataset.module = m ? m.id : '';
  const windowS = Number($('plot-window').value);
  const ring = timings.get(ui.selected)?.items || [];
  drawPlot($('plot-exec'), ring.map((s) => ({ t: s.t, a: s.e50, b: s.e99 })), windowS);
  drawPlot($('plot-jitter'), ring.filter((s) => s.periodic).map((s) => ({ t: s.t, a: s.j50, b: s.j99 })), windowS);
  const key = m ? `${m.id}|${actionsKey('module', { module: m })}` : '';
  if (key !== detailKey) {
    detailKey = key;
    $('module-actions').replaceChildren(...(m ? actionButtons('module', { module: m }, pollSoon) : []));
  }
  const facts = $('detail-facts');
  if (!m) { facts.replaceChildren(); return; }
  const p = m.profile;
  const items = [
    ['host', m.host || 'none'],
    ['state', m.problem ? `${m.state} (${m.problem})` : m.state],
    ['trigger', p?.trigger ?? '–'],
    ['exec p50 / p99 / max', p ? `${fmtNs(p.exec_ns.p50)} / ${fmtNs(p.exec_ns.p99)} / ${fmtNs(p.exec_ns.max)}` : '–'],
    ['jitter p50 / p99 / max', p && p.trigger === 'periodic' ? `${fmtNs(p.start_jitter_ns.p50)} / ${fmtNs(p.start_jitter_ns.p99)} / ${fmtNs(p.start_jitter_ns.max)}` : '–'],
    ['overruns · step errors · restarts', p ? `${p.overruns} · ${p.step_errors} · ${p.restarts}` : '–'],
    ...(p?.reservation ? [['reservation · throttled', `${fmtNs(p.reservation.runtime_ns)} every ${fmtNs(p.reservation.period_ns)} (${p.reservation.sized_from}) · ${p.throttled ?? 0}`]] : []),
    ['fuel total', p ? fmtCount(p.fuel_total) : '–'],
    ['sha256', m.sha256.slice(0, 16) + '…'],
  ];
  for (const c of p?.channels || []) {
    items.push([`${c.direction} ${c.name}`, `${c.endpoint} · ${fmtRate(rates.rate(`${m.id}|${c.direction}|${c.name}`))} · ${fmtCount(c.messages)} total${c.dropped ? ` · ${c.dropped} dropped` : ''}${c.direction === 'out' && !c.active ? ' · inactive' : ''}`]);
  }
  facts.replaceChildren(...items.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
}

// ----- Polling -----------------------------------------------------------------------------------

let hostsOnline = new Map();
const isOnline = (h) => !!h && hostsOnline.get(h) === true;

/**
 * Counters change when a Host's status report arrives, not when the page polls: each sample is
 * dated by its report (poll time minus the Host's `last_seen_ms`), which keeps rates exact.
 */
function ingest(apps, hosts, now) {
  const reported = new Map(hosts.filter((h) => h.online).map((h) => [h.name, now - h.last_seen_ms]));
  for (const app of apps) {
    for (const m of app.modules) {
      const p = m.profile;
      if (!p) continue;
      const t = reported.get(m.host) ?? now;
      rates.push(`${m.id}|act`, t, p.activations);
      rates.push(`${m.id}|in`, t, p.messages_in);
      rates.push(`${m.id}|out`, t, p.messages_out);
      for (const c of p.channels) rates.push(`${m.id}|${c.direction}|${c.name}`, t, c.messages);
      let ring = timings.get(m.id);
      if (!ring) { ring = new Ring(RING); timings.set(m.id, ring); }
      ring.push({ t: now, e50: p.exec_ns.p50, e99: p.exec_ns.p99, j50: p.start_jitter_ns.p50, j99: p.start_jitter_ns.p99, periodic: p.trigger === 'periodic' });
    }
  }
  rates.prune();
  const live = new Set(apps.flatMap((a) => a.modules.map((m) => m.id)));
  for (const id of timings.keys()) if (!live.has(id)) timings.delete(id);
}

function renderSummary(hosts, apps) {
  const modules = apps.flatMap((a) => a.modules);
  const msgs = modules.reduce((s, m) => s + (rates.rate(`${m.id}|out`) || 0), 0);
  setText($('summary'), `${hosts.filter((h) => h.online).length}/${hosts.length} hosts online · ${apps.length} application(s) · ${modules.filter((m) => m.state === 'running').length}/${modules.length} modules running · ${fmtRate(msgs)} messages published`);
}

function setConn(ok, text) {
  const c = $('conn');
  c.dataset.state = ok ? 'ok' : 'down';
  setText(c, text);
}

let timer = null;
let polling = false;
let running = false; // polling and following events: only while logged in

async function poll() {
  clearTimeout(timer);
  if (polling || !running) return;
  polling = true;
  try {
    const [hosts, apps] = await Promise.all([request('GET', '/v1/hosts'), request('GET', '/v1/apps')]);
    if (!running) return; // logged out while the answers were on their way
    const t = Date.now();
    const started = performance.now();
    ui.hosts = hosts;
    ui.apps = apps;
    ui.modules = new Map(apps.flatMap((a) => a.modules.map((m) => [m.id, m])));
    hostsOnline = new Map(hosts.map((h) => [h.name, h.online]));
    ingest(apps, hosts, t);
    if (!ui.selected || !ui.modules.has(ui.selected)) ui.selected = apps[0]?.modules[0]?.id ?? null;
    renderHosts(hosts);
    renderApps(apps, isOnline);
    renderModules([...ui.modules.values()]);
    renderDetail();
    renderSummary(hosts, apps);
    events.setApps(apps.map((a) => a.name));
    document.body.dataset.renderMs = (performance.now() - started).toFixed(1); // read by the browser test
    setConn(true, `updated ${new Date(t).toLocaleTimeString([], { hour12: false })}`);
  } catch (e) {
    if (!(e instanceof ApiError)) setConn(false, `Orchestrator unreachable: ${e.message}`);
    else if (e.status !== 401) setConn(false, e.message); // a 401 has put up the login form
  } finally {
    polling = false;
    if (running) timer = setTimeout(poll, POLL_MS);
  }
}

/** Poll soon (after an action or an event that changes what is shown). */
let soon = null;
function pollSoon() {
  clearTimeout(soon);
  soon = setTimeout(poll, 150);
}

const events = new EventsPanel({ list: $('events'), appSelect: $('events-app'), filter: $('events-filter'), problemsOnly: $('events-warn'), stateLabel: $('events-state') });
const STRUCTURAL = new Set(['host-joined', 'host-lost', 'app-created', 'app-updated', 'app-deleted', 'placement', 'module-started', 'module-failed', 'module-stopped', 'module-deployed']);
events.onEvent((e) => { if (STRUCTURAL.has(e.kind)) pollSoon(); });
// The stream cannot say it got a 401: a cheap authenticated call finds out, and ends the
// session through request() if so.
events.onClosed(() => { request('GET', '/v1/whoami').catch(() => {}); });
$('module-filter').addEventListener('input', filterModules);
$('plot-window').addEventListener('input', renderDetail);

// ----- Session: login form, who is logged in, log out -------------------------------------------

/** Show the login form or the dashboard; the header's session parts go with the dashboard. */
function show(view) {
  const dashboard = view === 'dashboard';
  $('login').hidden = dashboard;
  $('dashboard').hidden = !dashboard;
  $('session').hidden = !dashboard;
  $('summary').hidden = !dashboard;
  $('conn').hidden = !dashboard;
  document.body.dataset.view = view;
}

/** The login form, with `message` ('error', or 'info' for a plain log-out) above it. */
function showLogin(message, kind = 'error') {
  stop();
  setText($('login-message'), message || '');
  $('login-message').hidden = !message;
  $('login-message').dataset.kind = kind;
  show('login');
  $('login-token').focus();
}

/**
 * Start polling and following events as `w` ({role, name} from whoami). A second start after logging out (or after a 401)
 * keeps what is on the page: every role sees the same data, and the action buttons are redrawn
 * because their key includes what the role allows.
 */
function start(w) {
  setWho(w);
  setText($('whoami-role'), w.role);
  setText($('whoami-name'), w.name || '');
  $('whoami').dataset.role = w.role;
  $('whoami').title = `logged in as ${w.name || 'unnamed token'} (${w.role})`;
  show('dashboard');
  running = true;
  events.start(eventsUrl);
  poll();
}

function stop() {
  running = false;
  clearTimeout(timer);
  clearTimeout(soon);
  events.stop();
  setWho(null);
}

onUnauthenticated((message) => showLogin(`The Orchestrator no longer accepts this session's token (${message}). Log in again.`));

$('logout').addEventListener('click', async () => {
  stop();
  await endSession();
  showLogin('Logged out.', 'info');
});

$('login-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const token = $('login-token').value.trim();
  if (!token) return;
  const submit = $('login-submit');
  submit.disabled = true;
  try {
    const w = await whoami(token);
    // The tab keeps a session token of its own, so logging out can revoke it without
    // revoking the token that was pasted.
    storeToken(await exchange(token));
    $('login-token').value = '';
    start(w);
  } catch (e) {
    const why = !(e instanceof ApiError) ? `the Orchestrator is unreachable (${e.message})`
      : e.status === 401 ? 'the Orchestrator does not accept this token' : e.message;
    showLogin(`Not logged in: ${why}.`);
  } finally {
    submit.disabled = false;
  }
});

const BOOT_RETRY_MS = 2000;

/**
 * Check the stored token and start. While the Orchestrator cannot be reached (or fails), try
 * again: the token may be fine. A refused token is forgotten.
 */
async function resume(notice) {
  const token = storedToken();
  if (!token) { showLogin(notice); return; }
  try {
    const w = await whoami(token);
    start(w);
    if (notice) notify(notice, 'error');
  } catch (e) {
    if (e instanceof ApiError && e.status < 500) {
      forgetToken();
      showLogin(e.status === 401 ? 'Your session has ended. Log in again.' : `Not logged in: ${e.message}.`);
    } else {
      setConn(false, e instanceof ApiError ? e.message : `Orchestrator unreachable: ${e.message}`);
      setTimeout(() => resume(notice), BOOT_RETRY_MS);
    }
  }
}

/**
 * `silverline up` prints a dashboard link with a one-time login token. It leaves the address bar
 * (and so the history) before it is used, then is traded for a session token; a second use is
 * refused by the server, and the page falls back to a token it already has, or the login form.
 */
async function boot() {
  const params = new URLSearchParams(location.search);
  const oneTime = params.get('login');
  let notice = null;
  if (oneTime !== null) {
    params.delete('login');
    const rest = params.toString();
    history.replaceState(history.state, '', `${location.pathname}${rest ? `?${rest}` : ''}${location.hash}`);
    try {
      storeToken(await exchange(oneTime));
    } catch (e) {
      notice = !(e instanceof ApiError) ? `The login link could not be used: the Orchestrator is unreachable (${e.message}).`
        : e.status === 401 ? 'This login link has been used already (it works once) or has expired.'
        : `The login link could not be used: ${e.message}.`;
    }
  }
  await resume(notice);
}

boot();
