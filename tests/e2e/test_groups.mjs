// Grouped output on the dashboard (SPEC §17): one step on N simulated
// workers (bench/loadws.c -m groups: most print "ok", every 10th exits 1,
// every 25th exits 2 with stderr) shows its groups largest first, the lines
// that differ from the largest group's sample highlighted; a group expands
// to its workers and one worker's whole output. Measured, printed, not
// judged: the size of ?view=groups and of the default view, and how long
// the page takes to draw the groups.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { atEnd, browser, call, check, ctl, DEADLINE_MS, diag, HERE, page, problems, require, run, shot, uniq, URL,
  waitFor } from './lib.js';

const N = Number(process.env.PULSE_E2E_GROUP_WORKERS || 1000);
const FINAL = ['completed', 'failed', 'cancelled'];

function kind(i) {
  if (i % 25 === 0) return 2;
  if (i % 10 === 0) return 1;
  return 0;
}

run(async () => {
  const tag = Math.random().toString(36).slice(2, 8);
  const prefix = 'e2eg' + tag;
  const group = 'e2e-groups-' + tag;
  const tmp = mkdtempSync(join(tmpdir(), 'pulse-e2e-groups-'));
  // Built and enrolled as the integration test does (tests/integration/fleet.py).
  const t0 = Date.now();
  const fleet = JSON.parse(execFileSync('python3', [join(HERE, '..', 'integration', 'fleet.py'), tmp, prefix, String(N), group],
    { encoding: 'utf8', timeout: 180000, env: process.env }));
  diag(`${N} workers enrolled in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  // Past nginx's per-address websocket rate: the stack's own pushd socket,
  // as bench/scale.py connects its thousands.
  const sock = process.env.PULSE_STACK ? join(process.env.PULSE_STACK, 'run', 'pushd-worker.sock') : '';
  const via = sock && existsSync(sock) ? ['-U', sock] : ['-H', '127.0.0.1', '-P', new globalThis.URL(URL).port];
  const load = spawn(fleet.loadws, ['worker', '-K', fleet.keys, '-n', String(N), '-p', prefix, '-m', 'groups', ...via],
    { stdio: ['pipe', 'ignore', 'inherit'] });
  const stopLoad = () => { try { load.stdin.end(); load.kill('SIGTERM'); } catch (e) { /* gone */ } };
  atEnd(() => rmSync(tmp, { recursive: true, force: true }));
  process.on('exit', stopLoad);
  // The simulated workers go whatever happens: a thousand left behind
  // would slow every later page that lists workers.
  try {
    const online = await waitFor(async () => {
      const r = await call('GET', '/api/workers');
      return r.status === 200 && r.data.filter((w) => w.name.startsWith(prefix + '-') && w.status === 'online').length >= N;
    }, 180000, 500);
    require(`${N} simulated workers online`, !!online);
    // And one real agent, slow, so the step is still running when the page
    // opens: its result must reach the groups live.
    const real = prefix + '-real';
    ctl('worker-start', real, group);
    process.on('exit', () => { try { ctl('worker-stop', real); } catch (e) { /* gone */ } });
    atEnd(async () => {
      try { ctl('worker-stop', real); } catch (e) { /* gone */ }
      const r = await call('GET', '/api/workers');
      const w = r.status === 200 ? r.data.find((x) => x.name === real) : null;
      if (w) await call('DELETE', '/api/workers/' + w.id);
    });
    require('a real worker online in the group too', !!await waitFor(async () => {
      const r = await call('GET', '/api/workers');
      return r.status === 200 && r.data.some((x) => x.name === real && x.status === 'online' && x.command_channel !== false);
    }, DEADLINE_MS));

    const wf = await call('POST', '/api/workflows', { body: { name: uniq('e2e-groups'), definition: { steps: [
      { name: 'Check the fleet', type: 'execute', targets: [group], command: 'sleep 8; echo ok',
      // One batch of all of them: its progress line counts from the groups.
      batch: { size: 2000, max_failures: 10 } },
    ] } } });
    require('the workflow saves', wf.status === 201, wf);
    atEnd(() => call('DELETE', '/api/workflows/' + wf.data.id));
    const ex = await call('POST', '/api/executions', { body: { workflow_id: wf.data.id } });
    require('it starts', ex.status === 201, ex);
    const id = ex.data.id;
    const b = await browser();
    const p = await page(b, 'admin');
    await p.goto(URL + '/#/executions/' + id);
    const running = p.locator('[data-test=group][data-status=running]');
    await running.waitFor({ timeout: DEADLINE_MS });
    check('while it runs: the slow worker\'s group says running',
      (await running.locator('[data-test=group-title]').textContent()) === '1 worker: running',
      await running.locator('[data-test=group-title]').textContent());
    const end = await waitFor(async () => {
      const r = await call('GET', '/api/executions/' + id + '?view=groups');
      return r.data && FINAL.includes(r.data.status) ? r.data : null;
    }, 180000, 500);
    require('it ends (failed: some workers exit 1 and 2)', end && end.status === 'failed', end && end.status);

    // Sizes as a browser gets them (bytes of the body, uncompressed).
    const size = async (path) => {
      const t = performance.now();
      const res = await fetch(URL + path, { headers: { Authorization: 'Basic ' + Buffer.from('admin:admin').toString('base64') } });
      const body = await res.arrayBuffer();
      return [body.byteLength, performance.now() - t];
    };
    const [gBytes, gMs] = await size('/api/executions/' + id + '?view=groups');
    const [fBytes, fMs] = await size('/api/executions/' + id);
    diag(`${N + 1} workers: GET ?view=groups ${gBytes} bytes in ${gMs.toFixed(0)} ms; default view ${fBytes} bytes in ${fMs.toFixed(0)} ms`);
    check('?view=groups is smaller than the default view', gBytes < fBytes, [gBytes, fBytes]);

    const want = [0, 1, 2].map((k) => Array.from({ length: N }, (_, i) => i + 1).filter((i) => kind(i) === k).length);
    want[0]++;   // the real worker printed "ok" too
    const first = p.locator('[data-test=group-title]').first();
    const live = await waitFor(async () => (await first.textContent()).startsWith(`${want[0]} workers`), DEADLINE_MS);
    check('its result reached the groups live (no reload): the largest group grew', !!live, await first.textContent());
    check('no running group left', (await running.count()) === 0);
    await p.reload();
    await p.locator('[data-test=group]').nth(2).waitFor({ timeout: DEADLINE_MS });
    await p.locator('.exec-badge[data-status=failed]').waitFor({ timeout: DEADLINE_MS });
    const drawn = await p.evaluate(() => performance.now());
    diag(`${N + 1} workers: the page (reloaded) drew the groups ${drawn.toFixed(0)} ms after navigation started`);

    const titles = await p.locator('[data-test=group-title]').allTextContents();
    check('groups largest first, "N workers: exit 0, same output"', JSON.stringify(titles) === JSON.stringify([
      `${want[0]} workers: exit 0, same output`,
      `${want[1]} workers: exit 1, same output · output differs from the first group`,
      `${want[2]} workers: exit 2, same output · output differs from the first group`]), titles);
    const line = await p.locator('[data-test=batch-progress]').textContent();
  check('the batch line counts the grouped workers', line === `batch 1 of 1 · ${N + 1} of ${N + 1} targets done · `
    + `${want[1] + want[2]} failed (max 10)`, line);
  check('no box per worker drawn (the step shows groups only)', (await p.locator('.dispatch').count()) === 0,
      await p.locator('.dispatch').count());
    const groups = p.locator('[data-test=group]');
    check('the largest group\'s sample, nothing highlighted',
      (await groups.nth(0).locator('[data-test=group-sample]').textContent()) === 'ok\n' &&
      (await groups.nth(0).locator('[data-test=diff-line]').count()) === 0);
    check('a smaller group\'s differing lines highlighted',
      JSON.stringify(await groups.nth(2).locator('[data-test=diff-line]').allTextContents()) ===
      JSON.stringify(['partial\n', 'disk almost full\n']),
      await groups.nth(2).locator('[data-test=diff-line]').allTextContents());

    // Expand the third group: its 40 workers, then one worker's output.
    await groups.nth(2).locator('summary').click();
    // The names are drawn on the details' toggle event, a task after the
    // click: wait for them rather than read at once.
    await groups.nth(2).locator('[data-test=group-workers] button').first().waitFor({ timeout: 10000 }).catch(() => {});
    const names = await groups.nth(2).locator('[data-test=group-workers] button').allTextContents();
    const exp = Array.from({ length: N }, (_, i) => i + 1).filter((i) => kind(i) === 2)
      .map((i) => `${prefix}-${String(i).padStart(5, '0')}`);
    check('expanding a group lists its workers', JSON.stringify(names) === JSON.stringify(exp), names.slice(0, 5));
    await groups.nth(2).locator('[data-test=group-workers] button').nth(1).click();
    const out = groups.nth(2).locator('[data-test=group-output]');
    await out.locator('.stderr').waitFor({ timeout: DEADLINE_MS });
    const text = await out.textContent();
    check('a worker\'s whole output, fetched on demand', text === `${exp[1]}partial\ndisk almost full\n`, text);
    check('no console errors', problems(p).length === 0, problems(p));
    await shot(p, 'groups-01');
  } finally {
    stopLoad();
    for (let i = 0; i < fleet.ids.length; i += 20) {
      await Promise.all(fleet.ids.slice(i, i + 20).map((w) => call('DELETE', '/api/workers/' + w)));
    }
  }
});
