// Approvals on a frozen plan from the dashboard (issue 15, SPEC §15):
//  - admin saves a workflow with approval {required: 1, approvers: ["leads"]};
//  - alice (employee, leads) starts it from its Start form: her page shows
//    the plan as it will run (the command expanded for her, targets as
//    written, the parameters), the short hash, the deadline, and why she may
//    not approve: no Approve button;
//  - bob (leads), in another browser, sees the request arrive live (the nav's
//    "N awaiting approval" and a toast), follows it to the filtered list and
//    to the execution, approves by click with a comment: the full hash is
//    sent, the decision shows with his comment, and the execution runs to
//    completed on a real worker, running the command that was shown;
//  - a second one, of a workflow whose step runs a sub-workflow: its plan
//    links the child at the version pinned when it froze; rejected by click,
//    it ends rejected, its comment shown as text, with its badge in the list;
//  - one left past its deadline ends expired: no buttons, its own badge;
//  - a plan that is not the one awaiting approval (the page fed a wrong hash)
//    gets the server's 409: the page reloads the plan and says "the plan
//    changed; review it again", and nothing was recorded.
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { atEnd, browser, call, check, DEADLINE_MS, diag, page, problems, require, run, shot, SHOTS, uniq, URL,
  waitFor, workersReady } from './lib.js';

// The deliberate 409 (a wrong hash).
const ALLOW = [/status of 409/];
const ENDED = ['completed', 'failed', 'cancelled', 'rejected', 'expired'];

// As user: can_approve and approve_refusal are the caller's.
async function execution(id, user = 'admin') {
  const r = await call('GET', '/api/executions/' + id, { user });
  return r.status === 200 ? r.data : null;
}

async function ended(id) {
  return waitFor(async () => {
    const e = await execution(id);
    return e && ENDED.includes(e.status) && e;
  }, DEADLINE_MS);
}

