// Compare two executions in the dashboard (SPEC section 17): open the
// newer run of a workflow, "Compare with…" picks the previous run by
// default, and the compare page shows the step's changed worker with its
// removed and added lines highlighted among their context (markup in the
// output shown as text); a worker whose output did not change is folded
// into a count; a missing execution by id says so.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { atEnd, browser, call, check, createWorkflow, DEADLINE_MS, page, problems, require, run, shot, uniq, URL,
  waitFor, workersReady } from './lib.js';

async function finished(id) {
  return waitFor(async () => {
    const r = await call('GET', '/api/executions/' + id);
    return ['completed', 'failed', 'cancelled'].includes(r.data.status) ? r.data : null;
  }, DEADLINE_MS);
}

run(async () => {
  await workersReady(['local-1', 'local-2']);
  const dir = mkdtempSync(join(tmpdir(), 'pulse-e2e-diff-'));
  chmodSync(dir, 0o777);
  atEnd(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'out');
  // local-1 prints the file; local-2 always the same line.
  const wf = await createWorkflow(uniq('e2e-diff'), [
    { name: 'Report', type: 'execute', targets: ['local-1', 'local-2'],
      command: `if [ "$PULSE_WORKER_NAME" = local-1 ]; then cat ${file}; else echo steady; fi` },
  ]);
  writeFileSync(file, 'alpha\nbeta\ngamma\ndelta\n');
  chmodSync(file, 0o644);
  const r1 = await call('POST', '/api/executions', { body: { workflow_id: wf.id } });
  require('run 1 starts', r1.status === 201, r1);
  const e1 = await finished(r1.data.id);
  const XSS = '<img src=x onerror="window.__pwned=1">';
  writeFileSync(file, 'alpha\nBETA\ngamma\ndelta\nepsilon\n' + XSS + '\n');
  const r2 = await call('POST', '/api/executions', { body: { workflow_id: wf.id } });
  require('run 2 starts', r2.status === 201, r2);
  const e2 = await finished(r2.data.id);
  require('both runs completed', e1 && e2 && e1.status === 'completed' && e2.status === 'completed', [e1, e2]);

  const b = await browser();
  const p = await page(b, 'employee');
  await p.goto(URL + '/#/executions/' + e2.id);
  await p.locator('[data-test=compare-open]').click();
  const select = p.locator('[data-test=compare-select]');
  await select.waitFor({ timeout: DEADLINE_MS });
  check('"Compare with…" picks the previous run of the workflow', (await select.inputValue()) === e1.id,
    await select.inputValue());
  await shot(p, 'diff-01-picker');
  await p.locator('[data-test=compare-go]').click();
  await p.waitForURL(new RegExp('#/executions/' + e1.id + '/compare/' + e2.id));
  const step = p.locator('[data-test=cmp-step]');
  await step.first().waitFor({ timeout: DEADLINE_MS });
  check('one step, changed', (await step.count()) === 1 &&
    (await step.first().getAttribute('class')).includes('cmp-changed'));
  const w = p.locator('[data-test=cmp-worker][data-worker=local-1]');
  check('the changed worker is shown', (await w.count()) === 1);
  const del = await w.locator('.diff-line.diff-del').allTextContents();
  const add = await w.locator('.diff-line.diff-add').allTextContents();
  check('the removed line is highlighted', del.length === 1 && del[0].includes('beta'), del);
  check('the added lines are highlighted', add.length === 3 && add[0].includes('BETA') && add[1].includes('epsilon'),
    add);
  // Command output is text: markup in a line shows as its characters.
  check('markup in output is shown as text, never run', add.length === 3 && add[2].includes(XSS) &&
    (await p.locator('.compare img').count()) === 0 && (await p.evaluate(() => window.__pwned)) === undefined);
  const same = await w.locator('.diff-line.diff-same').allTextContents();
  check('context lines around them', same.length === 3 && same[0].includes('alpha'), same);
  check('a hunk header numbers the lines', (await w.locator('.diff-hunk').first().textContent()) === '@@ -1,4 +1,6 @@');
  check('the unchanged worker is folded into a count',
    (await p.locator('[data-test=cmp-unchanged] summary').textContent()) === '1 worker unchanged' &&
    (await p.locator('[data-test=cmp-worker][data-worker=local-2]').count()) === 0);
  check('no note for the same workflow', (await p.locator('[data-test=diff-note]').count()) === 0);
  await shot(p, 'diff-02-compare');

  // Any execution by id: a missing one says so.
  await p.goto(URL + '/#/executions/' + e2.id);
  await p.locator('[data-test=compare-open]').click();
  await p.locator('[data-test=compare-id]').fill('00000000-0000-4000-8000-000000000000');
  await p.locator('[data-test=compare-go]').click();
  const err = p.locator('[data-test=compare-error]').last();
  await err.waitFor({ timeout: DEADLINE_MS });
  check('a missing execution by id: "no execution …"', (await err.textContent()).includes('no execution'),
    await err.textContent());
  check('no console errors or failed requests', problems(p, [/404/]).length === 0, problems(p, [/404/]));
});
