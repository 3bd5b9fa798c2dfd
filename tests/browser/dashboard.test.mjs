// Browser test of the Orchestrator's dashboard: headless Debian Chromium driven by playwright-core.
//
//   node tests/browser/dashboard.test.mjs        (after `cargo build`; SILVERLINE_BIN overrides the binary)
//
// It starts `silverline up --demo` on free ports with its own data dir, opens the one-time
// dashboard link `up` prints (its own REST calls use the admin token `up` writes), and checks:
// the Hosts and the demo application's modules and channels appear; the message rates on the
// channels change over time; logging in (a browser without a token sees only the login form; the
// link does not work twice; a viewer token pasted into the form shows the dashboard without the
// operator's controls); SIGKILLing a Host shows up (offline, event, modules re-placed, messages
// flowing again); deleting the application from the dashboard works. Screenshots go to
// target/dashboard-screenshots/. Any failed check ends the run with exit code 1.

import { chromium } from 'playwright-core';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = process.env.SILVERLINE_BIN || path.join(ROOT, 'target/debug/silverline');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOTS = path.join(ROOT, 'target/dashboard-screenshots');
const TOTAL_TIMEOUT_MS = 5 * 60 * 1000;
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const VIEWPORT = { width: 1600, height: 1000 };
const TOKEN_KEY = 'silverline.token'; // where the dashboard keeps its token (sessionStorage)

let passed = 0;
const cleanups = [];
let page = null;
let adminToken = null; // from <data-dir>/admin.token, for the test's own REST calls

function log(...a) {
  console.log(...a);
}

/** A check that ends the test loudly when it does not hold. */
function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
  passed++;
  log(`ok ${passed} - ${what}`);
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Poll `f` until it returns a truthy value; throw `what` after `ms`. */
async function eventually(ms, what, f) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const v = await f();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for: ${what}${last ? ` (last error: ${last.message})` : ''}`);
    await sleep(200);
  }
}

/** A REST call as `token` (the admin's unless told); `body` is the parsed JSON answer, if any. */
async function call(method, url, token = adminToken) {
  const r = await fetch(url, { method, headers: token ? { authorization: `Bearer ${token}` } : {} });
  const text = await r.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  return { status: r.status, body };
}

async function getJson(url, token = adminToken) {
  const { status, body } = await call('GET', url, token);
  return { status, body: status === 200 ? body : null, error: status === 200 ? null : body?.error };
}

async function shot(name, p = page) {
  if (!p) return;
  const file = path.join(SHOTS, `${name}.png`);
  await p.screenshot({ path: file, fullPage: true });
  log(`# screenshot ${path.relative(ROOT, file)}`);
}

/** Rates shown on the application's edges, by edge key (null while unknown). */
async function edgeRates(app) {
  return page.$$eval(`[data-testid=app][data-app="${app}"] [data-testid=edge]`, (paths) =>
    Object.fromEntries(paths.map((p) => [p.dataset.edge, p.dataset.rate === '' || p.dataset.rate === undefined ? null : Number(p.dataset.rate)])));
}

