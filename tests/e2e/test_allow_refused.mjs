// What the dashboard says of a command a worker's allow-list refused
// (README "Allow-list"): the dispatch reads "refused", a line of its own
// says "refused by the worker's allow-list: <reason>", and the reason is
// text (an allow-list file named with markup shows the markup, never
// makes an element of it); the step reads failed with why.
import { mkdtempSync, writeFileSync, chmodSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { browser, call, check, ctl, DEADLINE_MS, page, problems, require, run, shot, uniq, URL,
  waitFor, atEnd } from './lib.js';

run(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pulse-e2e-allow.'));
  chmodSync(dir, 0o755);
  atEnd(() => rmSync(dir, { recursive: true, force: true }));
  // A file name with markup in it: it must reach the page as text.
  const file = join(dir, 'allow-<img src=x onerror=window.__pwned=1>.list');
  writeFileSync(file, '# nothing but uptime\nuptime\n');
  chmodSync(file, 0o644);
  const name = uniq('e2e-allow');
  ctl('worker-start', name, '', 'WORKER_ALLOW_FILE=' + file);
  // Stopped whatever happens: a failed run keeps data, not processes.
  try {
    await scenario(name, dir, file);
  } finally {
    ctl('worker-stop', name);
  }
});

async function scenario(name, dir, file) {
  const w = await waitFor(async () => {
    const r = await call('GET', '/api/workers');
    return r.status === 200 && r.data.find((x) => x.name === name && x.status === 'online' &&
      x.command_channel !== false);
  }, DEADLINE_MS);
  require('a worker with an allow-list comes online', !!w);

  const wf = await call('POST', '/api/workflows', { body: { name: uniq('e2e-refused'), definition: { steps: [
    { name: 'Not allowed', type: 'execute', targets: ['name:' + name], command: 'touch ' + join(dir, 'ran') },
  ] } } });
  require('a workflow with a command the list does not allow', wf.status === 201, wf);
  atEnd(() => call('DELETE', '/api/workflows/' + wf.data.id));
  const ex = await call('POST', '/api/executions', { body: { workflow_id: wf.data.id } });
  require('it starts', ex.status === 201, ex);
  const done = await waitFor(async () => {
    const r = await call('GET', '/api/executions/' + ex.data.id);
    return r.data && ['completed', 'failed', 'cancelled'].includes(r.data.status) ? r.data : null;
  }, DEADLINE_MS);
  require('it ends failed', done && done.status === 'failed', done);

  const b = await browser();
  const p = await page(b, 'admin');
  await p.goto(URL + '/#/executions/' + ex.data.id);
  const d = p.locator(`.dispatch[data-worker="${name}"]`);
  await d.waitFor({ timeout: DEADLINE_MS });
  const line = d.locator('[data-test=refused]');
  await line.waitFor({ timeout: DEADLINE_MS });
  const text = await line.textContent();
  const reason = `refused by WORKER_ALLOW_FILE (${file}): no rule matches`;
  check('the dispatch reads "refused"', (await d.getAttribute('data-status')) === 'refused' &&
    (await d.locator('.badge.st-refused').count()) === 1);
  check('a line of its own says why', text === "refused by the worker's allow-list: " + reason, text);
  check('the reason is text: the markup in the file name is shown, not made',
    (await d.locator('img').count()) === 0 && (await p.evaluate(() => window.__pwned)) === undefined);
  const step = await p.locator('[data-test=steps]').textContent();
  check('the step says it failed, refused on the worker', step.includes('refused on worker'), step.slice(0, 600));
  check('no console errors', problems(p).length === 0, problems(p));
  await shot(p, 'allow-refused-01');
}
