// Admin: create a workflow in the editor, see the server's validation error
// for a bad condition next to its step, fix it, start it, watch the output
// stream in on the dev workers, answer the prompt by clicking, see it
// complete; also a direct command with live output and deleting a worker
// (with confirmation). Screenshots of every page.
import { randomUUID } from 'node:crypto';
import { atEnd, browser, call, check, DEADLINE_MS, page, problems, require, run, shot, uniq, URL, waitFor, workersReady, WORKER_API_KEY } from './lib.js';

const ALLOW = [/status of 400/];

run(async () => {
  await workersReady();
  const b = await browser();
  const p = await page(b, 'admin');
  const name = uniq('e2e-admin');

  await p.goto(URL + '/#/workflows');
  // Cards, or the empty note on a stack with no workflow yet.
  await p.locator('[data-test=workflows] .card, [data-test=workflows] .empty-card').first().waitFor();
  check('admin sees who they are', (await p.locator('#me').textContent()).includes('Admin User'));
  check('admin role shown', (await p.locator('[data-test=role]').textContent()) === 'admin');
  await p.locator('#live[data-state=live]').waitFor();
  check('live indicator says live', (await p.locator('#live .live-label').textContent()) === 'live');
  await shot(p, 'admin-01-workflows');

  // --- the editor, a bad condition, the server's error next to the step
  await p.locator('[data-test=new-workflow]').click();
  await p.locator('[data-test=wf-name]').fill(name);
  await p.locator('[data-test=wf-description]').fill('Created by the end-to-end test');
  const steps = [
    { name: 'Count', type: 'execute', targets: ['demo'], command: 'for i in 1 2 3 4 5 6; do echo "tick $i"; sleep 0.5; done' },
    { name: 'Approve', type: 'prompt', message: 'Ship it?', options: ['Ship', 'Hold'] },
    { name: 'Deploy', type: 'execute', targets: ['db'], command: 'echo "deployed by $(whoami)"', condition: "promptResponse === 'Ship' &&" },
  ];
  await p.locator('[data-test=wf-definition]').fill(JSON.stringify({ steps }, null, 2));
  await p.locator('[data-test=save]').click();
  const banner = p.locator('[data-test=save-error]');
  await banner.waitFor();
  const btext = await banner.textContent();
  check('a bad condition shows the server error naming step 3 and its field', /Step 3/.test(btext) && /condition/.test(btext), btext);
  const errStep = p.locator('[data-test=preview] .def-step-error');
  check('the error is shown next to the named step', (await errStep.count()) === 1 && (await errStep.getAttribute('data-step')) === '2');
  const fe = await p.locator('[data-test=preview] .def-step-error [data-field="only if"] [data-test=field-error]').textContent().catch(() => '');
  check('... and next to its condition field', fe.length > 0, fe);
  check('still on the editor (nothing saved)', p.url().includes('#/workflows/new'));
  await shot(p, 'admin-02-editor-error');

  // --- fix it, save, see the readable steps
  steps[2].condition = "promptResponse === 'Ship'";
  await p.locator('[data-test=wf-definition]').fill(JSON.stringify({ steps }, null, 2));
  await p.locator('[data-test=wf-definition]').press('Control+s');
  await p.waitForURL(/#\/workflows\/[0-9a-f-]{36}$/);
  const wfId = p.url().split('/').pop();
  atEnd(() => call('DELETE', '/api/workflows/' + wfId));
  await p.locator('.def-steps .def-step').nth(2).waitFor();
  check('saved workflow shows three readable steps', (await p.locator('.def-steps .def-step').count()) === 3);
  check('condition shown as text', (await p.locator('.def-step').nth(2).textContent()).includes("promptResponse === 'Ship'"));
  // The controls test_employee.mjs proves absent are here for an admin,
  // under the same selectors.
  check('an Edit and a Delete control on the workflow page',
    (await p.locator('[data-test=edit]').count()) === 1 && (await p.locator('[data-test=delete]').count()) === 1);
  await shot(p, 'admin-03-workflow');
  await p.locator('nav a[data-nav=workflows]').click();
  const card = p.locator(`[data-workflow="${name}"]`);
  await card.waitFor();
  check('an Edit and a Delete control on its card in the list',
    (await card.locator('[data-test=edit]').count()) === 1 && (await card.locator('[data-test=delete]').count()) === 1);
  await p.goto(URL + '/#/workflows/' + wfId);
  await p.locator('.def-steps .def-step').nth(2).waitFor();

  // --- start it and watch the output stream in
  await p.locator('[data-test=start]').click();
  await p.waitForURL(/#\/executions\/[0-9a-f-]{36}$/);
  const execId = p.url().split('/').pop();
  const out1 = p.locator('.dispatch[data-worker="local-1"] pre.output');
  await out1.waitFor();
  const partial = await waitFor(async () => {
    const t = await out1.textContent();
    return t.includes('tick 2') ? t : null;
  }, 20000, 50);
  const dstatus = await p.locator('.dispatch[data-worker="local-1"]').getAttribute('data-status');
  check('output streams in while the command runs', partial && !partial.includes('tick 6') && dstatus === 'running',
    { partial, dstatus });
  check('progress bar is shown', (await p.locator('[role=progressbar]').count()) === 1);
  await shot(p, 'admin-04-execution-running');
  const prompt = p.locator('[data-test=prompt]');
  await prompt.waitFor({ timeout: 30000 });
  const both = (await out1.textContent()) + '|' + (await p.locator('.dispatch[data-worker="local-2"] pre.output').textContent());
  check('both dev workers streamed every line once', (both.match(/tick 6/g) || []).length === 2 && (both.match(/tick 1\n/g) || []).length === 2, both);
  check('prompt shows its message', (await prompt.locator('.prompt-message').textContent()) === 'Ship it?');
  check('one button per option', (await prompt.locator('button').allTextContents()).join(',') === 'Ship,Hold');
  const exits = await p.locator('.dispatch [data-test=exit]').allTextContents();
  check('exit codes shown: exit 0 on each of the dispatches so far',
    exits.length >= 2 && exits.length === (await p.locator('.dispatch').count()) && exits.every((x) => x === 'exit 0'), exits);
  await shot(p, 'admin-05-execution-prompt');
  await prompt.locator('button', { hasText: 'Ship' }).click();
  const answered = await prompt.waitFor({ state: 'detached', timeout: DEADLINE_MS }).then(() => true, () => false);
  check('prompt disappears once answered', answered);
  const completed = await p.locator('.exec-badge[data-status=completed]').waitFor({ timeout: DEADLINE_MS }).then(() => true, () => false);
  check('execution completes', completed, await p.locator('.exec-badge').getAttribute('data-status'));
  await p.locator('.dispatch[data-worker="local-2"]').nth(1).waitFor().catch(() => {});
  const dep = await p.locator('li.step[data-step="2"]').textContent();
  check('step 3 ran on the db worker', dep.includes('deployed by') && (await p.locator('li.step[data-step="2"]').getAttribute('data-status')) === 'succeeded', dep);
  check('the answer is recorded on the prompt step', (await p.locator('li.step[data-step="1"]').textContent()).includes('Answered Ship by admin'));
  await shot(p, 'admin-06-execution-done');

  // --- the executions list
  await p.locator('nav a[data-nav=executions]').click();
  const row = p.locator(`tr[data-execution="${execId}"]`);
  await row.waitFor();
  check('executions list shows the run as completed, started by admin',
    (await row.locator('.badge').textContent()) === 'completed' && (await row.textContent()).includes('admin'));
  check('relative time has the exact time on hover', ((await row.locator('time').getAttribute('title')) || '').length > 10);
  await shot(p, 'admin-07-executions');

  // --- workers: direct command, live output
  await p.locator('nav a[data-nav=workers]').click();
  const w1 = p.locator('tr[data-worker="local-1"]');
  await w1.waitFor();
  check('workers show metrics with sparklines', (await w1.locator('svg.spark').count()) === 4);
  await shot(p, 'admin-08-workers');
  await w1.locator('[data-test=command]').click();
  await p.locator('#cmd-input').fill('echo "direct $((6*7))"; sleep 1; echo second');
  await p.locator('[data-test=run-command]').click();
  const cmdOut = p.locator('#modal .dispatch[data-worker="local-1"] pre.output');
  await cmdOut.waitFor();
  const got = await waitFor(async () => ((await cmdOut.textContent()).includes('direct 42') ? await cmdOut.textContent() : null), 15000, 50);
  check('direct command output appears live', !!got && !got.includes('second'), got);
  await p.locator('#modal .exec-badge[data-status=completed]').waitFor({ timeout: 15000 });
  check('direct command completes', (await cmdOut.textContent()).includes('second'));
  await shot(p, 'admin-09-direct-command');
  await p.keyboard.press('Escape');

  // --- delete a worker with confirmation
  const doomed = uniq('e2e-doomed');
  const hb = await call('POST', '/api/workers/heartbeat', { user: null, headers: { 'X-API-Key': WORKER_API_KEY },
    body: { worker_id: randomUUID(), name: doomed, metadata: { groups: ['e2e-none'], cpu_percent: 1 } } });
  require('a throwaway worker registers by heartbeat', hb.status === 200 || hb.status === 201, hb);
  const wr = p.locator(`tr[data-worker="${doomed}"]`);
  await wr.waitFor({ timeout: 15000 });
  await wr.locator('[data-test=delete]').click();
  await p.locator('#modal[open]').waitFor();
  check('delete asks in a modal', (await p.locator('#modal').textContent()).includes(doomed));
  await shot(p, 'admin-10-delete-confirm');
  await p.locator('#modal button', { hasText: 'Cancel' }).click();
  check('cancel keeps the worker', (await wr.count()) === 1);
  await wr.locator('[data-test=delete]').click();
  await p.locator('#modal [data-test=confirm]').click();
  await wr.waitFor({ state: 'detached' });
  const still = (await call('GET', '/api/workers')).data.some((w) => w.name === doomed);
  check('confirmed delete removes the worker', !still);

  check('no dialogs, page errors or console errors', problems(p, ALLOW).length === 0, p.problems);
});
