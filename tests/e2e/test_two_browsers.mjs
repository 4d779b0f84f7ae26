// Two browsers on the same execution: one answers the prompt, the other's
// prompt disappears by itself (pushed, no reload). The wait only ends a hung
// test; how long it took is printed, not checked.
import { browser, call, check, createWorkflow, diag, DEADLINE_MS, page, problems, run, shot, uniq, URL, waitFor, workersReady } from './lib.js';

run(async () => {
  await workersReady(['local-2']);
  const wf = await createWorkflow(uniq('e2e-two'), [
    { name: 'Decide', type: 'prompt', message: 'Roll out to production?', options: ['Go', 'Stop'] },
    { name: 'Roll out', type: 'execute', targets: ['local-2'], command: 'echo rolled out' },
  ]);
  const r = await call('POST', '/api/executions', { user: 'employee', body: { workflow_id: wf.id } });
  check('execution started', r.status === 201, r);
  const b1 = await browser();
  const b2 = await browser();
  const p1 = await page(b1, 'admin');
  const p2 = await page(b2, 'employee', { width: 390, height: 844 });
  await Promise.all([p1.goto(URL + '/#/executions/' + r.data.id), p2.goto(URL + '/#/executions/' + r.data.id)]);
  const q1 = p1.locator('[data-test=prompt]');
  const q2 = p2.locator('[data-test=prompt]');
  await Promise.all([q1.waitFor(), q2.waitFor()]);
  await Promise.all([p1.locator('#live[data-state=live]').waitFor(), p2.locator('#live[data-state=live]').waitFor()]);
  check('both browsers show the prompt with its options',
    (await q1.locator('button').allTextContents()).join(',') === 'Go,Stop' &&
    (await q2.locator('button').allTextContents()).join(',') === 'Go,Stop');
  await shot(p2, 'two-01-phone-prompt');
  await q1.locator('button', { hasText: 'Go' }).click();
  const t0 = Date.now();
  let gone = true;
  try {
    await q2.waitFor({ state: 'detached', timeout: DEADLINE_MS });
  } catch (e) {
    gone = false;
  }
  diag(`the other browser's prompt went after ${Date.now() - t0} ms`);
  check('the other browser\'s prompt disappears by itself', gone, 'still there after ' + (Date.now() - t0) + ' ms');
  check('and the answering browser\'s too', (await q1.count()) === 0);
  await p2.locator('.exec-badge[data-status=completed]').waitFor({ timeout: 30000 });
  // The badge comes with the last event; the answer's step may render a
  // moment later (from its own event or the refetch each event asks for):
  // wait for what the user will see, the wait only ends a hung test.
  const step0 = p2.locator('li.step[data-step="0"]');
  const answered = await waitFor(async () => (await step0.textContent()).includes('Answered Go by admin'), DEADLINE_MS);
  check('the other browser sees it complete, with who answered what', answered === true,
    await step0.textContent());
  await shot(p2, 'two-02-phone-done');
  check('no problems in either browser', problems(p1).length + problems(p2).length === 0, p1.problems.concat(p2.problems));
});
