// Schedules (SPEC §16): the page listing every schedule with its next run,
// its last run and that run's status; an admin enables, disables, edits,
// creates and deletes them. The editor shows the next five fire times as
// the expression is typed (POST /api/schedules/preview), and the server's
// validation error beside the field it names. A workflow's page shows its
// own schedules through workflowSchedules().
import { del, get, post, put } from '../api.js';
import { debounce, h, replace, statusBadge, timeEl, toast } from '../dom.js';
import { actionDialog } from './trust.js';

const PREVIEW_COUNT = 5;

function localZone() {
  try { return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'; } catch (e) { return 'UTC'; }
}

function whenText(s) {
  if (s.cron) return s.cron;
  return 'once at ' + (s.at || '?');
}

function lastRun(s) {
  if (!s.last_run_at) return h('span', { class: 'muted' }, 'never');
  const st = s.last_execution_status || s.last_status;
  return h('span', null, timeEl(s.last_run_at), ' ',
    s.last_execution_id
      ? h('a', { href: '#/executions/' + encodeURIComponent(s.last_execution_id), 'data-test': 'last-status' }, statusBadge(st))
      : h('span', { 'data-test': 'last-status' }, statusBadge(s.last_status)));
}

function nextRun(s) {
  if (!s.enabled) return h('span', { class: 'muted' }, '—');
  return s.next_run_at ? timeEl(s.next_run_at) : h('span', { class: 'muted' }, 'none');
}

// The editor: one dialog for create and edit.
function editDialog(existing, onSaved) {
  const s = existing || {};
  const wfSelect = h('select', { id: 'sch-wf', class: 'input', 'data-test': 'schedule-workflow', required: true });
  const name = h('input', { id: 'sch-name', class: 'input', type: 'text', value: s.name || '', required: true,
    maxlength: 255, autofocus: true, autocomplete: 'off', 'data-test': 'schedule-name' });
  const kindCron = h('input', { type: 'radio', name: 'sch-kind', id: 'sch-kind-cron', value: 'cron', checked: !s.at });
  const kindAt = h('input', { type: 'radio', name: 'sch-kind', id: 'sch-kind-at', value: 'at', checked: !!s.at,
    'data-test': 'schedule-kind-at' });
  const cron = h('input', { id: 'sch-cron', class: 'input mono', type: 'text', value: s.cron || '0 3 * * *', maxlength: 256,
    autocomplete: 'off', spellcheck: 'false', 'data-test': 'schedule-cron' });
  const at = h('input', { id: 'sch-at', class: 'input mono', type: 'text', value: s.at ? s.at.replace('.000Z', 'Z') : '',
    placeholder: '2027-01-15T09:00:00Z', autocomplete: 'off', 'data-test': 'schedule-at' });
  const tz = h('input', { id: 'sch-tz', class: 'input mono', type: 'text', value: s.timezone || localZone(), maxlength: 64,
    autocomplete: 'off', spellcheck: 'false', 'data-test': 'schedule-timezone' });
  const overlap = h('select', { id: 'sch-overlap', class: 'input input-narrow', 'data-test': 'schedule-overlap' },
    ['skip', 'queue', 'allow'].map((v) => h('option', { value: v, selected: (s.overlap || 'skip') === v }, v)));
  const misfire = h('select', { id: 'sch-misfire', class: 'input input-narrow', 'data-test': 'schedule-misfire' },
    ['run_once', 'skip'].map((v) => h('option', { value: v, selected: (s.misfire || 'run_once') === v }, v)));
  const params = h('textarea', { id: 'sch-params', class: 'input mono', rows: 3, spellcheck: 'false',
    placeholder: '{"version": "1.2.3"}', 'data-test': 'schedule-params' });
  params.value = s.params ? JSON.stringify(s.params, null, 2) : '';
  const enabled = h('input', { id: 'sch-enabled', type: 'checkbox', checked: s.enabled !== false, 'data-test': 'schedule-enabled' });
  const preview = h('ol', { class: 'schedule-preview mono', 'data-test': 'schedule-preview', 'aria-live': 'polite' });
  const previewErr = h('p', { class: 'form-error', role: 'alert', 'data-test': 'schedule-preview-error', hidden: true });

  let seq = 0;
  const refresh = debounce(async () => {
    const mine = ++seq;
    const body = { timezone: tz.value.trim() || 'UTC', count: PREVIEW_COUNT };
    if (kindAt.checked) body.at = at.value.trim(); else body.cron = cron.value.trim();
    try {
      const r = await post('/api/schedules/preview', body);
      if (mine !== seq) return;
      previewErr.hidden = true;
      const times = Array.isArray(r.times) ? r.times : [];
      replace(preview, times.length === 0 ? h('li', { class: 'muted' }, 'never fires')
        : times.map((t) => h('li', { 'data-test': 'preview-time', title: t },
          new Date(t).toLocaleString(undefined, { timeZone: body.timezone, dateStyle: 'medium', timeStyle: 'short' }) +
          ' (' + body.timezone + ')', h('span', { class: 'muted small' }, ' ' + t.replace('.000Z', 'Z')))));
    } catch (e) {
      if (mine !== seq) return;
      replace(preview);
      previewErr.textContent = e.message;
      previewErr.hidden = false;
    }
  }, 250);
  const kindChanged = () => {
    cron.disabled = kindAt.checked;
    at.disabled = !kindAt.checked;
    refresh();
  };
  for (const el of [cron, at, tz]) el.addEventListener('input', refresh);
  kindCron.addEventListener('change', kindChanged);
  kindAt.addEventListener('change', kindChanged);

  get('/api/workflows').then((list) => {
    const wfs = Array.isArray(list) ? list : (list && list.workflows) || [];
    replace(wfSelect, wfs.map((w) => h('option', { value: w.id, selected: w.id === s.workflow_id }, w.name)));
  }).catch(() => replace(wfSelect, h('option', { value: s.workflow_id || '' }, s.workflow_name || 'workflows did not load')));

  const field = (id, label, input, hint) => h('div', { class: 'form-field' },
    h('label', { for: id }, label), input, hint ? h('p', { class: 'hint' }, hint) : null);
  actionDialog({
    title: existing ? 'Edit schedule' : 'New schedule',
    body: h('div', { class: 'form schedule-form' },
      field('sch-name', 'Name', name),
      field('sch-wf', 'Workflow', wfSelect),
      h('div', { class: 'form-row' }, kindCron, h('label', { for: 'sch-kind-cron' }, 'Repeat (cron)'),
        kindAt, h('label', { for: 'sch-kind-at' }, 'Once (at)')),
      field('sch-cron', 'Cron expression', cron,
        'minute hour day-of-month month day-of-week, e.g. "*/15 9-17 * * mon-fri", or @daily, @hourly, @weekly.'),
      field('sch-at', 'At', at, 'ISO-8601; without Z or an offset it is local time in the time zone.'),
      field('sch-tz', 'Time zone', tz, 'IANA name, e.g. Europe/Berlin or UTC.'),
      h('div', { class: 'form-field' }, h('span', { class: 'label' }, 'Next ' + PREVIEW_COUNT + ' fire times'), preview, previewErr),
      h('div', { class: 'form-row' },
        h('label', { for: 'sch-overlap' }, 'If still running'), overlap,
        h('label', { for: 'sch-misfire' }, 'If missed'), misfire),
      field('sch-params', 'Parameters (JSON object)', params),
      h('div', { class: 'form-row' }, enabled, h('label', { for: 'sch-enabled' }, 'Enabled'))),
    confirm: existing ? 'Save' : 'Create schedule', test: 'schedule-save',
    act: async () => {
      const body = {
        name: name.value.trim(), workflow_id: wfSelect.value, timezone: tz.value.trim() || 'UTC',
        overlap: overlap.value, misfire: misfire.value, enabled: enabled.checked,
        cron: kindAt.checked ? null : cron.value.trim(), at: kindAt.checked ? at.value.trim() : null,
      };
      const p = params.value.trim();
      if (p) {
        try { body.params = JSON.parse(p); } catch (e) { throw new Error('params: not JSON: ' + e.message); }
      } else {
        body.params = null;
      }
      if (!existing) {
        if (body.cron === null) delete body.cron;
        if (body.at === null) delete body.at;
      }
      const saved = existing ? await put('/api/schedules/' + encodeURIComponent(existing.id), body)
        : await post('/api/schedules', body);
      toast((existing ? 'Saved ' : 'Created ') + saved.name, 'ok');
      onSaved();
    },
  });
  kindChanged();
}

function deleteDialog(s, onDone) {
  actionDialog({
    title: 'Delete schedule',
    body: h('p', { class: 'modal-text' }, 'Delete the schedule ' + s.name + '? Its executions stay.'),
    confirm: 'Delete schedule', danger: true, test: 'schedule-delete-confirm',
    act: async () => {
      await del('/api/schedules/' + encodeURIComponent(s.id));
      toast('Deleted ' + s.name, 'ok');
      onDone();
    },
  });
}

async function setEnabled(s, on, reload) {
  try {
    await put('/api/schedules/' + encodeURIComponent(s.id), { enabled: on });
    toast((on ? 'Enabled ' : 'Disabled ') + s.name, 'ok');
  } catch (e) {
    toast(e.message, 'error');
  }
  reload();
}

function scheduleRows(list, admin, reload, withWorkflow) {
  return list.map((s) => h('tr', { 'data-schedule': s.id, 'data-name': s.name, 'data-enabled': String(!!s.enabled) },
    h('td', { 'data-label': 'Name' }, h('strong', null, s.name),
      s.disabled_reason ? h('div', { class: 'muted small', 'data-test': 'disabled-reason' }, s.disabled_reason) : null),
    withWorkflow ? h('td', { 'data-label': 'Workflow' }, s.workflow_name
      ? h('a', { href: '#/workflows/' + encodeURIComponent(s.workflow_id) }, s.workflow_name)
      : h('span', { class: 'muted' }, 'deleted')) : null,
    h('td', { 'data-label': 'When', class: 'mono' }, whenText(s), h('div', { class: 'muted small' }, s.timezone)),
    h('td', { 'data-label': 'Next run', 'data-test': 'next-run' }, nextRun(s)),
    h('td', { 'data-label': 'Last run' }, lastRun(s)),
    h('td', { 'data-label': 'State' }, h('span', { class: ['badge', s.enabled ? 'schedule-on' : 'schedule-off'],
      'data-test': 'schedule-state' }, s.enabled ? 'enabled' : 'disabled')),
    admin ? h('td', { class: 'actions' },
      h('button', { type: 'button', class: 'btn btn-small', 'data-test': 'schedule-toggle',
        onclick: () => setEnabled(s, !s.enabled, reload) }, s.enabled ? 'Disable' : 'Enable'),
      h('button', { type: 'button', class: 'btn btn-small', 'data-test': 'schedule-edit',
        onclick: () => editDialog(s, reload) }, 'Edit'),
      h('button', { type: 'button', class: 'btn btn-small btn-danger-ghost', 'data-test': 'schedule-delete',
        onclick: () => deleteDialog(s, reload) }, 'Delete')) : null));
}

function scheduleTable(body, admin, withWorkflow) {
  return h('div', { class: 'table-wrap' }, h('table', { class: 'table schedules-table' },
    h('thead', null, h('tr', null, h('th', null, 'Name'), withWorkflow ? h('th', null, 'Workflow') : null,
      h('th', null, 'When'), h('th', null, 'Next run'), h('th', null, 'Last run'), h('th', null, 'State'),
      admin ? h('th', null, h('span', { class: 'sr-only' }, 'Actions')) : null)),
    body));
}

// A loader for a table body: the list from path, rows, an empty line.
function loader(path, body, err, admin, withWorkflow, empty) {
  const load = async () => {
    let list;
    try {
      list = await get(path);
      err.hidden = true;
    } catch (e) {
      err.textContent = 'Could not load the schedules: ' + e.message;
      err.hidden = false;
      return;
    }
    list = Array.isArray(list) ? list : [];
    const rows = scheduleRows(list, admin, load, withWorkflow);
    replace(body, rows.length ? rows : h('tr', null, h('td', { class: 'empty', colspan: 7 }, empty)));
  };
  return load;
}

export function schedulesView(ctx, main) {
  const admin = !!ctx.user.is_admin;
  document.title = 'Schedules · PULSE';
  const body = h('tbody');
  const err = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const load = loader('/api/schedules', body, err, admin, true, 'No schedules yet.');
  replace(main, h('section', { class: 'schedules', 'data-test': 'schedules' },
    h('div', { class: 'page-head' }, h('h1', null, 'Schedules'),
      admin ? h('button', { type: 'button', class: 'btn btn-primary', 'data-test': 'new-schedule',
        onclick: () => editDialog(null, load) }, 'New schedule') : null),
    h('p', { class: 'hint' }, 'Workflows started by the clock. Each fire time starts at most one execution, ' +
      'by schedule:NAME; a fire that starts nothing is recorded with the reason.'),
    err, scheduleTable(body, admin, true)));
  load();
  const reload = debounce(load, 500);
  const off = ctx.live.on('execution_started', reload);
  const timer = setInterval(load, 30000);	// next runs move on with no event
  return () => { reload.cancel(); off(); clearInterval(timer); };
}

// The schedules of one workflow, for its page.
export function workflowSchedules(ctx, wf) {
  const admin = !!ctx.user.is_admin;
  const body = h('tbody');
  const err = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const load = loader('/api/schedules?workflow_id=' + encodeURIComponent(wf.id), body, err, admin, false,
    'No schedule starts this workflow.');
  load();
  return h('section', { class: 'workflow-schedules', 'data-test': 'workflow-schedules' },
    h('h2', { class: 'section-title' }, 'Schedules ', h('a', { class: 'small', href: '#/schedules' }, 'all schedules')),
    err, scheduleTable(body, admin, false));
}
