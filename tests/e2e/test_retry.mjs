// Retries in the dashboard (SPEC section 14): a step that fails twice and
// then succeeds shows its worker's three attempts together: the latest
// first, "attempt 3 of 4", with its own output and exit code, and the two
// earlier ones folded under it, each with its own; while a retry waits
// for its delay it reads "retry in N s".
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { atEnd, browser, call, check, createWorkflow, DEADLINE_MS, page, problems, require, run, shot, uniq, URL,
  waitFor, workersReady } from './lib.js';

run(async () => {
  await workersReady(['local-1']);
  // The command counts its runs in a file of this test's own directory,
  // keyed by the execution id (the worker may run as another user).
  const dir = mkdtempSync(join(tmpdir(), 'pulse-e2e-retry-'));
  chmodSync(dir, 0o777);
  atEnd(() => rmSync(dir, { recursive: true, force: true }));
  const cmd = `f=${dir}/$PULSE_EXECUTION_ID; n=$(( $(cat $f 2>/dev/null || echo 0) + 1 )); echo $n > $f; ` +
    'echo "run $n"; [ $n -gt 2 ] || exit 3';
  const wf = await createWorkflow(uniq('e2e-retry'), [
    { name: 'Flaky', type: 'execute', targets: ['local-1'], command: cmd, retry: { attempts: 3, delay: 4000 } },
  ]);
  const ex = await call('POST', '/api/executions', { body: { workflow_id: wf.id } });
  require('it starts', ex.status === 201, ex);
  const b = await browser();
  const p = await page(b, 'admin');
  await p.goto(URL + '/#/executions/' + ex.data.id);
  const wait = p.locator('[data-test=retry-wait]');
  await wait.first().waitFor({ timeout: DEADLINE_MS });
  const waitText = await wait.first().textContent();
  check('a waiting retry reads "retry in N s"', /^retry in \d+ s$/.test(waitText), waitText);
  await shot(p, 'retry-01-waiting');

  const step = p.locator('li.step[data-step="0"]');
  const ok = await waitFor(async () => ((await step.getAttribute('data-status')) === 'succeeded' ? true : null), DEADLINE_MS);
  require('the step succeeds on its third attempt', ok === true);
  const latest = step.locator('.dispatch-group[data-group] .attempt-latest .dispatch');
  await waitFor(async () => ((await latest.getAttribute('data-status')) === 'succeeded' ? true : null), DEADLINE_MS);
  check('one group for the one worker', (await step.locator('.dispatch-group').count()) === 1);
  check('the latest attempt is shown first: "attempt 3 of 4"',
    (await latest.getAttribute('data-attempt')) === '3' &&
    (await latest.locator('[data-test=attempt]').textContent()) === 'attempt 3 of 4',
    await latest.locator('[data-test=attempt]').textContent());
  check('with its own output and exit code',
    (await latest.locator('pre.output').textContent()).trim() === 'run 3' &&
    (await latest.locator('[data-test=exit]').textContent()) === 'exit 0');
  const summary = step.locator('[data-test=earlier-attempts]');
  check('the earlier attempts are folded: "2 earlier attempts"',
    (await summary.textContent()) === '2 earlier attempts' &&
    !(await step.locator('.attempts-earlier .dispatch').first().isVisible()));
  await summary.click();
  const earlier = step.locator('.attempts-earlier .dispatch');
  await earlier.first().waitFor({ state: 'visible', timeout: DEADLINE_MS });
  const rows = [];
  for (let i = 0; i < await earlier.count(); i++) {
    const d = earlier.nth(i);
    rows.push([await d.getAttribute('data-attempt'), (await d.locator('pre.output').textContent()).trim(),
      await d.locator('[data-test=exit]').textContent(), await d.locator('[data-test=attempt]').textContent()]);
  }
  check('expanded: attempts 2 and 1, newest first, each with its own output and exit code',
    JSON.stringify(rows) === JSON.stringify([['2', 'run 2', 'exit 3', 'attempt 2 of 4'], ['1', 'run 1', 'exit 3', 'attempt 1 of 4']]),
    rows);
  check('no retry left waiting', (await p.locator('[data-test=retry-wait]').count()) === 0);
  await shot(p, 'retry-02-attempts');
  check('no console errors or failed requests', problems(p).length === 0, problems(p));
});
