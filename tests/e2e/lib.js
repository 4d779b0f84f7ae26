// Shared helpers for the dashboard end-to-end tests: Debian's chromium driven
// by playwright-core, TAP output, REST calls as the dev SSO users.
import { chromium } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const URL = (process.env.PULSE_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
export const WORKER_API_KEY = process.env.PULSE_WORKER_API_KEY || '';
export const CTL = process.env.PULSE_CTL || '';
export const HERE = dirname(fileURLToPath(import.meta.url));
export const SHOTS = process.env.PULSE_SCREENSHOTS || join(HERE, '..', 'artifacts', 'screenshots');
const CHROMIUM = process.env.PULSE_CHROMIUM || '/usr/bin/chromium';

// A wait for something a user would see ends here only for a hung test:
// no check is about how long it took.
export const DEADLINE_MS = 60000;

let count = 0;
let failed = 0;
const cleanups = [];
const browsers = [];

// ---------------------------------------------------------------- TAP
export function diag(msg) {
  for (const line of String(msg).split('\n')) console.log('#   ' + line);
}

export function check(descr, cond, info) {
  count++;
  descr = String(descr).replace(/#/g, '\\#');
  if (cond) {
    console.log(`ok ${count} - ${descr}`);
  } else {
    failed++;
    console.log(`not ok ${count} - ${descr}`);
    if (info !== undefined) diag(typeof info === 'string' ? info : JSON.stringify(info, null, 1).slice(0, 1500));
  }
  return !!cond;
}

// A result that was not checked, and why: `ok N - descr # SKIP reason`.
// It counts against the plan, not as a pass; ./pulse-dev test shows it.
export function skip(descr, reason) {
  count++;
  console.log(`ok ${count} - ${String(descr).replace(/#/g, '\\#')} # SKIP ${String(reason).replace(/\n/g, ' ')}`);
}

class Stop extends Error {}

export function require(descr, cond, info) {
  if (!check(descr, cond, info)) throw new Stop(descr);
  return cond;
}

export function atEnd(fn) {
  cleanups.push(fn);
}

// run(main): runs the scenario, closes the browsers, prints the plan, exits.
export async function run(main) {
  const killer = setTimeout(() => {
    check('scenario finished within its time limit', false);
    console.log('1..' + count);
    process.exit(1);
  }, Number(process.env.PULSE_E2E_TIMEOUT_MS || 240000));
  try {
    await main();
  } catch (e) {
    if (!(e instanceof Stop)) check('scenario ran without an exception', false, e && e.stack ? e.stack : String(e));
    else diag('prerequisite failed, stopping this file');
  }
  for (const b of browsers) {
    try { await b.close(); } catch (e) { /* already gone */ }
  }
  if (failed === 0) {
    for (const fn of cleanups.reverse()) {
      try { await fn(); } catch (e) { diag('cleanup: ' + e.message); }
    }
  }
  clearTimeout(killer);
  console.log('1..' + count);
  process.exit(failed ? 1 : 0);
}

// ---------------------------------------------------------------- REST
export async function call(method, path, { user = 'admin', body, headers = {} } = {}) {
  const h = { Accept: 'application/json', ...headers };
  if (user) h.Authorization = 'Basic ' + Buffer.from(user + ':' + user).toString('base64');
  const init = { method, headers: h };
  if (method !== 'GET') {
    h['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body === undefined ? {} : body);
  }
  const res = await fetch(URL + path, init);
  const text = await res.text();
  let data = text;
  try { data = JSON.parse(text); } catch (e) { /* not JSON */ }
  return { status: res.status, data };
}

export async function waitFor(fn, timeoutMs = 30000, everyMs = 200) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > end) return null;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function uniq(prefix) {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
}

export async function createWorkflow(name, steps, description = '') {
  const r = await call('POST', '/api/workflows', { body: { name, description, definition: { steps } } });
  if (r.status !== 201) throw new Error('creating workflow ' + name + ': ' + r.status + ' ' + JSON.stringify(r.data));
  atEnd(() => call('DELETE', '/api/workflows/' + r.data.id));
  return r.data;
}

export function ctl(...args) {
  if (!CTL) throw new Error('PULSE_CTL is not set');
  const parts = CTL.split(/\s+/).filter(Boolean);
  return execFileSync(parts[0], [...parts.slice(1), ...args], { encoding: 'utf8', timeout: 60000 });
}

// The dev workers must be online and actually able to take commands: run
// `true` on each and fail the test if it does not complete.
export async function workersReady(names = ['local-1', 'local-2']) {
  for (const name of names) {
    const w = await waitFor(async () => {
      const r = await call('GET', '/api/workers');
      return r.status === 200 && r.data.find((x) => x.name === name && x.status === 'online');
    }, 30000);
    if (!w) throw new Error('worker ' + name + ' is not online');
    const r = await call('POST', `/api/workers/${w.id}/command`, { body: { command: 'true', timeout: 10000 } });
    if (r.status !== 201) throw new Error('direct command on ' + name + ': ' + r.status);
    const done = await waitFor(async () => {
      const e = await call('GET', '/api/executions/' + r.data.id);
      return e.data && ['completed', 'failed', 'cancelled'].includes(e.data.status) && e.data;
    }, 15000);
    if (!done || done.status !== 'completed') {
      throw new Error(`worker ${name} did not run a probe command (${done ? done.status : 'still queued'})`);
    }
  }
}

// ---------------------------------------------------------------- browser
export async function browser() {
  // playwright-core gives every launch a fresh, empty --user-data-dir.
  const b = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  browsers.push(b);
  return b;
}

// A page signed in as user; every problem the page shows goes into
// page.problems: JS dialogs (dismissed at once), page errors, console
// errors, CSP violations, failed requests.
export async function page(b, user, { width = 1280, height = 900, colorScheme = 'light' } = {}) {
  const context = await b.newContext({
    httpCredentials: { username: user, password: user, origin: URL, send: 'always' },
    viewport: { width, height },
    colorScheme,
  });
  const p = await context.newPage();
  p.problems = [];
  p.dialogs = [];
  p.on('dialog', async (d) => {
    p.dialogs.push(d.type() + ': ' + d.message());
    p.problems.push('dialog ' + d.type() + ': ' + d.message());
    await d.dismiss().catch(() => {});
  });
  p.on('pageerror', (e) => p.problems.push('pageerror: ' + e.message));
  p.on('console', (m) => {
    if (m.type() === 'error') p.problems.push('console: ' + m.text());
  });
  p.setDefaultTimeout(15000);
  return p;
}

// Problems other than the expected ones (e.g. a deliberate 400 or 403).
export function problems(p, allow = []) {
  return p.problems.filter((x) => !allow.some((re) => re.test(x)));
}

export async function shot(p, name) {
  mkdirSync(SHOTS, { recursive: true });
  const file = join(SHOTS, name + '.png');
  await p.screenshot({ path: file, fullPage: true });
  return file;
}
