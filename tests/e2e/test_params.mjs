// Starting a workflow with parameters from the dashboard (issue 14, SPEC §14):
//  - Start opens a form built from the declarations: a text input with the
//    pattern and maxlength, a number input with min/max, a checkbox, a select
//    for a choice; descriptions shown, defaults filled, required marked;
//  - a bad value: the server's 400 is shown beside its field, nothing starts;
//  - a good value starts it, the execution shows its params and the command
//    ran with them;
//  - "Run again" opens the same form filled with that execution's values;
//  - an employee outside allowed_groups sees no Start, and why.
import { atEnd, browser, call, check, page, problems, require, run, shot, uniq, URL, waitFor,
  workersReady } from './lib.js';

// The deliberate 400 of the bad value.
const ALLOW = [/status of 400/];

async function save(definition) {
  const r = await call('POST', '/api/workflows', { body: { name: uniq('e2e-params'), definition } });
  if (r.status !== 201) throw new Error('saving: ' + r.status + ' ' + JSON.stringify(r.data));
  atEnd(() => call('DELETE', '/api/workflows/' + r.data.id));
  return r.data;
}

run(async () => {
  await workersReady(['local-1']);
  const wf = await save({
    params: [
      { name: 'version', type: 'string', required: true, pattern: '[0-9]+\\.[0-9]+', max_length: 16,
        description: 'The release, like 1.2' },
      { name: 'count', type: 'integer', min: 1, max: 5, default: 2 },
      { name: 'dry', type: 'boolean', default: true },
      { name: 'env', type: 'choice', options: ['staging', 'prod'], default: 'staging' },
    ],
    steps: [{ name: 'Deploy', type: 'execute', targets: ['local-1'],
      command: 'echo {{ params.version }} {{ params.count }} {{ params.dry }} {{ params.env }}' }],
  });
  const closed = await save({ allowed_groups: ['ops-e2e'],
    steps: [{ name: 'Run', type: 'execute', targets: ['local-1'], command: 'true' }] });

  const b = await browser();
  const p = await page(b, 'admin');
  await p.goto(URL + '/#/workflows/' + wf.id);
  await p.locator('[data-test=start]').click();
  const form = p.locator('[data-test=start-form]');
  await form.waitFor();
  const input = (n) => form.locator(`input[data-param="${n}"], select[data-param="${n}"]`);
  const field = (n) => form.locator(`[data-test=param-field][data-param="${n}"]`);
  check('the form has a field per parameter', await form.locator('[data-test=param-field]').count() === 4);
  check('version: a text input with the pattern and maxlength',
    await input('version').getAttribute('type') === 'text' &&
    await input('version').getAttribute('pattern') === '[0-9]+\\.[0-9]+' &&
    await input('version').getAttribute('maxlength') === '16');
  check('version: marked required', await field('version').locator('[data-test=required]').count() === 1);
  check('version: its description shown', (await field('version').innerText()).includes('The release, like 1.2'));
  check('count: a number input with min/max and the default',
    await input('count').getAttribute('type') === 'number' && await input('count').getAttribute('min') === '1' &&
    await input('count').getAttribute('max') === '5' && await input('count').inputValue() === '2');
  check('dry: a checkbox, checked by default', await input('dry').getAttribute('type') === 'checkbox' &&
    await input('dry').isChecked());
  check('env: a select of the options, the default chosen', await input('env').evaluate((e) => e.tagName) === 'SELECT' &&
    await input('env').inputValue() === 'staging');
  await shot(p, 'params-01-form');

  // A bad value: the server's message beside the field; nothing started.
  const before = (await call('GET', '/api/executions?limit=200')).data.filter((e) => e.workflow_id === wf.id).length;
  await input('version').fill('latest');
  await p.locator('[data-test=start-submit]').click();
  const err = form.locator('[data-test=param-error][data-param=version]');
  await err.waitFor({ state: 'visible' });
  const text = await err.innerText();
  check('the 400 is shown beside version', text.startsWith('params.version: does not match pattern'), text);
  check('the value typed is not echoed', !text.includes('latest'), text);
  const after = (await call('GET', '/api/executions?limit=200')).data.filter((e) => e.workflow_id === wf.id).length;
  check('nothing was started', after === before, { before, after });
  await shot(p, 'params-02-error');

  // A good start.
  await input('version').fill('1.5');
  await input('count').fill('4');
  await input('dry').uncheck();
  await input('env').selectOption('prod');
  await p.locator('[data-test=start-submit]').click();
  await p.waitForURL(/#\/executions\/[0-9a-f-]{36}/);
  const eid = p.url().split('/').pop();
  const e = await waitFor(async () => {
    const r = await call('GET', '/api/executions/' + eid);
    return r.data && ['completed', 'failed'].includes(r.data.status) && r.data;
  }, 30000);
  require('the execution ended', e, eid);
  check('it completed with the values', e.status === 'completed' &&
    e.steps[0].dispatches[0].stdout === '1.5 4 false prod\n', e.steps[0].dispatches && e.steps[0].dispatches[0]);
  check('its params are the resolved values', JSON.stringify(e.params) ===
    JSON.stringify({ version: '1.5', count: 4, dry: false, env: 'prod' }), e.params);
  const shown = p.locator('[data-test=exec-params]');
  await shown.waitFor();
  check('the page shows the params', (await shown.innerText()).includes('version="1.5"'));
  const ran = p.locator('[data-test=step-command]').first();
  await ran.waitFor();
  const ranText = await ran.innerText();
  check('the page shows the command as it ran, templates expanded',
    ranText === "echo '1.5' '4' 'false' 'prod'", ranText);

  // Run again: the same form, filled with this execution's values.
  const again = p.locator('[data-test=run-again]');
  await again.waitFor({ state: 'visible' });
  await again.click();
  await form.waitFor();
  check('Run again: version prefilled', await input('version').inputValue() === '1.5');
  check('Run again: count prefilled', await input('count').inputValue() === '4');
  check('Run again: dry prefilled (unchecked)', !(await input('dry').isChecked()));
  check('Run again: env prefilled', await input('env').inputValue() === 'prod');
  await shot(p, 'params-03-run-again');
  await p.keyboard.press('Escape');

  // An employee outside allowed_groups: no Start, and why.
  const emp = await page(b, 'employee');
  await emp.goto(URL + '/#/workflows/' + closed.id);
  const note = emp.locator('[data-test=start-blocked]');
  await note.waitFor();
  check('employee: Start hidden on the workflow page', await emp.locator('[data-test=start]').count() === 0);
  check('employee: the reason shown', (await note.innerText()).includes('ops-e2e'));
  await emp.goto(URL + '/#/workflows');
  const card = emp.locator(`[data-workflow="${closed.name}"]`);
  await card.waitFor();
  check('employee: no Start on its card', await card.locator('[data-test=start]').count() === 0 &&
    await card.locator('[data-test=start-blocked]').count() === 1);
  await shot(emp, 'params-04-blocked');
  // The admin may start it (admins always may).
  await p.goto(URL + '/#/workflows/' + closed.id);
  await p.locator('[data-test=start]').waitFor();
  check('admin: Start shown', await p.locator('[data-test=start-blocked]').count() === 0);

  check('no unexpected problems on the admin page', problems(p, ALLOW).length === 0, problems(p, ALLOW));
  check('no problems on the employee page', problems(emp).length === 0, problems(emp));
});
