// Failure handling and parallel groups on the dashboard (SPEC section 14):
//  - an execution that completed with a step failed under on_failure
//    "continue" reads "completed, 1 step failed" in the list and on its page;
//  - a workflow's on_failure steps show in their own "On failure" section:
//    after a failure, the rollback step shown as run, with its output;
//    after a success, the section says they did not run;
//  - a parallel group shows its steps inside it, each with its own status
//    and output;
//  - the workflow's page shows a group's steps inside it and the on_failure
//    steps in their own section.
import { atEnd, browser, call, check, DEADLINE_MS, page, problems, require, run, shot, uniq, URL, waitFor,
  workersReady } from './lib.js';

const exec = (name, command, target, extra = {}) => ({ name, type: 'execute', targets: [target], command, ...extra });

async function start(definition) {
  const r = await call('POST', '/api/workflows', { body: { name: uniq('e2e-fail'), description: '', definition } });
  require('workflow saved', r.status === 201, r);
  atEnd(() => call('DELETE', '/api/workflows/' + r.data.id));
  const x = await call('POST', '/api/executions', { body: { workflow_id: r.data.id } });
  require('execution started', x.status === 201, x);
  const ended = await waitFor(async () => {
    const g = await call('GET', '/api/executions/' + x.data.id);
    return g.status === 200 && ['completed', 'failed', 'cancelled'].includes(g.data.status) ? g.data : null;
  }, DEADLINE_MS);
  require('execution ended', ended !== null);
  return ended;
}

run(async () => {
  await workersReady();
  const b = await browser();
  const p = await page(b, 'admin');

  // --- completed, 1 step failed
  const c = await start({ steps: [exec('may break', 'echo broke; exit 3', 'local-1', { on_failure: 'continue' }),
    exec('goes on', 'echo went on', 'local-1')] });
  require('API: completed with failed_steps 1', c.status === 'completed' && c.failed_steps === 1, c);
  await p.goto(URL + '/#/executions');
  const row = p.locator(`tr[data-execution="${c.id}"]`);
  await row.waitFor({ timeout: DEADLINE_MS });
  const rowText = (await row.locator('td[data-label=Status]').textContent()).trim();
  check('the list reads "completed, 1 step failed"', rowText === 'completed, 1 step failed', rowText);
  await p.goto(URL + '/#/executions/' + c.id);
  await p.locator('[data-test=failed-steps]').waitFor();
  const head = (await p.locator('.exec-badge').textContent()).trim();
  check('the page reads "completed, 1 step failed"', head === 'completed, 1 step failed', head);
  check('the failed step is shown failed, the next succeeded',
    (await p.locator('li[data-step="0"]').getAttribute('data-status')) === 'failed' &&
    (await p.locator('li[data-step="1"]').getAttribute('data-status')) === 'succeeded');
  await shot(p, 'failure-01-completed-one-failed');

  // --- a rollback shown as run
  const f = await start({ steps: [exec('deploy', 'echo deploying; exit 4', 'local-1')],
    on_failure: [exec('rollback', 'echo rolled back', 'local-2')] });
  require('API: failed, the rollback ran', f.status === 'failed' && f.steps[1].status === 'succeeded', f);
  await p.goto(URL + '/#/executions/' + f.id);
  const box = p.locator('[data-test=on-failure]');
  await box.locator('li[data-step="1"][data-status=succeeded]').waitFor({ timeout: DEADLINE_MS });
  check('"On failure" section, marked as run', (await box.getAttribute('data-ran')) === 'yes' &&
    (await box.locator('h2').textContent()) === 'On failure');
  check('it says which failure it answered', (await box.locator('[data-test=on-failure-note]').textContent())
    .includes('step 1 ("deploy") failed'));
  check('the rollback step is in it with its output',
    (await box.locator('li[data-step="1"] .output').textContent()).includes('rolled back'));
  check('the main timeline does not hold it', (await p.locator('[data-test=steps] > li[data-step="1"]').count()) === 0);
  await shot(p, 'failure-02-rollback-ran');

  const s = await start({ steps: [exec('deploy', 'echo fine', 'local-1')],
    on_failure: [exec('rollback', 'echo rolled back', 'local-2')] });
  await p.goto(URL + '/#/executions/' + s.id);
  await p.locator('[data-test=on-failure][data-ran=no]').waitFor({ timeout: DEADLINE_MS });
  check('after a success the section says it did not run',
    (await p.locator('[data-test=on-failure-note]').textContent()).startsWith('Not run'));

  // --- a parallel group's steps, each with its status and output
  const g = await start({ steps: [{ name: 'both', type: 'parallel', steps: [
    exec('left', 'echo left side', 'local-1'), exec('right', 'echo right side; exit 2', 'local-2',
      { on_failure: 'continue' })] }] });
  require('API: the group completed', g.status === 'completed' && g.steps.length === 3, g);
  await p.goto(URL + '/#/executions/' + g.id);
  const grp = p.locator('li[data-step="0"]');
  await grp.locator('[data-test=parallel-steps] li[data-step="2"][data-status=failed]').waitFor({ timeout: DEADLINE_MS });
  check('the group holds its two steps', (await grp.locator('[data-test=parallel-steps] > li').count()) === 2);
  check('left: succeeded with its output',
    (await grp.locator('li[data-step="1"]').getAttribute('data-status')) === 'succeeded' &&
    (await grp.locator('li[data-step="1"] .output').textContent()).includes('left side'));
  check('right: failed with its output',
    (await grp.locator('li[data-step="2"] .output').textContent()).includes('right side'));
  const boxes = await grp.locator('[data-test=parallel-steps] > li').evaluateAll((els) =>
    els.map((e) => e.getBoundingClientRect()).map((r) => [Math.round(r.top), Math.round(r.left)]));
  check('side by side (same top, different left)', boxes.length === 2 && boxes[0][0] === boxes[1][0] &&
    boxes[0][1] < boxes[1][1], boxes);
  await shot(p, 'failure-03-parallel');

  // --- the workflow's page: the group's steps inside it, the on_failure steps apart
  await p.goto(URL + '/#/workflows/' + g.workflow_id);
  await p.locator('.def-steps .def-steps').waitFor({ timeout: DEADLINE_MS });
  check('workflow page: the group lists its two steps inside it',
    (await p.locator('.def-steps .def-steps > li').count()) === 2 &&
    (await p.locator('.def-steps .def-steps').textContent()).includes('echo left side'));
  await p.goto(URL + '/#/workflows/' + f.workflow_id);
  const def = p.locator('[data-test=def-on-failure]');
  await def.waitFor({ timeout: DEADLINE_MS });
  check('workflow page: an "On failure" section with the rollback step',
    (await def.locator('h3').textContent()) === 'On failure' && (await def.textContent()).includes('echo rolled back'));
  await shot(p, 'failure-04-workflow-page');
  check('no dialogs, page errors or console errors', problems(p).length === 0, p.problems);
});
