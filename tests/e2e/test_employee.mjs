// Employee: no create/edit/delete/direct-command controls anywhere, but can
// start a workflow and answer its prompt. Outsider: a clear "no access" page.
import { browser, check, createWorkflow, DEADLINE_MS, page, problems, run, shot, uniq, URL, workersReady } from './lib.js';

run(async () => {
  await workersReady(['local-2']);
  const wf = await createWorkflow(uniq('e2e-employee'), [
    { name: 'Ask', type: 'prompt', message: 'Restart the service?', options: ['Yes', 'No'] },
    { name: 'Restart', type: 'execute', targets: ['local-2'], command: 'echo restarted', condition: "promptResponse === 'Yes'" },
    { name: 'Never', type: 'execute', targets: ['local-2'], command: 'echo never', condition: "promptResponse === 'No'" },
  ]);
  const b = await browser();
  const p = await page(b, 'employee');

  await p.goto(URL + '/#/workers');
  await p.locator('tr[data-worker="local-2"]').waitFor();
  check('employee role shown', (await p.locator('[data-test=role]').textContent()) === 'employee');
  check('no direct-command buttons', (await p.locator('[data-test=command]').count()) === 0);
  check('no delete-worker buttons', (await p.locator('[data-test=delete]').count()) === 0);
  await shot(p, 'employee-01-workers');

  await p.locator('nav a[data-nav=workflows]').click();
  const card = p.locator(`[data-workflow="${wf.name}"]`);
  await card.waitFor();
  check('no "New workflow" control', (await p.locator('[data-test=new-workflow]').count()) === 0);
  check('no edit or delete controls on workflows', (await p.locator('[data-test=edit], [data-test=delete]').count()) === 0);
  check('a Start button on each workflow', (await card.locator('[data-test=start]').count()) === 1);
  await shot(p, 'employee-02-workflows');

  await p.goto(URL + '/#/workflows/' + wf.id);
  await p.locator('.def-steps').waitFor();
  check('no edit or delete on the workflow page', (await p.locator('[data-test=edit], [data-test=delete]').count()) === 0);
  await p.goto(URL + '/#/workflows/new');
  check('the editor is refused', (await p.locator('main h1').textContent()) === 'Admins only');

  await p.goto(URL + '/#/workflows');
  await card.locator('[data-test=start]').click();
  await p.waitForURL(/#\/executions\/[0-9a-f-]{36}$/);
  const prompt = p.locator('[data-test=prompt]');
  await prompt.waitFor();
  check('the employee sees the prompt with its options',
    (await prompt.locator('button').allTextContents()).join(',') === 'Yes,No');
  check('started by employee', (await p.locator('.exec-meta').textContent()).includes('started by employee'));
  await shot(p, 'employee-03-prompt');
  await prompt.locator('button', { hasText: 'Yes' }).click();
  const answered = await prompt.waitFor({ state: 'detached', timeout: DEADLINE_MS }).then(() => true, () => false);
  check('the prompt goes once the employee answers', answered);
  const completed = await p.locator('.exec-badge[data-status=completed]').waitFor({ timeout: DEADLINE_MS }).then(() => true, () => false);
  check('the execution completes', completed, await p.locator('.exec-badge').getAttribute('data-status'));
  const never = p.locator('li.step[data-step="2"]');
  await p.waitForFunction(() => document.querySelector('li.step[data-step="2"]')?.dataset.status === 'skipped');
  check('a skipped step says why', ((await never.locator('[data-test=reason]').textContent()) || '').length > 0,
    await never.textContent());
  check('the restart ran', (await p.locator('li.step[data-step="1"] pre.output').textContent()).includes('restarted'));
  await shot(p, 'employee-04-done');
  check('employee: no dialogs, page errors or console errors', problems(p).length === 0, p.problems);

  // --- the outsider: signed in, no role
  const o = await page(b, 'outsider');
  await o.goto(URL + '/');
  await o.locator('[data-test=no-access]').waitFor();
  check('outsider gets a clear "no access" page', (await o.locator('[data-test=no-access] h1').textContent()) === 'No access');
  check('outsider sees no navigation', !(await o.locator('#nav').isVisible()));
  await shot(o, 'outsider-01-no-access');
  check('outsider: no dialogs or page errors', problems(o, [/status of 403/]).length === 0, o.problems);
});
