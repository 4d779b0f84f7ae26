// Worker identity on the dashboard (issue 13, SPEC §12):
//  - an admin creates an enrollment token and sees it once, with the
//    /etc/pulse/worker.env lines; a reload never shows it again;
//  - a shared-key enrollment appears pending, "not commanded until
//    accepted", with the groups it asked for; Accept with edited groups
//    makes the row accepted with those groups (and the asked-for ones shown
//    beside them), and an employee's open page follows without a reload;
//  - a replacement candidate reads "replacement for <old name>", its Accept
//    dialog says what happens to the old worker, and accepting it swaps them;
//  - a refused action shows the server's message beside its button;
//  - a real agent enrolled with the token: Rotate key shows "rotation
//    pending" while the agent is frozen, and the note goes once it runs on
//    and acks the new key (its key file changed); Revoke makes it revoked;
//  - Revoke token: the row reads revoked and the token no longer enrolls;
//  - an employee sees states and groups but no action and no tokens.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { atEnd, browser, call, check, ctl, DEADLINE_MS, page, problems, require, run, shot, skip, uniq, URL,
  waitFor, WORKER_API_KEY } from './lib.js';

const STACK = process.env.PULSE_STACK || '';
// The deliberate refusal (an action on a worker deleted meanwhile).
const ALLOW = [/status of 404/];

async function worker(pred) {
  const r = await call('GET', '/api/workers');
  return r.status === 200 && Array.isArray(r.data) ? r.data.find(pred) || null : null;
}

function enroll(body, headers = { 'X-API-Key': WORKER_API_KEY }) {
  return call('POST', '/api/workers/enroll', { user: null, headers, body: { version: '2.0.0', ...body } });
}

// Does the page hold text t anywhere: markup, or a field's value?
const holds = (pg, t) => pg.evaluate((x) => document.documentElement.outerHTML.includes(x) ||
  [...document.querySelectorAll('input, textarea')].some((f) => f.value.includes(x)), t);

const same = (a, b) => JSON.stringify([...a].sort()) === JSON.stringify([...b].sort());

