// The audit trail page (admins only: filters, paging "older", the Verify
// button) and a workflow's History tab: versions listed, a line diff of a
// version against the one before it, the execution view's "version N"
// link. The diff module itself is checked in the page against an LCS.
import { browser, call, check, createWorkflow, page, problems, require, run, shot, uniq, URL, waitFor } from './lib.js';

run(async () => {
  const name = uniq('e2e-audit');
  const wf = await createWorkflow(name, [{ name: 'Pause', type: 'wait', duration: 0 }]);
  const v2 = { steps: [{ name: 'Pause', type: 'wait', duration: 0 }, { name: 'Greet <b>&amp;</b>', type: 'wait', duration: 5 }] };
  const r = await call('PUT', '/api/workflows/' + wf.id, { body: { name, description: 'now with <i>two</i> steps', definition: v2 } });
  require('set-up: version 2 saved', r.status === 200 && r.data.version === 2, r);
  const ex = await call('POST', '/api/executions', { body: { workflow_id: wf.id } });
  require('set-up: an execution of version 2', ex.status === 201, ex);
  // 60 more rows for this workflow's target, so its trail has two pages.
  for (let i = 0; i < 60; i++) {
    const u = await call('PUT', '/api/workflows/' + wf.id, { body: { name, description: 'now with <i>two</i> steps', definition: v2 } });
    if (u.status !== 200) throw new Error('update ' + i + ': ' + u.status);
  }

  const b = await browser();
  const p = await page(b, 'admin');

  // --- the diff module, in the browser that runs it
  await p.goto(URL + '/#/workers');
  const bad = await p.evaluate(async () => {
    const { diffLines } = await import('/js/diff.js');
    const lcs = (a, c) => {
      const t = Array.from({ length: a.length + 1 }, () => new Array(c.length + 1).fill(0));
      for (let i = 1; i <= a.length; i++) for (let j = 1; j <= c.length; j++) t[i][j] = a[i - 1] === c[j - 1] ? t[i - 1][j - 1] + 1 : Math.max(t[i - 1][j], t[i][j - 1]);
      return t[a.length][c.length];
    };
    for (let n = 0; n < 500; n++) {
      const mk = () => Array.from({ length: Math.floor(Math.random() * 10) }, () => 'xyz'[Math.floor(Math.random() * 3)]);
      const a = mk();
      const c = mk();
      const d = diffLines(a.join('\n'), c.join('\n'));
      const ra = d.filter((l) => l.op !== '+').map((l) => l.text).join('\n');
      const rc = d.filter((l) => l.op !== '-').map((l) => l.text).join('\n');
      if (ra !== a.join('\n') || rc !== c.join('\n') || d.filter((l) => l.op === ' ').length !== lcs(a, c)) return [a, c, d];
    }
    return null;
  });
  check('diffLines: 500 random pairs rebuild both texts and keep a longest common subsequence', bad === null, bad);

  // --- the history tab
  await p.goto(URL + '/#/workflows/' + wf.id);
  await p.locator('[data-test=tab-history]').click();
  await p.locator('[data-test=versions] li').first().waitFor();
  const versions = await p.locator('[data-test=versions] li').evaluateAll((els) => els.map((e) => e.dataset.version));
  check('History lists every version, newest first', versions.length === 62 && versions[0] === '62' && versions[61] === '1', versions.slice(0, 3));
  await p.locator('[data-test=versions] li[data-version="2"] [data-test=version]').click();
  await p.locator('[data-test=diff-summary]', { hasText: 'Version 1 → 2' }).waitFor();
  const added = await p.locator('[data-test=diff] .diff-add').allTextContents();
  const removed = await p.locator('[data-test=diff] .diff-del').allTextContents();
  check('version 2 against 1: the new step\'s lines are added', added.some((t) => t.includes('"name": "Greet <b>&amp;</b>"')), added);
  check('and the old description removed', removed.some((t) => t.includes('"description": ""')), removed);
  check('user data stays text: no <b> or <i> element inside the diff',
    (await p.locator('[data-test=diff] b, [data-test=diff] i').count()) === 0);
  await shot(p, 'audit-01-history-diff');
  await p.locator('[data-test=versions] li[data-version="1"] [data-test=version]').click();
  await p.locator('[data-test=diff-summary]', { hasText: 'the first version' }).waitFor();
  check('version 1: every line is added', (await p.locator('[data-test=diff] .diff-del, [data-test=diff] .diff-same').count()) === 0 &&
    (await p.locator('[data-test=diff] .diff-add').count()) > 3);

  // --- the execution shows the version it ran, linking to it
  await p.goto(URL + '/#/executions/' + ex.data.id);
  const vlink = p.locator('[data-test=exec-version]');
  await vlink.waitFor();
  check('the execution view says "version 2"', (await vlink.textContent()) === 'version 2');
  await vlink.click();
  await p.locator('[data-test=diff-summary]', { hasText: 'Version 1 → 2' }).waitFor();
  check('its link opens the history at version 2',
    (await p.locator('[data-test=versions] li[aria-current=true]').getAttribute('data-version')) === '2');

  // --- the audit page
  await p.goto(URL + '/#/audit');
  check('admins see Audit in the navigation', await p.locator('nav a[data-nav=audit]').isVisible());
  await p.locator('[data-test=audit] tbody tr').first().waitFor();
  await p.locator('[data-test=audit-target]').fill(wf.id);
  await p.locator('[data-test=audit-filter]').click();
  await waitFor(async () => (await p.locator('[data-test=audit] tbody tr[data-audit]').count()) === 50, 10000);
  const actions = await p.locator('[data-test=audit] [data-test=audit-row-action]').allTextContents();
  check('filtered by target: a page of 50, all of this workflow', actions.length === 50 && actions.every((a) => a.startsWith('workflow.') || a === 'execution.start'), actions.slice(0, 5));
  await p.locator('[data-test=older]').click();
  await waitFor(async () => (await p.locator('[data-test=audit] tbody tr[data-audit]').count()) === 62, 10000);
  const all = await p.locator('[data-test=audit] [data-test=audit-row-action]').allTextContents();
  check('"Older entries" loads the rest: create and 61 updates', all.length === 62 && all[61] === 'workflow.create' &&
    all.filter((a) => a === 'workflow.update').length === 61, all.length);
  check('no more pages: the button hides', !(await p.locator('[data-test=older]').isVisible()));
  await p.locator('[data-test=audit-target]').fill('');
  await p.locator('[data-test=audit-action]').fill('execution.start');
  await p.locator('[data-test=audit-filter]').click();
  await p.locator(`[data-test=audit] tr a[href="#/executions/${ex.data.id}"]`).waitFor();
  check('filtered by action: the execution start is there, linked', true);
  await p.locator('[data-test=audit-verify]').click();
  await p.locator('[data-test=audit-verdict][data-ok=true]').waitFor();
  check('Verify says the chain is intact with a row count',
    /^Chain intact: \d+ rows verified\.$/.test(await p.locator('[data-test=audit-verdict]').textContent()));
  await shot(p, 'audit-02-page');
  check('admin: no dialogs, page errors or console errors', problems(p).length === 0, p.problems);

  // --- an employee has no audit page
  const e = await page(b, 'employee');
  await e.goto(URL + '/#/audit');
  await e.locator('main h1', { hasText: 'Admins only' }).waitFor();
  check('employees see no Audit link', !(await e.locator('nav a[data-nav=audit]').isVisible()));
  check('and the page refuses them', (await e.locator('main h1').textContent()) === 'Admins only');
  check('employee: no errors', problems(e).length === 0, e.problems);
});
