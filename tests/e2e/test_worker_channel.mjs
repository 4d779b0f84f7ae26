// What the dashboard says of a worker and of long output (issues 11, 12):
//  - a worker online by heartbeat alone (no websocket) reads "no command
//    channel" and its Run command button is disabled; a connected one
//    reads neither;
//  - a command whose output is longer than the execution's JSON carries
//    (256 KiB a stream) shows the start, offers "Load the rest of the
//    output", and shows all of it once clicked.
import { randomUUID } from 'node:crypto';
import { browser, call, check, DEADLINE_MS, page, require, run, shot, uniq, URL, waitFor,
  WORKER_API_KEY, workersReady, atEnd } from './lib.js';

run(async () => {
  await workersReady(['local-1']);
  const name = uniq('e2e-heartbeat');
  const id = randomUUID();
  const hb = await call('POST', '/api/workers/heartbeat', {
    user: null, headers: { 'X-API-Key': WORKER_API_KEY },
    body: { worker_id: id, name, metadata: {} },
  });
  require('a heartbeat-only worker registers', hb.status === 200, hb);
  atEnd(() => call('DELETE', '/api/workers/' + id));

  const b = await browser();
  const p = await page(b, 'admin');
  await p.goto(URL + '/#/workers');
  const row = p.locator(`tr[data-worker="${name}"]`);
  await row.waitFor({ timeout: DEADLINE_MS });
  check('it reads "no command channel"',
    (await row.locator('[data-test=no-channel]').count()) === 1 &&
    (await row.locator('[data-test=no-channel]').textContent()).includes('no command channel'));
  check('its Run command button is disabled', await row.locator('[data-test=command]').isDisabled());
  const l1 = p.locator('tr[data-worker="local-1"]');
  check('a connected worker reads neither',
    (await l1.locator('[data-test=no-channel]').count()) === 0 &&
    !(await l1.locator('[data-test=command]').isDisabled()));
  await shot(p, 'worker-channel-01');

  // 600 KiB on stdout: the view carries 256 KiB of it.
  const size = 600 * 1024;
  const wf = await call('POST', '/api/workflows', { body: { name: uniq('e2e-long'), definition: { steps: [
    { name: 'Long', type: 'execute', targets: ['local-1'], command: `head -c ${size} /dev/zero | tr '\\0' y` },
  ] } } });
  require('a workflow printing 600 KiB', wf.status === 201, wf);
  atEnd(() => call('DELETE', '/api/workflows/' + wf.data.id));
  const ex = await call('POST', '/api/executions', { body: { workflow_id: wf.data.id } });
  require('it starts', ex.status === 201, ex);
  const done = await waitFor(async () => {
    const r = await call('GET', '/api/executions/' + ex.data.id);
    return r.data && r.data.status === 'completed' ? r.data : null;
  }, DEADLINE_MS);
  require('it completes', done !== null);
  await p.goto(URL + '/#/executions/' + ex.data.id);
  const d = p.locator('.dispatch[data-worker="local-1"]');
  await d.waitFor({ timeout: DEADLINE_MS });
  const more = d.locator('[data-test=more-output]');
  await more.waitFor({ timeout: DEADLINE_MS });
  const shown = async () => (await d.locator('pre.output').textContent()).length;
  check('the start is shown, 256 KiB of it', (await shown()) === 256 * 1024, await shown());
  check('"Load the rest of the output" is offered', await more.isVisible());
  await more.click();
  const all = await waitFor(async () => ((await shown()) === size ? true : null), DEADLINE_MS);
  check('once clicked, all 600 KiB are shown', all === true, await shown());
  check('and the button goes away', await waitFor(async () => !(await more.isVisible()), DEADLINE_MS));
  await shot(p, 'worker-channel-02-long-output');
});