run(async () => {
  const b = await browser();
  const p = await page(b, 'admin');
  const row = (id) => p.locator(`tr[data-worker-id="${id}"]`);
  // An employee's page, open all along: it follows the admin's changes.
  const e = await page(b, 'employee');
  await e.goto(URL + '/#/workers');

  // --- an enrollment token, shown once
  await p.goto(URL + '/#/workers');
  await p.locator('[data-test=tokens]').waitFor();
  await p.locator('[data-test=new-token]').click();
  await p.locator('[data-test=token-groups]').fill('trust-web, trust-db');
  await p.locator('[data-test=token-uses]').fill('2');
  await p.locator('[data-test=token-expiry]').selectOption({ label: '1 hour' });
  await shot(p, 'trust-01-new-token');
  await p.locator('[data-test=token-create]').click();
  await p.locator('[data-test=token-once]').waitFor();
  const token = await p.locator('[data-test=token-value]').inputValue();
  require('the token is shown: 43 base64url characters', /^[A-Za-z0-9_-]{43}$/.test(token), token.length);
  const env = await p.locator('[data-test=token-env]').inputValue();
  check('the worker.env lines name this server and the token',
    env.split('\n').includes('PULSE_SERVER=' + URL) && env.split('\n').includes('PULSE_ENROLL_TOKEN=' + token), env);
  check('a copy button for the token and for the lines',
    (await p.locator('[data-test=token-value-copy]').count()) === 1 && (await p.locator('[data-test=token-env-copy]').count()) === 1);
  await shot(p, 'trust-02-token-once');
  check('(while shown, the page holds it)', await holds(p, token));
  const listed = await call('GET', '/api/enrollment-tokens');
  require('the token is listed by the API', listed.status === 200 && Array.isArray(listed.data), listed);
  const tok = listed.data.find((t) => same(t.groups || [], ['trust-web', 'trust-db']) && t.uses_left === 2 && !t.revoked_at);
  require('... with its groups and uses', !!tok, listed.data);
  atEnd(() => call('DELETE', '/api/enrollment-tokens/' + tok.id));
  check('the API list never carries the token', !JSON.stringify(listed.data).includes(token));
  await p.locator('[data-test=token-once] button', { hasText: 'Done' }).click();
  const tokRow = p.locator(`tr[data-token="${tok.id}"]`);
  await tokRow.waitFor();
  check('once closed, the page holds the token nowhere', !(await holds(p, token)));
  check('the token is in the list, active, 2 uses left',
    (await tokRow.getAttribute('data-state')) === 'active' && (await tokRow.textContent()).includes('2'),
    await tokRow.textContent());
  await p.reload();
  await tokRow.waitFor();
  check('after a reload the page does not show the token', !(await holds(p, token)));

  // --- a pending worker (shared key), accepted with edited groups
  const pname = uniq('e2e-pending');
  const pe = await enroll({ name: pname, groups: ['asked-a', 'asked-b'] });
  require('a shared-key enrollment is pending', pe.status === 201 && pe.data.state === 'pending', pe);
  const pid = pe.data.worker_id;
  atEnd(() => call('DELETE', '/api/workers/' + pid));
  const prow = row(pid);
  await prow.waitFor({ timeout: DEADLINE_MS });
  await e.locator(`tr[data-worker-id="${pid}"][data-state=pending]`).waitFor({ timeout: DEADLINE_MS });
  check('its row reads pending', (await prow.getAttribute('data-state')) === 'pending' &&
    (await prow.locator('[data-test=state]').textContent()) === 'pending');
  check('... "not commanded until accepted"',
    (await prow.locator('[data-test=not-target]').textContent()) === 'not commanded until accepted');
  check('... shows the groups it asked for', (await prow.locator('[data-test=requested]').textContent()).includes('asked-a'));
  check('... and its Run command is disabled', await prow.locator('[data-test=command]').isDisabled());
  await shot(p, 'trust-03-pending');
  await prow.locator('[data-test=accept]').click();
  const groupsInput = p.locator('#modal [data-test=groups-input]');
  check('the Accept dialog shows the requested groups, prefilled',
    (await groupsInput.inputValue()) === 'asked-a, asked-b' &&
    (await p.locator('#modal [data-test=asked]').textContent()).includes('asked-b'));
  await groupsInput.fill('granted-x, asked-b');
  await shot(p, 'trust-04-accept');
  await p.locator('#modal [data-test=accept-confirm]').click();
  await p.locator(`tr[data-worker-id="${pid}"][data-state=accepted]`).waitFor({ timeout: DEADLINE_MS });
  check('accepted: the row shows the granted groups',
    same((await prow.locator('[data-test=groups] .chip').allTextContents()), ['granted-x', 'asked-b']),
    await prow.locator('[data-test=groups]').textContent());
  check('... and what the agent asked for beside them',
    (await prow.locator('[data-test=requested]').textContent()).includes('asked-a'));
  check('... and no "not commanded" note', (await prow.locator('[data-test=not-target]').count()) === 0);
  const seen = await e.locator(`tr[data-worker-id="${pid}"][data-state=accepted]`)
    .waitFor({ timeout: DEADLINE_MS }).then(() => true, () => false);
  check('an employee\'s open Workers page follows: accepted, without a reload', seen);
  const pw = await worker((w) => w.id === pid);
  check('the API agrees: accepted with the edited groups', pw && pw.state === 'accepted' && same(pw.groups, ['granted-x', 'asked-b']), pw);

  // --- edit the groups later
  await prow.locator('[data-test=edit-groups]').click();
  await p.locator('#modal [data-test=groups-input]').fill('granted-y');
  await p.locator('#modal [data-test=groups-confirm]').click();
  const edited = await waitFor(async () => same(await prow.locator('[data-test=groups] .chip').allTextContents(), ['granted-y']), DEADLINE_MS);
  check('Groups: the edited groups replace the granted ones', !!edited);

  // --- a replacement candidate for it
  const ce = await enroll({ name: pname, groups: ['granted-y'] });
  require('an agent presenting its name becomes a pending candidate',
    ce.status === 201 && ce.data.state === 'pending' && ce.data.worker_id !== pid, ce);
  const cid = ce.data.worker_id;
  atEnd(() => call('DELETE', '/api/workers/' + cid));
  const crow = row(cid);
  await crow.waitFor({ timeout: DEADLINE_MS });
  check('its row reads "replacement for <old name>"',
    (await crow.locator('[data-test=replaces]').textContent()) === 'replacement for ' + pname,
    await crow.textContent());
  await crow.locator('[data-test=accept]').click();
  const effect = await p.locator('#modal [data-test=replace-effect]').textContent();
  check('its Accept dialog says what happens to the old worker',
    effect.includes('revokes the worker ' + pname) && effect.includes('replaced ' + pid.slice(0, 8)), effect);
  await shot(p, 'trust-05-replacement');
  await p.locator('#modal [data-test=accept-confirm]').click();
  await p.locator(`tr[data-worker-id="${cid}"][data-state=accepted]`).waitFor({ timeout: DEADLINE_MS });
  check('accepted: the candidate takes the name', (await crow.getAttribute('data-worker')) === pname);
  await p.locator(`tr[data-worker-id="${pid}"][data-state=revoked]`).waitFor({ timeout: DEADLINE_MS });
  check('... and the old worker is revoked and renamed',
    (await prow.getAttribute('data-worker')).startsWith(pname + ' (replaced'), await prow.getAttribute('data-worker'));

  // --- a refusal shows the server's message beside the button
  await crow.locator('[data-test=revoke]').click();
  await p.locator('#modal [data-test=revoke-confirm]').waitFor();
  const gone = await call('DELETE', '/api/workers/' + cid);
  require('(the worker is deleted meanwhile)', gone.status === 200 || gone.status === 204, gone);
  const again = await call('POST', `/api/workers/${cid}/revoke`);
  await p.locator('#modal [data-test=revoke-confirm]').click();
  const err = p.locator('#modal [data-test=action-error]');
  await err.waitFor();
  check('the refusal is shown in the dialog with the server\'s message',
    again.status >= 400 && typeof again.data.error === 'string' && (await err.textContent()) === again.data.error,
    { shown: await err.textContent(), api: again });
  await shot(p, 'trust-06-refused');
  await p.keyboard.press('Escape');

  // --- a real agent enrolled with the token: rotate, then revoke
  const aname = uniq('e2e-agent');
  ctl('worker-start', aname, 'claimed-wide', 'PULSE_ENROLL_TOKEN=' + token);
  atEnd(() => { try { ctl('worker-stop', aname); } catch (e) { /* gone */ } });
  const aw = await waitFor(() => worker((w) => w.name === aname && w.status === 'online'), DEADLINE_MS);
  require('the agent started with the token comes online', !!aw);
  atEnd(() => call('DELETE', '/api/workers/' + aw.id));
  const arow = row(aw.id);
  if (!aw.has_key) {
    // A version-1 agent (no enrollment in this build of pulse-worker): no key to rotate.
    skip('rotation pending then done on a real agent', 'this pulse-worker does not enroll with PULSE_ENROLL_TOKEN (has_key false)');
  } else {
    check('enrolled with the token: accepted with the token\'s groups, not the claimed ones',
      aw.state === 'accepted' && same(aw.groups, ['trust-web', 'trust-db']), aw);
    await arow.waitFor({ timeout: DEADLINE_MS });
    const spent = await waitFor(async () => (await tokRow.locator('td').nth(1).textContent()) === '1', DEADLINE_MS);
    check('the token list follows its enrollment: 1 use left, without a reload', !!spent, await tokRow.textContent());
    const keyFile = join(STACK, 'workers', aname, 'key');
    const key0 = readFileSync(keyFile, 'utf8');
    // Frozen, the agent cannot ack: the rotation stays pending on screen.
    const apid = Number(ctl('worker-pid', aname).trim());
    process.kill(apid, 'SIGSTOP');
    let frozen = true;
    atEnd(() => { if (frozen) process.kill(apid, 'SIGCONT'); });
    await arow.locator('[data-test=rotate]').click();
    await p.locator('#modal [data-test=rotate-confirm]').click();
    await arow.locator('[data-test=rotation]').waitFor({ timeout: DEADLINE_MS });
    check('Rotate key: the row reads "rotation pending"', (await arow.locator('[data-test=rotation]').textContent()) === 'rotation pending');
    check('... and its Rotate key button is disabled meanwhile', await arow.locator('[data-test=rotate]').isDisabled());
    await shot(p, 'trust-07-rotation-pending');
    process.kill(apid, 'SIGCONT');
    frozen = false;
    const acked = await arow.locator('[data-test=rotation]').waitFor({ state: 'detached', timeout: DEADLINE_MS }).then(() => true, () => false);
    check('once the agent acks, the note goes without a reload', acked);
    const after = await worker((w) => w.id === aw.id);
    check('the API agrees: no rotation pending', after && after.rotation === null, after);
    check('the agent stored a new key', readFileSync(keyFile, 'utf8') !== key0);
    const alive = await waitFor(async () => {
      const w = await worker((x) => x.id === aw.id);
      return w && w.status === 'online' && Date.parse(w.last_heartbeat) > Date.now() - 15000 ? w : null;
    }, DEADLINE_MS);
    check('... and keeps working with it (heartbeats accepted)', !!alive);
  }
  await arow.waitFor({ timeout: DEADLINE_MS });
  await arow.locator('[data-test=revoke]').click();
  const rtext = await p.locator('#modal .modal-text').textContent();
  check('the Revoke dialog names the effect', rtext.includes('socket is closed') && rtext.includes('key dies'), rtext);
  await p.locator('#modal [data-test=revoke-confirm]').click();
  await p.locator(`tr[data-worker-id="${aw.id}"][data-state=revoked]`).waitFor({ timeout: DEADLINE_MS });
  check('Revoke: the row reads revoked', (await arow.locator('[data-test=state]').textContent()) === 'revoked');
  check('... with no Revoke, Rotate or Groups left', (await arow.locator('[data-test=revoke], [data-test=rotate], [data-test=edit-groups]').count()) === 0);
  const rw = await worker((w) => w.id === aw.id);
  check('the API agrees: revoked', rw && rw.state === 'revoked', rw);
  await shot(p, 'trust-08-revoked');
  await tokRow.locator('[data-test=token-revoke]').click();
  await p.locator('#modal [data-test=token-revoke-confirm]').click();
  await p.locator(`tr[data-token="${tok.id}"][data-state=revoked]`).waitFor({ timeout: DEADLINE_MS });
  check('Revoke token: its row reads revoked, with no Revoke left', (await tokRow.locator('[data-test=token-revoke]').count()) === 0);
  const late = await enroll({ name: uniq('e2e-late'), groups: [], token }, {});
  check('... and the API refuses it (401)', late.status === 401, late);
  check('admin: no dialogs, page errors or console errors', problems(p, ALLOW).length === 0, p.problems);

  // --- an employee: states and groups, no action, no tokens
  await e.reload();
  const erow = e.locator(`tr[data-worker-id="${pid}"]`);
  await erow.waitFor({ timeout: DEADLINE_MS });
  check('employee sees the state', (await erow.locator('[data-test=state]').textContent()) === 'revoked');
  check('employee sees the groups', (await erow.locator('[data-test=groups]').textContent()).includes('granted-y'));
  check('employee: no trust actions',
    (await e.locator('[data-test=accept], [data-test=revoke], [data-test=rotate], [data-test=edit-groups]').count()) === 0);
  check('employee: no enrollment tokens', (await e.locator('[data-test=tokens], [data-test=new-token]').count()) === 0);
  await shot(e, 'trust-09-employee');
  check('employee: no dialogs, page errors or console errors', problems(e).length === 0, e.problems);
});
