// Sub-workflows in the dashboard (issue 14, SPEC §14): a workflow step
// links to its child execution and shows the child's status; the child's
// page says "started by step N of" a link back to its parent; following
// the links goes both ways.
import { atEnd, browser, call, check, page, problems, require, run, shot, uniq, URL, waitFor,
  workersReady } from './lib.js';

async function save(definition, name) {
  const r = await call('POST', '/api/workflows', { body: { name: name || uniq('e2e-sub'), definition } });
  if (r.status !== 201) throw new Error('saving: ' + r.status + ' ' + JSON.stringify(r.data));
  atEnd(() => call('DELETE', '/api/workflows/' + r.data.id));
  return r.data;
}

run(async () => {
  await workersReady(['local-1']);
  const child = await save({
    params: [{ name: 'who', type: 'string', required: true }],
    steps: [{ name: 'Greet', type: 'execute', targets: ['local-1'], command: 'echo hello {{ params.who }}' }],
  });
  const parent = await save({
    steps: [{ name: 'Call the child', type: 'workflow', workflow_id: child.id, params: { who: 'world' } }],
  });
  const r = await call('POST', '/api/executions', { body: { workflow_id: parent.id } });
  require('the parent started', r.status === 201, r.data);
  const eid = r.data.id;
  const e = await waitFor(async () => {
    const x = await call('GET', '/api/executions/' + eid);
    return x.data && ['completed', 'failed'].includes(x.data.status) && x.data;
  }, 30000);
  require('the parent ended', e, eid);
  check('the parent completed', e.status === 'completed', e);
  const cid = e.steps[0].child_execution_id;
  require('its step has a child', cid, e.steps[0]);

  const b = await browser();
  const p = await page(b, 'admin');
  await p.goto(URL + '/#/executions/' + eid);
  const stepChild = p.locator('[data-test=step-child]');
  await stepChild.waitFor();
  const text = await stepChild.innerText();
  check('the workflow step says sub-workflow, with the child\'s status',
    text.includes('Sub-workflow') && text.toLowerCase().includes('completed'), text);
  const link = p.locator('[data-test=step-child-link]');
  check('it links to the child execution',
    await link.getAttribute('href') === '#/executions/' + cid);
  await shot(p, 'sub-01-parent');

  await link.click();
  await p.waitForURL(new RegExp('#/executions/' + cid));
  const back = p.locator('[data-test=exec-parent]');
  await back.waitFor();
  const btext = await back.innerText();
  check('the child says it was started by step 1 of its parent', btext.startsWith('started by step 1 of'), btext);
  const blink = p.locator('[data-test=exec-parent-link]');
  check('it links back to the parent', await blink.getAttribute('href') === '#/executions/' + eid);
  const out = p.locator('.dispatch').first();
  await out.waitFor();
  check('the child\'s output shows the value passed', (await out.innerText()).includes('hello world'));
  await shot(p, 'sub-02-child');

  await blink.click();
  await p.waitForURL(new RegExp('#/executions/' + eid));
  await p.locator('[data-test=step-child]').waitFor();
  check('back on the parent', await p.locator('[data-test=exec-parent]').count() === 0);
  check('no problems on the page', problems(p).length === 0, problems(p));
});
