// Rolling batches on the dashboard (issue 14, SPEC §14): a step over three
// workers in batches of one whose second batch fails (max_failures 0) shows
// its progress line ("batch 2 of 3 · 2 of 3 targets done · 1 failed (max 0)
// · 1 skipped"), its dispatches grouped by batch, and the third target,
// never run, as skipped with why.
import { atEnd, browser, call, check, ctl, DEADLINE_MS, page, problems, require, run, shot, uniq, URL,
  waitFor } from './lib.js';

run(async () => {
  const group = uniq('e2e-batch');
  const names = [1, 2, 3].map((i) => `${group}-${i}`);
  for (const n of names) ctl('worker-start', n, group);
  // Stopped whatever happens (a failed run keeps data, not processes);
  // forgotten after a passing run, so the shared stack's worker list stays
  // as it was.
  process.on('exit', () => {
    for (const n of names) {
      try { ctl('worker-stop', n); } catch (e) { /* already gone */ }
    }
  });
  atEnd(async () => {
    for (const n of names) {
      try { ctl('worker-stop', n); } catch (e) { /* already gone */ }
      const r = await call('GET', '/api/workers');
      const w = r.status === 200 ? r.data.find((x) => x.name === n) : null;
      if (w) await call('DELETE', '/api/workers/' + w.id);
    }
  });
  const online = await waitFor(async () => {
    const r = await call('GET', '/api/workers');
    return r.status === 200 && names.every((n) => r.data.some((x) => x.name === n && x.status === 'online' &&
      x.command_channel !== false));
  }, DEADLINE_MS);
  require('three workers of one group online', !!online);

  // Fails on the second worker (the targets go in name order).
  const command = `[ "$PULSE_WORKER_NAME" != "${names[1]}" ]`;
  const wf = await call('POST', '/api/workflows', { body: { name: uniq('e2e-batch'), definition: { steps: [
    { name: 'Roll out', type: 'execute', targets: ['group:' + group], command, batch: { size: 1 } },
  ] } } });
  require('a batched workflow saves', wf.status === 201, wf);
  atEnd(() => call('DELETE', '/api/workflows/' + wf.data.id));
  const ex = await call('POST', '/api/executions', { body: { workflow_id: wf.data.id } });
  require('it starts', ex.status === 201, ex);
  const end = await waitFor(async () => {
    const r = await call('GET', '/api/executions/' + ex.data.id);
    return r.data && ['completed', 'failed', 'cancelled'].includes(r.data.status) ? r.data : null;
  }, DEADLINE_MS);
  require('it ends failed', end && end.status === 'failed', end);

  const b = await browser();
  const p = await page(b, 'admin');
  await p.goto(URL + '/#/executions/' + ex.data.id);
  const line = p.locator('[data-test=batch-progress]');
  await line.waitFor({ timeout: DEADLINE_MS });
  const text = await line.textContent();
  check('the progress line', text === 'batch 2 of 3 · 2 of 3 targets done · 1 failed (max 0) · 1 skipped', text);
  const groups = await p.locator('.dispatch-batch').evaluateAll((els) => els.map((e) => [e.dataset.batch,
    [...e.querySelectorAll('.dispatch')].map((d) => `${d.dataset.worker}:${d.dataset.status}`)]));
  check('dispatches grouped by batch, in order', JSON.stringify(groups) === JSON.stringify([
    ['1', [`${names[0]}:succeeded`]], ['2', [`${names[1]}:failed`]], ['3', [`${names[2]}:skipped`]]]), groups);
  const skipped = p.locator(`.dispatch-batch[data-batch="3"] .dispatch[data-worker="${names[2]}"]`);
  const st = await skipped.textContent();
  check('the skipped target reads skipped, with why',
    (await skipped.locator('.badge.st-skipped').count()) === 1 &&
    st.includes('skipped: 1 failures exceeded max_failures 0') && st.includes('never ran'), st);
  const steps = await p.locator('[data-test=steps]').textContent();
  check('the step says why it failed', steps.includes('exceeded max_failures 0'), steps.slice(0, 600));
  check('no console errors', problems(p).length === 0, problems(p));
  await shot(p, 'batch-01');
});
