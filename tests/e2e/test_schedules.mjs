// The Schedules page (SPEC §16): an admin creates a schedule in the page;
// the editor's live preview shows the next five fire times as the cron
// expression is typed, and a bad one shows the server's message naming
// the field; the new schedule is listed with its next run; Disable and
// Enable change it (and the API agrees); Edit changes its expression with
// a new preview; the workflow's page lists it; an
// employee sees the page without the admin's buttons.
import { browser, call, check, createWorkflow, page, problems, require, run, shot, uniq, URL, waitFor } from './lib.js';

run(async () => {
  const wf = await createWorkflow(uniq('e2e-sch-wf'), [{ name: 'Pause', type: 'wait', duration: 0 }]);
  const name = uniq('e2e-sch');
  const b = await browser();
  const p = await page(b, 'admin');

  await p.goto(URL + '/#/schedules');
  await p.locator('[data-test=schedules] h1', { hasText: 'Schedules' }).waitFor();
  check('the nav has a Schedules entry, current', (await p.locator('nav a[data-nav=schedules][aria-current=page]').count()) === 1);
  await p.locator('[data-test=new-schedule]').click();
  await p.locator('[data-test=schedule-name]').fill(name);
  await waitFor(async () => (await p.locator(`[data-test=schedule-workflow] option[value="${wf.id}"]`).count()) === 1, 10000);
  await p.locator('[data-test=schedule-workflow]').selectOption(wf.id);
  await p.locator('[data-test=schedule-timezone]').fill('UTC');

  // The live preview: five times, each on the quarter hour for */15.
  await p.locator('[data-test=schedule-cron]').fill('*/15 * * * *');
  const quarter = await waitFor(async () => {
    const t = await p.locator('[data-test=preview-time]').evaluateAll((els) => els.map((e) => e.title));
    return t.length === 5 && t.every((x, i) => /:(00|15|30|45):00\.000Z$/.test(x) &&
      (i === 0 || Date.parse(x) - Date.parse(t[i - 1]) === 15 * 60000)) ? t : null;
  }, 10000);
  check('the preview shows the next five fire times of */15, on the quarter hours, 15 minutes apart',
    quarter && quarter.length === 5, quarter);

  await p.locator('[data-test=schedule-cron]').fill('61 * * * *');
  await p.locator('[data-test=schedule-preview-error]:visible').waitFor();
  const msg = await p.locator('[data-test=schedule-preview-error]').textContent();
  check('a bad expression shows the field and what is wrong', /minute/.test(msg) && /61/.test(msg) && /0-59/.test(msg), msg);
  check('and no times', (await p.locator('[data-test=preview-time]').count()) === 0);

  await p.locator('[data-test=schedule-cron]').fill('0 6 * * mon-fri');
  const week = await waitFor(async () => {
    const t = await p.locator('[data-test=preview-time]').evaluateAll((els) => els.map((e) => e.title));
    return t.length === 5 ? t : null;
  }, 10000);
  check('the preview follows the typing: weekdays at 06:00 UTC', week &&
    week.every((t) => t.endsWith('T06:00:00.000Z') && ![0, 6].includes(new Date(t).getUTCDay())), week);
  await shot(p, 'schedules-01-editor');
  await p.locator('[data-test=schedule-save]').click();

  const row = p.locator(`[data-test=schedules] tr[data-name="${name}"]`);
  await row.waitFor();
  const api = (await call('GET', '/api/schedules')).data.find((s) => s.name === name);
  require('the schedule exists in the API', api, api);
  check('created as typed', api.cron === '0 6 * * mon-fri' && api.timezone === 'UTC' && api.enabled === true &&
    api.workflow_id === wf.id, api);
  check('listed as enabled with a next run', (await row.locator('[data-test=schedule-state]').textContent()) === 'enabled' &&
    (await row.locator('[data-test=next-run] time').count()) === 1);
  check('its next run is the first preview time', api.next_run_at === week[0], [api.next_run_at, week[0]]);

  await row.locator('[data-test=schedule-toggle]', { hasText: 'Disable' }).click();
  await p.locator(`[data-test=schedules] tr[data-name="${name}"][data-enabled=false]`).waitFor();
  let s = (await call('GET', '/api/schedules/' + api.id)).data;
  check('Disable: the API says disabled, no next run', s.enabled === false && s.next_run_at === null, s);
  await p.locator(`[data-test=schedules] tr[data-name="${name}"] [data-test=schedule-toggle]`, { hasText: 'Enable' }).click();
  await p.locator(`[data-test=schedules] tr[data-name="${name}"][data-enabled=true]`).waitFor();
  s = (await call('GET', '/api/schedules/' + api.id)).data;
  check('Enable: enabled again with its next run', s.enabled === true && s.next_run_at === week[0], s);
  // Edit: the dialog opens with the stored values; a new expression, a
  // new preview, saved.
  await p.locator(`[data-test=schedules] tr[data-name="${name}"] [data-test=schedule-edit]`).click();
  check('Edit opens with the stored expression', (await p.locator('[data-test=schedule-cron]').inputValue()) === '0 6 * * mon-fri');
  await p.locator('[data-test=schedule-cron]').fill('30 7 * * *');
  const daily = await waitFor(async () => {
    const t = await p.locator('[data-test=preview-time]').evaluateAll((els) => els.map((e) => e.title));
    return t.length === 5 && t.every((x) => x.endsWith('T07:30:00.000Z')) ? t : null;
  }, 10000);
  check('the edit preview: five days at 07:30 UTC', daily !== null, daily);
  await p.locator('[data-test=schedule-save]').click();
  s = await waitFor(async () => {
    const x = (await call('GET', '/api/schedules/' + api.id)).data;
    return x.cron === '30 7 * * *' ? x : null;
  }, 10000);
  check('Save: the API has the new expression and its next run', s && s.next_run_at === daily[0], s);
  await shot(p, 'schedules-02-list');

  await p.goto(URL + '/#/workflows/' + wf.id);
  await p.locator(`[data-test=workflow-schedules] tr[data-name="${name}"]`).waitFor();
  check('the workflow\'s page lists its schedule', true);
  check('admin: no dialogs, page errors or console errors (but the bad cron\'s 400)',
    problems(p, [/status of 400/]).length === 0, p.problems);

  const e = await page(b, 'employee');
  await e.goto(URL + '/#/schedules');
  await e.locator(`[data-test=schedules] tr[data-name="${name}"]`).waitFor();
  check('an employee sees the schedules', true);
  check('without New, Edit, Disable or Delete', (await e.locator('[data-test=new-schedule], [data-test=schedule-toggle], ' +
    '[data-test=schedule-edit], [data-test=schedule-delete]').count()) === 0);
  check('employee: no errors', problems(e).length === 0, e.problems);

  await call('DELETE', '/api/schedules/' + api.id);
});