async function main() {
  check(fs.existsSync(BIN), `the silverline binary exists at ${BIN} (run cargo build first)`);
  check(fs.existsSync(CHROMIUM), `Chromium exists at ${CHROMIUM} (apt-get install chromium)`);
  fs.mkdirSync(SHOTS, { recursive: true });
  for (const f of fs.readdirSync(SHOTS)) if (f.endsWith('.png') || f.endsWith('.log')) fs.rmSync(path.join(SHOTS, f));

  // ----- silverline up --demo -------------------------------------------------------------------
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'sl-dashboard-'));
  cleanups.push(() => fs.rmSync(data, { recursive: true, force: true }));
  const [apiPort, mqttPort] = [await freePort(), await freePort()];
  const api = `http://127.0.0.1:${apiPort}`;
  const upLog = fs.createWriteStream(path.join(SHOTS, 'up.log'));
  const up = spawn(BIN, ['up', '--demo', '--hosts', '2', '--listen', `127.0.0.1:${apiPort}`, '--mqtt-listen', `127.0.0.1:${mqttPort}`, '--data-dir', data], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const hostPids = new Map();
  let dashboardUrl = null;
  let upExited = null;
  up.on('exit', (code, signal) => { upExited = { code, signal }; });
  let buffered = '';
  up.stdout.on('data', (chunk) => {
    upLog.write(chunk);
    buffered += chunk.toString();
    let nl;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      const m = /^host (\S+) pid (\d+)$/.exec(line.trim());
      if (m) hostPids.set(m[1], Number(m[2]));
      const d = /^dashboard\s+(http\S+)$/.exec(line.trim());
      if (d) dashboardUrl = d[1];
    }
  });
  up.stderr.on('data', (chunk) => upLog.write(chunk));
  cleanups.push(async () => {
    if (upExited === null) {
      up.kill('SIGINT'); // `up` stops its Hosts on Ctrl-C
      const deadline = Date.now() + 10000;
      while (upExited === null && Date.now() < deadline) await sleep(100);
      if (upExited === null) up.kill('SIGKILL');
    }
    for (const pid of hostPids.values()) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
    }
  });

  adminToken = await eventually(60000, `up writes the admin token to ${data}/admin.token`, async () => {
    if (upExited) throw new Error(`silverline up exited: ${JSON.stringify(upExited)}`);
    return fs.readFileSync(path.join(data, 'admin.token'), 'utf8').trim() || null;
  });
  check(true, 'up wrote the admin token to <data-dir>/admin.token');
  await eventually(90000, 'the demo application runs', async () => {
    if (upExited) throw new Error(`silverline up exited: ${JSON.stringify(upExited)}`);
    const { body } = await getJson(`${api}/v1/apps/pipeline`);
    return body?.state === 'running';
  });
  check(hostPids.has('host-1') && hostPids.has('host-2'), `up printed the Hosts' pids (${[...hostPids].map(([h, p]) => `${h}=${p}`).join(', ')})`);
  const anonymous = await getJson(`${api}/v1/apps`, null);
  check(anonymous.status === 401 && anonymous.error?.code === 'unauthenticated', `the REST API refuses a call without a token (${anonymous.status} ${anonymous.error?.code})`);
  await eventually(10000, 'up prints the dashboard link', async () => dashboardUrl);
  const loginUrl = new URL(dashboardUrl);
  check(loginUrl.origin === api && loginUrl.searchParams.get('login'), `up prints a one-time dashboard link on the API's address (${loginUrl.origin}/?login=…)`);

  // ----- the browser ------------------------------------------------------------------------------
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'sl-chromium-'));
  cleanups.push(() => fs.rmSync(profile, { recursive: true, force: true }));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: VIEWPORT,
    args: CHROMIUM_ARGS,
  });
  cleanups.unshift(() => context.close());
  page = context.pages()[0] || (await context.newPage());
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(`console error: ${m.text()}`); });
  page.on('requestfailed', (r) => { if (!r.url().includes('/v1/events')) pageErrors.push(`request failed: ${r.url()} ${r.failure()?.errorText}`); });

  await page.goto(dashboardUrl, { waitUntil: 'domcontentloaded' });
  // Sample the edge rates from the very first render on, to see them change over time.
  const rateSamples = [];
  const sampler = setInterval(() => { edgeRates('pipeline').then((r) => rateSamples.push(r)).catch(() => {}); }, 250);
  cleanups.unshift(() => clearInterval(sampler));

  // Hosts with their platform facts.
  for (const h of ['host-1', 'host-2']) {
    const card = page.locator(`[data-testid=host][data-host="${h}"]`);
    await card.waitFor({ timeout: 15000 });
    await eventually(10000, `${h} online on the dashboard`, async () => (await card.getAttribute('data-online')) === 'true');
    const text = await card.innerText();
    check(/\d+ cores/.test(text) && /load/.test(text), `${h} is shown online with platform facts and load: ${text.replace(/\s+/g, ' ').slice(0, 120)}`);
    await eventually(10000, `${h} shows its real-time policy`, async () => /^(SCHED_\w+ \((edf|fixed-priority)\)|none: .+)$/.test(await card.locator('[data-testid=realtime]').innerText()));
    check(true, `${h} shows its real-time policy: ${await card.locator('[data-testid=realtime]').innerText()}`);
  }

  // The one-time link logged this tab in as admin and left the address bar.
  const whoami = page.locator('[data-testid=whoami]');
  await whoami.waitFor({ timeout: 10000 });
  check((await whoami.getAttribute('data-role')) === 'admin' && (await whoami.innerText()).includes('admin'), `the header shows the admin role: ${(await whoami.innerText()).trim()}`);
  check(await page.locator('[data-testid=logout]').isVisible(), 'the header has a log-out button');
  const { href, stored } = await page.evaluate((key) => ({ href: location.href, stored: sessionStorage.getItem(key) }), TOKEN_KEY);
  check(!href.includes('login='), `the one-time token left the address bar (${href})`);
  check(!!stored && stored !== loginUrl.searchParams.get('login'), 'the tab keeps a session token, not the one-time one, in sessionStorage');

  // The demo application: its modules and channels.
  const app = page.locator('[data-testid=app][data-app="pipeline"]');
  await app.waitFor({ timeout: 15000 });
  for (const m of ['pipeline/sensor', 'pipeline/filter', 'pipeline/sink']) {
    await app.locator(`[data-testid=node][data-module="${m}"]`).waitFor({ timeout: 10000 });
    check(true, `module ${m} appears in the application graph`);
    check(await page.locator(`[data-testid=module-row][data-module="${m}"]`).count() === 1, `module ${m} appears in the modules table`);
  }
  const edges = await edgeRates('pipeline');
  const keys = Object.keys(edges);
  check(keys.some((k) => k.startsWith('pipeline/sensor:out->pipeline/filter:in')), `channel sensor → filter is drawn (${keys.join(', ')})`);
  check(keys.some((k) => k.startsWith('pipeline/filter:out->pipeline/sink:in')), 'channel filter → sink is drawn');
  const boxes = await app.locator('.hostbox').evaluateAll((gs) => gs.map((g) => g.dataset.host));
  check(boxes.length >= 1 && boxes.every((h) => h.startsWith('host-')), `modules are grouped in boxes per Host (${boxes.join(', ')})`);

  // Message rates: unknown at first, then positive (the sensor publishes at 10 Hz), changing.
  await eventually(30000, 'positive message rates on both channels', async () => {
    const r = await edgeRates('pipeline');
    return Object.values(r).length >= 2 && Object.values(r).every((v) => v !== null && v > 0);
  });
  const rates = await edgeRates('pipeline');
  check(Object.values(rates).every((v) => v > 2 && v < 40), `rates are plausible for a 10 Hz sensor: ${JSON.stringify(rates)}`);
  await sleep(3000);
  const sensorKey = keys.find((k) => k.startsWith('pipeline/sensor:out->'));
  const seenValues = new Set(rateSamples.map((s) => (s[sensorKey] === undefined ? 'absent' : String(s[sensorKey]))));
  check(seenValues.size >= 2, `the sensor → filter rate changed over time: ${[...seenValues].slice(0, 8).join(', ')}`);
  const activations = async () => Number((await page.locator('[data-testid=module-row][data-module="pipeline/sensor"] td[data-col=activations]').innerText()).replace(/[^\d.]/g, '')) || 0;
  const a0 = await activations();
  await sleep(2500);
  const a1 = await activations();
  check(a1 > a0, `the sensor's activation count grows (${a0} → ${a1})`);

  // The timing plots of the selected module have something drawn on them.
  await page.locator('[data-testid=node][data-module="pipeline/filter"]').click();
  await eventually(5000, 'the filter is selected', async () => (await page.locator('#detail-name').innerText()) === 'pipeline/filter');
  const inked = await page.$eval('#plot-exec', (c) => {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    const colours = new Set();
    for (let i = 0; i < d.length; i += 4 * 7) colours.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
    return colours.size;
  });
  check(inked > 3, `the execution-time plot is drawn (${inked} colours)`);
  const eventsShown = await page.locator('[data-testid=event]').evaluateAll((li) => li.map((e) => e.dataset.kind));
  check(eventsShown.includes('app-created') && eventsShown.includes('placement') && eventsShown.includes('host-joined'), `the event stream shows the history (${[...new Set(eventsShown)].join(', ')})`);
  check(await app.locator('[data-action="delete-app"]').count() === 1, 'the admin sees the Delete button of the application');
  await shot('1-running');

  await logins(api, dashboardUrl);

  // ----- kill a Host ----------------------------------------------------------------------------
  const victim = 'host-1';
  const onVictim = (await getJson(`${api}/v1/apps/pipeline`)).body.modules.filter((m) => m.host === victim).map((m) => m.id);
  process.kill(hostPids.get(victim), 'SIGKILL');
  log(`# SIGKILLed ${victim} (pid ${hostPids.get(victim)}), which ran ${onVictim.join(', ') || 'nothing'}`);
  const victimCard = page.locator(`[data-testid=host][data-host="${victim}"]`);
  await eventually(20000, `${victim} shown offline`, async () => (await victimCard.getAttribute('data-online')) === 'false');
  check(true, `${victim} is shown offline after SIGKILL`);
  await page.locator(`[data-testid=event][data-kind="host-lost"]`).first().waitFor({ timeout: 10000 });
  const lostText = await page.locator(`[data-testid=event][data-kind="host-lost"]`).first().innerText();
  check(lostText.includes(victim), `a host-lost event names ${victim}: ${lostText.replace(/\s+/g, ' ')}`);
  await shot('2-host-lost');
  await eventually(30000, 'every module re-placed on host-2 and running in the graph', async () => {
    const nodes = await app.locator('[data-testid=node]').evaluateAll((ns) => ns.map((n) => n.dataset.state));
    const boxes = await app.locator('.hostbox').evaluateAll((gs) => gs.map((g) => g.dataset.host));
    return nodes.length === 3 && nodes.every((s) => s === 'running') && boxes.length === 1 && boxes[0] === 'host-2';
  });
  check(true, 'the graph shows all modules re-placed on host-2');
  if (onVictim.length) {
    const moved = await page.locator('[data-testid=event][data-kind="placement"]').evaluateAll((li) => li.map((e) => e.innerText));
    check(moved.some((t) => t.includes(`host \`${victim}\` lost`)), 'a placement event gives the lost Host as the reason');
  }
  await eventually(30000, 'messages flow again after the re-placement', async () => {
    const r = await edgeRates('pipeline');
    return Object.values(r).length >= 2 && Object.values(r).every((v) => v !== null && v > 2);
  });
  check(true, `message rates recovered: ${JSON.stringify(await edgeRates('pipeline'))}`);
  await shot('3-recovered');

  // ----- operator action (in the admin's session): delete the application --------------------------
  await app.locator('[data-action="delete-app"]').click();
  const dialog = page.locator('[data-testid=confirm-dialog]');
  await dialog.waitFor({ state: 'visible', timeout: 5000 });
  check((await dialog.innerText()).includes('pipeline'), 'deleting asks for confirmation, naming the application');
  await shot('4-confirm-delete');
  await page.locator('[data-testid=confirm-ok]').click();
  await app.waitFor({ state: 'detached', timeout: 10000 });
  check(true, 'the application disappears from the dashboard');
  check((await getJson(`${api}/v1/apps/pipeline`)).status === 404, 'the Orchestrator no longer has the application');
  await page.locator('[data-testid=event][data-kind="app-deleted"]').first().waitFor({ timeout: 10000 });
  check(true, 'an app-deleted event is shown');
  await eventually(15000, 'the modules table is empty', async () => (await page.locator('[data-testid=module-row]').count()) === 0);
  check(true, 'the modules table is empty');
  await shot('5-deleted');

  check(pageErrors.length === 0, `no errors in the page${pageErrors.length ? ':\n  ' + pageErrors.join('\n  ') : ''}`);

  await manyModules(context, api);
}

