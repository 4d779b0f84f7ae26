// Inbound triggers on a workflow's page (SPEC §16):
//  - an admin creates a trigger in the page and sees its secret once, with
//    a copy button, a warning and the hook URL; once the dialog is closed
//    (and after a reload) the page holds the secret nowhere;
//  - the test calls the hook with that secret's signature: the delivery
//    appears as started with a link to its execution; a call with a wrong
//    signature appears refused, with the reason;
//  - Rotate shows a new secret once; the old one no longer starts anything;
//  - Disable makes its hook 404 and says so on the card; Enable undoes it;
//  - Delete removes it; an employee sees no Triggers section.
import { createHmac } from 'node:crypto';
import { atEnd, browser, call, check, createWorkflow, page, problems, require, run, shot, uniq, URL,
  waitFor } from './lib.js';

// Deliberate refusals the page itself does not cause are not its problems.
const ALLOW = [];

const holds = (pg, t) => pg.evaluate((x) => document.documentElement.outerHTML.includes(x) ||
  [...document.querySelectorAll('input, textarea')].some((f) => f.value.includes(x)), t);

async function hook(path, secret, body) {
  const raw = JSON.stringify(body);
  const sig = createHmac('sha256', secret).update(raw).digest('hex');
  const res = await fetch(URL + path, { method: 'POST', body: raw,
    headers: { 'Content-Type': 'application/json', 'X-Hub-Signature-256': 'sha256=' + sig } });
  let data = null;
  try { data = JSON.parse(await res.text()); } catch (e) { /* not JSON */ }
  return { status: res.status, data };
}

run(async () => {
  const wf = await createWorkflow(uniq('e2e-trg'), [{ name: 'Ask', type: 'prompt', message: 'Go?', options: ['Yes', 'No'] }]);
  const b = await browser();
  const p = await page(b, 'admin');
  await p.goto(URL + '/#/workflows/' + encodeURIComponent(wf.id));
  await p.locator('[data-test=triggers]').waitFor();
  // The list loads after the section shows: wait for what it says.
  check('no triggers yet', await p.locator('[data-test=no-triggers]').waitFor().then(() => true, () => false));

  // --- create, the secret once
  const name = uniq('e2e-hook');
  await p.locator('[data-test=new-trigger]').click();
  await p.locator('[data-test=trigger-name]').fill(name);
  await p.locator('[data-test=trigger-create]').click();
  await p.locator('[data-test=trigger-secret-once]').waitFor();
  const secret = await p.locator('[data-test=trigger-secret]').inputValue();
  require('the secret is shown: 64 hex characters', /^[0-9a-f]{64}$/.test(secret), secret.length);
  const url = await p.locator('[data-test=trigger-once-url]').inputValue();
  require('the hook URL is on this host', url.startsWith(URL + '/hooks/'), url);
  check('a copy button for the secret', (await p.locator('[data-test=trigger-secret-copy]').count()) === 1);
  check('a warning that it is shown once',
    (await p.locator('[data-test=trigger-secret-once]').textContent()).includes('only this once'));
  await shot(p, 'triggers-01-secret-once');
  const listed = await call('GET', '/api/triggers?workflow_id=' + wf.id);
  require('the API lists it', listed.status === 200 && listed.data.length === 1, listed);
  const t = listed.data[0];
  atEnd(() => call('DELETE', '/api/triggers/' + t.id));
  check('the API never returns the secret', !JSON.stringify(listed.data).includes(secret));
  await p.locator('[data-test=trigger-secret-once] button', { hasText: 'Done' }).click();
  const card = p.locator(`[data-trigger="${t.id}"]`);
  await card.waitFor();
  check('once closed, the page holds the secret nowhere', !(await holds(p, secret)));
  check('the card shows the URL', (await card.locator('[data-test=trigger-url]').textContent()) === url);
  check('... and no deliveries yet',
    await card.locator('[data-test=trigger-no-deliveries]').waitFor().then(() => true, () => false));

  // --- call it: the delivery appears
  const good = await hook('/hooks/' + t.id, secret, { ref: 'main' });
  require('a signed call starts an execution (202)', good.status === 202 && good.data && good.data.execution_id, good);
  const bad = await hook('/hooks/' + t.id, 'f'.repeat(64), { ref: 'main' });
  check('a wrongly signed call is refused (401)', bad.status === 401, bad);
  await p.reload();
  const rows = card.locator('[data-test=trigger-delivery]');
  check('both deliveries appear', await waitFor(async () => (await rows.count()) === 2, 15000));
  const started = card.locator('[data-test=trigger-delivery][data-outcome=started]');
  check('the started one links its execution',
    (await started.locator('[data-test=trigger-execution]').getAttribute('href')) === '#/executions/' + good.data.execution_id);
  const refused = card.locator('[data-test=trigger-delivery][data-outcome=refused]');
  check('the refused one says why', (await refused.locator('[data-test=trigger-reason]').textContent()).includes('signature'),
    await refused.textContent());
  check('after a reload the page holds the secret nowhere', !(await holds(p, secret)));
  await shot(p, 'triggers-02-deliveries');

  // --- rotate
  await card.locator('[data-test=trigger-rotate]').click();
  await p.locator('[data-test=trigger-rotate-confirm]').click();
  await p.locator('[data-test=trigger-secret-once]').waitFor();
  const fresh = await p.locator('[data-test=trigger-secret]').inputValue();
  check('rotate shows a new secret', /^[0-9a-f]{64}$/.test(fresh) && fresh !== secret);
  await p.locator('[data-test=trigger-secret-once] button', { hasText: 'Done' }).click();
  check('the old secret no longer starts anything', (await hook('/hooks/' + t.id, secret, { ref: 'x' })).status === 401);
  check('the new one does', (await hook('/hooks/' + t.id, fresh, { ref: 'x' })).status === 202);

  // --- disable and enable
  await card.locator('[data-test=trigger-toggle]').click();
  check('Disable: the card says disabled',
    await waitFor(async () => (await card.locator('[data-test=trigger-disabled]').count()) === 1, 15000));
  check('... and its hook answers 404', (await hook('/hooks/' + t.id, fresh, { ref: 'y' })).status === 404);
  await card.locator('[data-test=trigger-toggle]', { hasText: 'Enable' }).click();
  check('Enable: the badge goes',
    await waitFor(async () => (await card.locator('[data-test=trigger-disabled]').count()) === 0, 15000));
  check('... and its hook starts again', (await hook('/hooks/' + t.id, fresh, { ref: 'y' })).status === 202);

  // --- an employee sees no Triggers section
  const e = await page(b, 'employee');
  await e.goto(URL + '/#/workflows/' + encodeURIComponent(wf.id));
  await e.locator('[data-test=tab-steps]').waitFor();
  check('an employee sees no Triggers section', (await e.locator('[data-test=triggers]').count()) === 0);

  // --- delete
  await p.reload();
  await card.locator('[data-test=trigger-delete]').click();
  await p.locator('[data-test=trigger-delete-confirm]').click();
  check('deleted: the card goes', await waitFor(async () => (await card.count()) === 0, 15000));
  check('its hook answers 404', (await hook('/hooks/' + t.id, fresh, { ref: 'x' })).status === 404);
  check('no problems on the admin\'s page', problems(p, ALLOW).length === 0, problems(p, ALLOW));
  check('no problems on the employee\'s page', problems(e, ALLOW).length === 0, problems(e, ALLOW));
});