run(async () => {
  await workersReady(['local-1']);
  const name = uniq('e2e-approval');
  const r = await call('POST', '/api/workflows', { body: { name, description: 'Deploy, after a lead has looked',
    definition: {
      approval: { required: 1, approvers: ['leads'] },
      params: [{ name: 'version', type: 'string', pattern: '[0-9]+\\.[0-9]+', default: '1.2',
        description: 'The release' }],
      steps: [
        { name: 'Deploy', type: 'execute', targets: ['local-1'], timeout: 20000,
          command: 'echo deploying {{ params.version }} as {{ execution.started_by }}' },
        { name: 'Settle', type: 'wait', duration: 100 },
      ],
    } } });
  require('admin saves a workflow with approval {required: 1, approvers: [leads]}', r.status === 201, r);
  const wf = r.data;
  atEnd(() => call('DELETE', '/api/workflows/' + wf.id));

  const b1 = await browser();
  const b2 = await browser();
  const alice = await page(b1, 'alice');
  const bob = await page(b2, 'bob');
  // Bob is on the executions list, live, before anything is asked of him.
  await bob.goto(URL + '/#/executions');
  await bob.locator('#live[data-state=live]').waitFor();
  const navCount = async () => {
    const nav = bob.locator('[data-test=approvals-nav]');
    return (await nav.isVisible()) ? Number(await nav.locator('[data-test=approvals-count]').innerText()) : 0;
  };
  const before = await navCount();
  // Toasts come and go in seconds: keep what bob was shown.
  await bob.evaluate(() => {
    window.toastsSeen = [];
    new MutationObserver((ms) => {
      for (const m of ms) for (const n of m.addedNodes) window.toastsSeen.push(n.textContent);
    }).observe(document.getElementById('toasts'), { childList: true });
  });

  // --- alice starts it from the dashboard
  await alice.goto(URL + '/#/workflows/' + wf.id);
  const note = await alice.locator('[data-test=wf-approval]').innerText();
  check('alice: the workflow page says a start waits for 1 approval from leads',
    note.includes('1 approval') && note.includes('leads'), note);
  await alice.locator('[data-test=start]').click();
  const form = alice.locator('[data-test=start-form]');
  await form.waitFor();
  await form.locator('input[data-param="version"]').fill('2.7');
  await alice.locator('[data-test=start-submit]').click();
  await alice.waitForURL(/#\/executions\/[0-9a-f-]{36}/);
  const id1 = alice.url().split('/').pop();
  const e1 = await execution(id1, 'alice');
  require('the execution awaits approval, its plan frozen', e1 && e1.status === 'awaiting_approval' &&
    typeof e1.plan_hash === 'string' && e1.plan_hash.length === 64 && e1.plan, e1);
  check('nothing was dispatched', (e1.steps[0].dispatches || []).length === 0, e1.steps[0]);

  const panelA = alice.locator('[data-test=approval]');
  await panelA.waitFor();
  await alice.locator('.exec-badge[data-status=awaiting_approval]').waitFor();
  check('alice: the status badge reads awaiting_approval',
    (await alice.locator('.exec-badge .badge').innerText()) === 'awaiting_approval');
  check('alice: the short hash is the first 12 hex digits of plan_hash',
    (await panelA.locator('[data-test=plan-hash]').innerText()) === 'plan ' + e1.plan_hash.slice(0, 12) &&
    (await panelA.locator('[data-test=plan-hash]').getAttribute('title')).includes(e1.plan_hash));
  const cmd = e1.plan.steps[0].command;
  check('the plan holds the command expanded for this execution', cmd === "echo deploying '2.7' as 'alice'", cmd);
  check('alice: the command shown is the plan\'s, expanded',
    (await panelA.locator('[data-test=plan-command]').first().innerText()) === cmd);
  check('alice: targets as written', (await panelA.locator('[data-test=plan-targets]').first().innerText())
    .includes('local-1'));
  check('alice: each step with its name and type, other keys listed',
    (await panelA.locator('[data-test=plan-step]').count()) === 2 &&
    (await panelA.locator('[data-test=plan-step]').nth(1).innerText()).includes('Settle') &&
    (await panelA.locator('[data-test=plan-step]').nth(1).innerText()).includes('duration') &&
    (await panelA.locator('[data-test=plan-step]').nth(0).innerText()).includes('timeout'));
  check('alice: the parameters listed', (await panelA.locator('[data-test=plan-params]').innerText())
    .replace(/\s+/g, ' ').includes('version 2.7'));
  check('alice: required 1, from leads',
    (await panelA.locator('[data-test=approval-required]').innerText()) === '1' &&
    (await panelA.locator('[data-test=approval-approvers]').innerText()) === 'leads');
  check('alice: the deadline shown', (await panelA.locator('[data-test=approval-deadline] time').getAttribute('datetime')) ===
    e1.approval.expires_at);
  check('alice: no Approve or Reject button', (await alice.locator('[data-test=approve]').isVisible()) === false &&
    (await alice.locator('[data-test=reject]').isVisible()) === false);
  check('alice: the API says she may not approve, as the starter', e1.can_approve === false &&
    e1.approve_refusal === 'you started this execution: another person must approve it',
  { can_approve: e1.can_approve, approve_refusal: e1.approve_refusal });
  const why = await panelA.locator('[data-test=approve-refusal]').innerText();
  check('alice: the reason shown is the API\'s approve_refusal', why === 'You cannot approve: ' + e1.approve_refusal, why);
  await shot(alice, 'approval-01-starter');
  // Someone outside the approver groups: no buttons either, and why.
  const emp = await page(b1, 'employee');
  await emp.goto(URL + '/#/executions/' + id1);
  const refusalE = emp.locator('[data-test=approve-refusal]');
  await refusalE.waitFor();
  check('employee (not in leads): no Approve, the reason names the groups',
    (await emp.locator('[data-test=approve]').isVisible()) === false &&
    (await refusalE.innerText()) === 'You cannot approve: approving needs membership of one of: leads',
  await refusalE.innerText());
  check('employee: no problems', problems(emp).length === 0, emp.problems);

  // --- bob sees it arrive live
  const arrived = await waitFor(async () => (await navCount()) >= before + 1, DEADLINE_MS);
  check('bob: "N awaiting approval" in the nav went up by itself', arrived === true,
    { before, now: await navCount() });
  const toasts = await bob.evaluate(() => window.toastsSeen);
  check('bob: a toast said which workflow asks, with the short hash',
    toasts.includes(`Approval requested: ${name} (plan ${e1.plan_hash.slice(0, 12)})`), toasts);
  const row = bob.locator(`tr[data-execution="${id1}"]`);
  await row.waitFor({ timeout: DEADLINE_MS });
  check('bob: the list shows it, badge awaiting_approval',
    (await row.locator('.badge').innerText()) === 'awaiting_approval');
  await bob.locator('[data-test=approvals-nav]').click();
  await bob.waitForURL(/#\/executions\?status=awaiting_approval$/);
  await bob.locator(`tr[data-execution="${id1}"]`).waitFor();
  const statuses = await bob.locator('[data-test=executions] tbody tr[data-execution] .badge').allInnerTexts();
  check('bob: the filtered list holds only executions awaiting approval',
    statuses.length >= 1 && statuses.every((s) => s === 'awaiting_approval'), statuses);
  check('bob: its filter says so', (await bob.locator('[data-test=status-filter]').inputValue()) === 'awaiting_approval');
  await shot(bob, 'approval-02-list');
  await bob.locator(`tr[data-execution="${id1}"] a`).click();
  await bob.waitForURL(new RegExp('#/executions/' + id1 + '$'));
  const panelB = bob.locator('[data-test=approval]');
  await panelB.locator('[data-test=approve]').waitFor();
  check('bob: the same plan and short hash', (await panelB.locator('[data-test=plan-command]').first().innerText()) === cmd &&
    (await panelB.locator('[data-test=plan-hash]').innerText()) === 'plan ' + e1.plan_hash.slice(0, 12));
  check('bob: no refusal shown', (await panelB.locator('[data-test=approve-refusal]').isVisible()) === false);
  await panelB.locator('[data-test=approve-comment]').fill('Release notes of 2.7 read; go');
  await shot(bob, 'approval-03-approver');
  copyFileSync(join(SHOTS, 'approval-03-approver.png'), join(SHOTS, 'approval.png'));

  // --- bob approves by click
  const sent = bob.waitForRequest((q) => q.method() === 'POST' && q.url().endsWith(`/api/executions/${id1}/approve`));
  await panelB.locator('[data-test=approve]').click();
  const body = JSON.parse((await sent).postData() || '{}');
  check('the click sent the full plan_hash, approve and the comment', body.plan_hash === e1.plan_hash &&
    body.decision === 'approve' && body.comment === 'Release notes of 2.7 read; go', body);
  const done = await ended(id1);
  require('the execution ended', done, id1);
  check('it ran to completed on a real worker', done.status === 'completed' &&
    done.steps[0].dispatches.length === 1 && done.steps[0].dispatches[0].worker_name === 'local-1', done);
  check('what ran is the command the approver saw', done.steps[0].command === cmd &&
    done.steps[0].dispatches[0].stdout === 'deploying 2.7 as alice\n', done.steps[0].dispatches[0]);
  check('the API records bob\'s approval with his comment', done.approvals.length === 1 &&
    done.approvals[0].approver === 'bob' && done.approvals[0].decision === 'approve' &&
    done.approvals[0].comment === 'Release notes of 2.7 read; go', done.approvals);
  await bob.locator('.exec-badge[data-status=completed]').waitFor({ timeout: DEADLINE_MS });
  const dec = panelB.locator('[data-test=decision][data-approver=bob]');
  await dec.waitFor();
  check('bob: his decision shows, with his comment',
    (await dec.innerText()).includes('approved') &&
    (await dec.locator('[data-test=decision-comment]').innerText()) === 'Release notes of 2.7 read; go');
  check('bob: the buttons are gone once approved', (await panelB.locator('[data-test=approve]').isVisible()) === false);
  const aliceDone = await alice.locator('.exec-badge[data-status=completed]').waitFor({ timeout: DEADLINE_MS })
    .then(() => true, () => false);
  check('alice: her page follows to completed by itself', aliceDone);
  await alice.locator('[data-test=decision][data-approver=bob]').waitFor();
  await shot(alice, 'approval-04-approved');

  // --- a second one, rejected by click: a sub-workflow, pinned in the plan
  const childName = uniq('e2e-approval-child');
  const c1 = await call('POST', '/api/workflows', { body: { name: childName,
    definition: { steps: [{ name: 'Child', type: 'execute', targets: ['local-1'], command: 'echo child 1' }] } } });
  require('admin saves a child workflow', c1.status === 201, c1);
  atEnd(() => call('DELETE', '/api/workflows/' + c1.data.id));
  const c2 = await call('PUT', '/api/workflows/' + c1.data.id, { body: { name: childName,
    definition: { steps: [{ name: 'Child', type: 'execute', targets: ['local-1'], command: 'echo child 2' }] } } });
  require('and edits it: version 2', c2.status === 200 && c2.data.version === 2, c2);
  const parent = await call('POST', '/api/workflows', { body: { name: uniq('e2e-approval-parent'),
    definition: { approval: { required: 1, approvers: ['leads'] },
      steps: [{ name: 'Run the child', type: 'workflow', workflow_id: c1.data.id }] } } });
  require('admin saves a parent with approval and a workflow step', parent.status === 201, parent);
  atEnd(() => call('DELETE', '/api/workflows/' + parent.data.id));
  const s2 = await call('POST', '/api/executions', { user: 'alice', body: { workflow_id: parent.data.id } });
  require('alice starts it', s2.status === 201 && s2.data.status === 'awaiting_approval', s2);
  check('the plan pins the child\'s version', s2.data.plan.steps[0].workflow_version === 2, s2.data.plan);
  const id2 = s2.data.id;
  await bob.goto(URL + '/#/executions/' + id2);
  await panelB.locator('[data-test=reject]').waitFor();
  const sub = panelB.locator('[data-test=plan-subworkflow] a');
  check('bob: the plan links the child at its pinned version', (await sub.innerText()) ===
    `workflow ${c1.data.id.slice(0, 8)}, version 2` &&
    (await sub.getAttribute('href')) === `#/workflows/${c1.data.id}/versions/2`);
  await panelB.locator('[data-test=approve-comment]').fill('Not during the freeze <b>x</b>');
  await panelB.locator('[data-test=reject]').click();
  const r2 = await ended(id2);
  check('rejected by click: it ends rejected', r2 && r2.status === 'rejected' && r2.completed_at, r2);
  check('rejected: nothing ran (no child started)', r2 && !r2.steps[0].child_execution_id &&
    ['pending', 'skipped', 'cancelled'].includes(r2.steps[0].status), r2 && r2.steps[0]);
  check('rejected: its error says who and why', r2 && typeof r2.error === 'string' && r2.error.includes('bob') &&
    r2.error.includes('Not during the freeze'), r2 && r2.error);
  await bob.locator('.exec-badge[data-status=rejected]').waitFor({ timeout: DEADLINE_MS });
  check('bob: the page says Rejected', (await panelB.locator('.approval-title').innerText()) === 'Rejected');
  const decR = panelB.locator('[data-test=decision][data-approver=bob]');
  await decR.waitFor();
  check('bob: the rejection shows, its comment as text (no markup)',
    (await decR.innerText()).includes('rejected') &&
    (await decR.locator('[data-test=decision-comment]').innerText()) === 'Not during the freeze <b>x</b>' &&
    (await decR.locator('b').count()) === 0);
  await shot(bob, 'approval-05-rejected');
  await bob.goto(URL + '/#/executions');
  const row2 = bob.locator(`tr[data-execution="${id2}"] .badge`);
  await row2.waitFor();
  const colors = await bob.evaluate(([a, b]) => {
    const bg = (sel) => { const el = document.querySelector(sel); return el ? getComputedStyle(el).backgroundColor : null; };
    return { rejected: bg(`tr[data-execution="${a}"] .badge`), completed: bg(`tr[data-execution="${b}"] .badge`),
      plain: (() => { const el = document.createElement('span'); el.className = 'badge'; document.body.append(el);
        const c = getComputedStyle(el).backgroundColor; el.remove(); return c; })() };
  }, [id2, id1]);
  check('the list: rejected has its own badge style', (await row2.innerText()) === 'rejected' &&
    colors.rejected !== colors.plain && colors.rejected !== colors.completed, colors);

  // --- one left alone past its deadline ends expired
  const short = await call('POST', '/api/workflows', { body: { name: uniq('e2e-approval-expiry'),
    definition: { approval: { required: 1, approvers: ['leads'], expires_in: 1000 },
      steps: [{ name: 'Never', type: 'execute', targets: ['local-1'], command: 'echo never' }] } } });
  require('a workflow whose approval expires after 1 s', short.status === 201, short);
  atEnd(() => call('DELETE', '/api/workflows/' + short.data.id));
  const s4 = await call('POST', '/api/executions', { user: 'alice', body: { workflow_id: short.data.id } });
  const x4 = s4.status === 201 && await ended(s4.data.id);
  check('left alone, it ends expired and nothing ran', x4 && x4.status === 'expired' &&
    (x4.steps[0].dispatches || []).length === 0, x4);
  await bob.goto(URL + '/#/executions/' + s4.data.id);
  await bob.locator('.exec-badge[data-status=expired]').waitFor();
  check('bob: the page says it expired, no buttons', (await panelB.locator('.approval-title').innerText()) ===
    'Expired: no decision in time' && (await panelB.locator('[data-test=approve]').isVisible()) === false);
  await shot(bob, 'approval-06-expired');
  await bob.goto(URL + '/#/executions?status=expired');
  const row4 = bob.locator(`tr[data-execution="${s4.data.id}"] .badge`);
  await row4.waitFor();
  const bg4 = await row4.evaluate((el) => {
    const plain = document.createElement('span');
    plain.className = 'badge';
    document.body.append(plain);
    const c = [getComputedStyle(el).backgroundColor + getComputedStyle(el).textDecorationLine,
      getComputedStyle(plain).backgroundColor + getComputedStyle(plain).textDecorationLine];
    plain.remove();
    return c;
  });
  check('the list filtered by expired: its own badge style', (await row4.innerText()) === 'expired' && bg4[0] !== bg4[1], bg4);

  // --- a stale hash: the page is fed a plan hash that is not the real one
  const s3 = await call('POST', '/api/executions', { user: 'alice', body: { workflow_id: wf.id } });
  require('alice starts a third execution', s3.status === 201, s3);
  const id3 = s3.data.id;
  atEnd(() => call('POST', `/api/executions/${id3}/cancel`, { user: 'alice' }));
  const fake = 'f'.repeat(64);
  let fed = 0;
  await bob.route(`**/api/executions/${id3}`, async (route) => {
    if (route.request().method() !== 'GET' || fed > 0) return route.continue();
    fed++;
    const res = await route.fetch();
    const e = await res.json();
    e.plan_hash = fake;
    return route.fulfill({ response: res, json: e });
  });
  await bob.goto(URL + '/#/executions/' + id3);
  await panelB.locator('[data-test=approve]').waitFor();
  check('bob: the page shows the hash it was fed', (await panelB.locator('[data-test=plan-hash]').innerText()) ===
    'plan ' + fake.slice(0, 12));
  await panelB.locator('[data-test=approve]').click();
  const notice = panelB.locator('[data-test=plan-changed]');
  const said = await notice.waitFor({ state: 'visible', timeout: DEADLINE_MS }).then(() => true, () => false);
  check('409: the page says the plan changed; review it again', said &&
    (await notice.innerText()) === 'The plan changed; review it again.');
  const reloaded = await waitFor(async () => (await panelB.locator('[data-test=plan-hash]').innerText()) ===
    'plan ' + s3.data.plan_hash.slice(0, 12), DEADLINE_MS);
  check('409: the plan reloaded, with the hash that awaits approval', reloaded === true);
  const e3 = await execution(id3);
  check('409: nothing was recorded', e3.status === 'awaiting_approval' && e3.approvals.length === 0, e3);
  await shot(bob, 'approval-07-plan-changed');
  // Having looked again, bob's click now counts.
  await panelB.locator('[data-test=approve]').click();
  const done3 = await ended(id3);
  check('after the reload, approving works', done3 && done3.status === 'completed' &&
    done3.approvals.length === 1 && done3.approvals[0].approver === 'bob', done3);
  diag('screenshots in ' + SHOTS);

  check('alice: no dialogs, page errors or console errors', problems(alice).length === 0, alice.problems);
  check('bob: no problems but the deliberate 409', problems(bob, ALLOW).length === 0, bob.problems);
});