/**
 * Logging in, each in a fresh browser context (its own sessionStorage, as a new visitor has):
 * without a token only the login form shows; the one-time link, already used by the main tab,
 * does not log in again; a viewer token pasted into the form shows the dashboard without the
 * operator's controls, and logging out brings the form back.
 */
async function logins(api, dashboardUrl) {
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  cleanups.unshift(() => browser.close());
  const fresh = async () => {
    const ctx = await browser.newContext({ viewport: VIEWPORT });
    const p = await ctx.newPage();
    const errors = [];
    const apiCalls = [];
    p.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
    // Chromium logs every 401 answer as a console error; those are expected here.
    p.on('console', (m) => { if (m.type() === 'error' && !/status of 401/.test(m.text())) errors.push(`console error: ${m.text()}`); });
    p.on('request', (r) => { if (new URL(r.url()).pathname.startsWith('/v1/')) apiCalls.push(`${r.method()} ${new URL(r.url()).pathname}`); });
    return { ctx, p, errors, apiCalls };
  };
  const storedToken = (p) => p.evaluate((key) => sessionStorage.getItem(key), TOKEN_KEY);

  // (a) No token: the login form, no Hosts, and no call to the API.
  {
    const { ctx, p, errors, apiCalls } = await fresh();
    await p.goto(`${api}/`, { waitUntil: 'domcontentloaded' });
    await p.locator('[data-testid=login-form]').waitFor({ timeout: 10000 });
    check(await p.locator('[data-testid=login-token]').isVisible() && await p.locator('[data-testid=login-submit]').isVisible(), 'without a token the page shows the login form');
    const hint = await p.locator('[data-testid=login]').innerText();
    check(hint.includes('silverline token create --role viewer') && hint.includes('admin.token'), 'the login form says where to get a token');
    check(await p.locator('[data-testid=host]').count() === 0 && !(await p.locator('[data-testid=hosts]').isVisible()), 'without a token no Host cards are shown');
    check(apiCalls.length === 0, `without a token the page makes no API call (${apiCalls.join(', ') || 'none'})`);
    await shot('0-login', p);
    await p.locator('[data-testid=login-token]').fill('not-a-token');
    await p.locator('[data-testid=login-submit]').click();
    const message = p.locator('[data-testid=login-message]');
    await message.waitFor({ timeout: 10000 });
    check(await p.locator('[data-testid=login-form]').isVisible() && (await message.innerText()).includes('does not accept'), `a wrong token is refused at the form: ${await message.innerText()}`);
    check(await storedToken(p) === null && await p.locator('[data-testid=host]').count() === 0, 'a wrong token is not kept and shows nothing');
    check(errors.length === 0, `no errors on the login page${errors.length ? ':\n  ' + errors.join('\n  ') : ''}`);
    await ctx.close();
  }

  // (b) The one-time link a second time: refused, and the page says why.
  {
    const { ctx, p, errors } = await fresh();
    const exchanged = p.waitForResponse((r) => new URL(r.url()).pathname === '/v1/session', { timeout: 10000 });
    await p.goto(dashboardUrl, { waitUntil: 'domcontentloaded' });
    check((await exchanged).status() === 401, 'the used one-time token is refused by POST /v1/session (401)');
    await p.locator('[data-testid=login-form]').waitFor({ timeout: 10000 });
    const message = await p.locator('[data-testid=login-message]').innerText();
    check(/used already|expired/.test(message), `the one-time link opened again shows the login form, saying why: ${message}`);
    check(await storedToken(p) === null && await p.locator('[data-testid=host]').count() === 0, 'the used link logs nobody in');
    check(!(await p.evaluate(() => location.href)).includes('login='), 'the one-time token left the address bar even though it failed');
    check(errors.length === 0, `no errors on the refused link${errors.length ? ':\n  ' + errors.join('\n  ') : ''}`);
    await ctx.close();
  }

  // (c) A viewer token pasted into the form: the dashboard, the role in the header, no operator controls.
  const { stdout } = await promisify(execFile)(BIN, ['token', 'create', '--role', 'viewer'], {
    env: { ...process.env, SILVERLINE_API: api, SILVERLINE_TOKEN: adminToken },
    timeout: 30000,
  });
  const viewerToken = stdout.trim();
  check(/^\S+$/.test(viewerToken), '`silverline token create --role viewer` prints a token');
  const refused = await call('DELETE', `${api}/v1/apps/pipeline`, viewerToken);
  check(refused.status === 403 && refused.body?.error?.code === 'forbidden', `the API refuses a viewer's DELETE (${refused.status} ${refused.body?.error?.code})`);
  {
    const { ctx, p, errors } = await fresh();
    await p.goto(`${api}/`, { waitUntil: 'domcontentloaded' });
    await p.locator('[data-testid=login-token]').fill(viewerToken);
    await p.locator('[data-testid=login-submit]').click();
    const whoami = p.locator('[data-testid=whoami]');
    await whoami.waitFor({ timeout: 10000 });
    check((await whoami.getAttribute('data-role')) === 'viewer' && (await whoami.innerText()).includes('viewer'), `the header shows the viewer role: ${(await whoami.innerText()).trim()}`);
    const session = await storedToken(p);
    check(!!session && session !== viewerToken && !(await p.locator('[data-testid=login-form]').isVisible()), 'the tab keeps a session token of its own, not the pasted one, and the login form is gone');
    for (const h of ['host-1', 'host-2']) await p.locator(`[data-testid=host][data-host="${h}"]`).waitFor({ timeout: 15000 });
    const app = p.locator('[data-testid=app][data-app="pipeline"]');
    await app.locator('[data-testid=node][data-module="pipeline/sensor"]').waitFor({ timeout: 15000 });
    check(true, 'the viewer sees the Hosts and the application graph');
    await app.locator('[data-testid=node][data-module="pipeline/filter"]').click();
    await eventually(5000, 'the filter is selected in the viewer tab', async () => (await p.locator('#detail-name').innerText()) === 'pipeline/filter');
    const controls = await p.locator('[data-action], [data-testid^="action-"]').count();
    check(controls === 0, `the viewer sees no delete or switch-over controls (${controls})`);
    await shot('0-viewer', p);
    await p.locator('[data-testid=logout]').click();
    await p.locator('[data-testid=login-form]').waitFor({ timeout: 5000 });
    check(await storedToken(p) === null && await p.locator('[data-testid=host]:visible').count() === 0, 'logging out forgets the token and shows the login form instead of the dashboard');
    const ended = await call('GET', `${api}/v1/whoami`, session);
    const pasted = await call('GET', `${api}/v1/whoami`, viewerToken);
    check(ended.status === 401 && pasted.status === 200, `logging out revokes the session (${ended.status}) and not the pasted token (${pasted.status})`);
    check(errors.length === 0, `no errors in the viewer's tab${errors.length ? ':\n  ' + errors.join('\n  ') : ''}`);
    await ctx.close();
  }
}

