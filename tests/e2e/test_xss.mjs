// XSS: a worker named <img src=x onerror=alert(1)>, workflow and step names,
// prompt text and options with markup, and a command printing
// <script>alert(1)</script> plus ANSI escapes: all shown as text, colours as
// classes, and no dialog ever opens.
import { randomUUID } from 'node:crypto';
import { atEnd, browser, call, check, createWorkflow, page, problems, require, run, shot, URL, workersReady, WORKER_API_KEY } from './lib.js';

const EVIL_WORKER = '<img src=x onerror=alert(1)>';
const EVIL_WF = '<img src=x onerror=alert(2)> wf ' + Date.now().toString(36);
const EVIL_STEP = '<script>alert(3)</script>';
const EVIL_MSG = '<b onmouseover=alert(4)>Proceed?</b>';
const EVIL_OPT = '<i>yes</i>';

async function noInjected(p) {
  return p.evaluate(() => ({
    imgs: document.querySelectorAll('img').length,
    scripts: [...document.querySelectorAll('script')].map((s) => s.src),
    bold: document.querySelectorAll('main b, main i').length,
  }));
}

run(async () => {
  await workersReady(['local-1']);
  const wid = randomUUID();
  const hb = await call('POST', '/api/workers/heartbeat', { user: null, headers: { 'X-API-Key': WORKER_API_KEY },
    body: { worker_id: wid, name: EVIL_WORKER, metadata: { groups: ['<b>grp</b>'], hostname: '<script>alert(5)</script>', cpu_percent: 12.5 } } });
  require('the hostile worker registers by heartbeat', hb.status === 200 || hb.status === 201, hb);
  atEnd(() => call('DELETE', '/api/workers/' + wid));
  const wf = await createWorkflow(EVIL_WF, [
    { name: EVIL_STEP, type: 'execute', targets: ['local-1'],
      command: "printf '<script>alert(1)</script>\\n\\033[1;31mbold red\\033[0m plain \\033]0;title\\007\\033[2Kdone\\n'; echo '<img src=x onerror=alert(6)>' >&2" },
    { name: 'Ask', type: 'prompt', message: EVIL_MSG, options: [EVIL_OPT, 'no'] },
  ], '<svg onload=alert(7)>');

  const b = await browser();
  const p = await page(b, 'admin');
  await p.goto(URL + '/#/workers');
  const row = p.locator('tr[data-worker]').filter({ hasText: EVIL_WORKER });
  await row.waitFor();
  check('worker name shown as text', (await row.locator('.cell-title').textContent()) === EVIL_WORKER);
  check('hostname and group shown as text', (await row.textContent()).includes('<script>alert(5)</script>') &&
    (await row.textContent()).includes('<b>grp</b>'));
  let inj = await noInjected(p);
  check('no element injected on the workers page', inj.imgs === 0 && inj.bold === 0 && inj.scripts.length === 1, inj);
  await shot(p, 'xss-01-workers');
  await row.locator('[data-test=delete]').click();
  check('confirmation names the worker as text', (await p.locator('#modal .modal-text').textContent()).includes(EVIL_WORKER));
  await p.locator('#modal button', { hasText: 'Cancel' }).click();

  await p.goto(URL + '/#/workflows');
  const card = p.locator('.card').filter({ hasText: EVIL_WF });
  await card.waitFor();
  check('workflow name and description shown as text', (await card.locator('.card-title').textContent()) === EVIL_WF &&
    (await card.textContent()).includes('<svg onload=alert(7)>'));
  await p.locator('[data-test=search]').fill('<script>alert(3)');
  check('search finds it by its step name', (await p.locator('.card').count()) === 1);
  await shot(p, 'xss-02-workflows');

  await p.goto(URL + '/#/workflows/' + wf.id);
  await p.locator('.def-steps').waitFor();
  check('step name shown as text', (await p.locator('.def-name').first().textContent()) === EVIL_STEP);
  await p.locator('[data-test=start]').click();
  await p.waitForURL(/#\/executions\//);
  const prompt = p.locator('[data-test=prompt]');
  await prompt.waitFor({ timeout: 30000 });
  const out = p.locator('.dispatch[data-worker="local-1"] pre.output');
  const text = await out.textContent();
  check('command output shows <script> as text', text.includes('<script>alert(1)</script>'), text);
  check('stderr shows <img> as text', text.includes('<img src=x onerror=alert(6)>'), text);
  check('ANSI escapes are not shown raw', !text.includes('\u001b') && !text.includes('[1;31m') && !text.includes('title'), JSON.stringify(text));
  const red = out.locator('span.ansi-fg-1.ansi-bold');
  check('ANSI bold red rendered as a class', (await red.count()) >= 1 && (await red.first().textContent()) === 'bold red');
  check('prompt message shown as text', (await prompt.locator('.prompt-message').textContent()) === EVIL_MSG);
  check('option shown as text', (await prompt.locator('button').first().textContent()) === EVIL_OPT);
  check('step name in the timeline shown as text', (await p.locator('li.step[data-step="0"] .step-name').textContent()) === EVIL_STEP);
  inj = await noInjected(p);
  check('no element injected on the execution page', inj.imgs === 0 && inj.bold === 0 && inj.scripts.length === 1, inj);
  await shot(p, 'xss-03-execution');
  await prompt.locator('button').first().click();
  await p.locator('.exec-badge[data-status=completed]').waitFor({ timeout: 30000 });
  check('answered with the hostile option', (await p.locator('li.step[data-step="1"] .step-answer').textContent()).includes(EVIL_OPT));

  await p.goto(URL + '/#/executions');
  await p.locator('tr[data-execution]').first().waitFor();
  check('executions list shows the name as text', (await p.locator('tr[data-execution]').first().textContent()).includes(EVIL_WF));
  inj = await noInjected(p);
  check('no element injected on the executions page', inj.imgs === 0 && inj.bold === 0, inj);
  await p.waitForTimeout(500);
  check('no dialog ever opened', p.dialogs.length === 0, p.dialogs);
  check('no page errors or console errors (CSP holds)', problems(p).length === 0, p.problems);
});