/**
 * Hundreds of modules: the same page against a synthetic API (300 modules of 10 applications
 * on 30 Hosts, counters advancing like real ones) must render, update and filter quickly. The
 * synthetic API also answers what the real one rarely does: a 403 to an action, and a 401 when
 * the session's token runs out.
 */
async function manyModules(context, api) {
  const HOSTS = 30, APPS = 10, PER_APP = 30;
  const t0 = Date.now();
  const summary = (us) => ({ count: 100, min: us * 500, mean: us * 1000, p50: us * 1000, p99: us * 3000, max: us * 5000 });
  const hosts = () => Array.from({ length: HOSTS }, (_, i) => ({
    name: `edge-${i}`, online: true, last_seen_ms: 200,
    platform: { cpu: { arch: 'aarch64', cores: 4, modelName: 'Cortex-A72' }, memory: { totalBytes: 4 << 30 }, os: { name: 'linux', kernel: '6.1' } },
    manifest: { metadata: { tags: ['plant'] } },
    resources: { load1: (i % 7) / 2, memory_available_bytes: 2 << 30, process_rss_bytes: 40 << 20 },
    modules: [], assigned: [],
  }));
  const apps = () => {
    const n = Math.floor((Date.now() - t0) / 100); // 10 messages per second per channel
    return Array.from({ length: APPS }, (_, a) => {
      const name = `app-${a}`;
      const spec = Array.from({ length: PER_APP }, (_, j) => ({
        name: `m${j}`,
        inputChannels: j > 0 ? { channels: [{ name: 'in', endpoint: `${name}/c${j - 1}` }] } : undefined,
        outputChannels: j < PER_APP - 1 ? { channels: [{ name: 'out', endpoint: `${name}/c${j}` }] } : undefined,
      }));
      const modules = spec.map((m, j) => ({
        app: name, module: m.name, id: `${name}/${m.name}`, host: `edge-${(a * PER_APP + j) % HOSTS}`, sha256: 'ab'.repeat(32),
        state: 'running', problem: null, role: 'primary',
        profile: {
          trigger: j === 0 ? 'periodic' : 'event', activations: n, step_errors: 0, overruns: 0, deadline_misses: 0, traps: 0, restarts: 0,
          exec_ns: summary(10 + j), start_jitter_ns: summary(50), fuel_last: 1000, fuel_total: 1000 * n, memory_bytes: 65536,
          messages_in: j > 0 ? n : 0, messages_out: j < PER_APP - 1 ? n : 0, messages_dropped: 0,
          channels: [
            ...(j > 0 ? [{ name: 'in', direction: 'in', endpoint: `${name}/c${j - 1}`, active: true, messages: n, dropped: 0, queued: 0 }] : []),
            ...(j < PER_APP - 1 ? [{ name: 'out', direction: 'out', endpoint: `${name}/c${j}`, active: true, messages: n, dropped: 0, queued: 0 }] : []),
          ],
        },
      }));
      return { name, state: 'running', generation: 1, manifest: { name, modules: spec }, modules };
    });
  };
  const p = await context.newPage();
  const errors = [];
  p.on('pageerror', (e) => errors.push(e.message));
  // A new tab has its own sessionStorage: give it a token the synthetic API accepts.
  await p.addInitScript((key) => { if (!sessionStorage.getItem(key)) sessionStorage.setItem(key, 'synthetic'); }, TOKEN_KEY);
  let expired = false;
  const apiPath = (want) => (u) => u.pathname === want; // the event stream's URL carries ?access_token=
  const refuse = (r, status, code, message) => r.fulfill({ status, json: { error: { code, message } } });
  await p.route(apiPath('/v1/whoami'), (r) => r.fulfill({ json: { role: 'operator', name: 'synthetic' } }));
  await p.route(apiPath('/v1/hosts'), (r) => (expired ? refuse(r, 401, 'unauthenticated', 'synthetic token expired') : r.fulfill({ json: hosts() })));
  await p.route(apiPath('/v1/apps'), (r) => r.fulfill({ json: apps() }));
  await p.route(apiPath('/v1/apps/app-0'), (r) => refuse(r, 403, 'forbidden', 'synthetic: app-0 is protected'));
  await p.route(apiPath('/v1/events'), (r) => r.fulfill({ status: 200, contentType: 'text/event-stream', body: 'id: s.1\ndata: {"seq":1,"stream":"s","time":"2026-01-01T00:00:00Z","kind":"host-joined","level":"info","host":"edge-0","message":"synthetic"}\n\n' }));
  await p.goto(`${api}/`, { waitUntil: 'domcontentloaded' });
  const total = APPS * PER_APP;
  await eventually(20000, `${total} module rows`, async () => (await p.locator('[data-testid=module-row]').count()) === total);
  check(true, `${total} modules of ${APPS} applications on ${HOSTS} Hosts are listed`);
  check((await p.locator('[data-testid=node]').count()) === total, `${total} graph nodes`);
  check((await p.locator('[data-testid=edge]').count()) === APPS * (PER_APP - 1), `${APPS * (PER_APP - 1)} channels drawn`);
  const times = [];
  for (let i = 0; i < 6; i++) {
    await sleep(1000);
    times.push(Number(await p.evaluate(() => document.body.dataset.renderMs)));
  }
  times.sort((a, b) => a - b);
  check(times[Math.floor(times.length / 2)] < 400, `an update of the page with ${total} modules takes ${times.join(', ')} ms (median under 400 ms)`);
  await eventually(15000, 'rates on the synthetic channels', async () => {
    const r = await p.$$eval('[data-testid=app][data-app="app-3"] [data-testid=edge]', (ps) => ps.map((e) => Number(e.dataset.rate || 0)));
    return r.length === PER_APP - 1 && r.every((v) => v > 5 && v < 15);
  });
  check(true, 'rates are derived for every synthetic channel');
  await p.locator('[data-testid=module-filter]').fill('app-3/ m1');
  const visible = await p.locator('[data-testid=module-row]:visible').count();
  check(visible === 11, `filtering the table by "app-3/ m1" leaves 11 rows (${visible})`);
  await p.screenshot({ path: path.join(SHOTS, '6-many-modules.png') });
  log('# screenshot target/dashboard-screenshots/6-many-modules.png');

  // A 403 is shown next to the action, in the server's words.
  const app0 = p.locator('[data-testid=app][data-app="app-0"]');
  await app0.locator('[data-action="delete-app"]').click();
  await p.locator('[data-testid=confirm-ok]').click();
  const refusal = app0.locator('[data-testid=action-error]');
  await refusal.waitFor({ timeout: 5000 });
  check((await refusal.innerText()).includes('synthetic: app-0 is protected'), `a 403 shows the server's message next to the button: ${await refusal.innerText()}`);

  // A 401 ends the session: the token is forgotten and the login form says why.
  expired = true;
  await p.locator('[data-testid=login-form]').waitFor({ timeout: 10000 });
  const message = await p.locator('[data-testid=login-message]').innerText();
  check(message.includes('synthetic token expired') && !(await p.locator('[data-testid=hosts]').isVisible()), `a 401 brings back the login form instead of the dashboard: ${message}`);
  check(await p.evaluate((key) => sessionStorage.getItem(key), TOKEN_KEY) === null, 'a 401 forgets the token');
  check(errors.length === 0, `no errors with many modules${errors.length ? ': ' + errors.join('; ') : ''}`);
  await p.close();
}

async function cleanup() {
  for (const f of cleanups.splice(0)) {
    try { await f(); } catch (e) { log(`# cleanup: ${e.message}`); }
  }
}

const watchdog = setTimeout(() => {
  console.error(`FAILED: the test took longer than ${TOTAL_TIMEOUT_MS / 1000} s`);
  shot('failure').finally(() => cleanup().finally(() => process.exit(1)));
}, TOTAL_TIMEOUT_MS);

try {
  await main();
  clearTimeout(watchdog);
  await cleanup();
  log(`dashboard: ${passed} passed, 0 failed`);
  process.exit(0);
} catch (e) {
  clearTimeout(watchdog);
  console.error(`FAILED: ${e.stack || e.message}`);
  try { await shot('failure'); } catch { /* no page */ }
  const logFile = path.join(SHOTS, 'up.log');
  if (fs.existsSync(logFile)) {
    const lines = fs.readFileSync(logFile, 'utf8').split('\n').filter((l) => !l.startsWith('[pipeline/sink]'));
    console.error(`--- silverline up (last lines, sink output left out) ---\n${lines.slice(-40).join('\n')}`);
  }
  await cleanup();
  log(`dashboard: ${passed} passed, 1 failed`);
  process.exit(1);
}
