// Workflows: the list with search, one definition as readable steps, and the
// admin's JSON editor, which shows the server's validation error next to the
// step and field it names.
import { ApiError, del, get, post, put } from '../api.js';
import { h, replace, timeEl, fmtDuration, toast, debounce } from '../dom.js';
import { confirmModal } from '../modal.js';
import { diffLines } from '../diff.js';
import { executionsTable } from './executions.js';
import { blockedNote, startBlocked, startWorkflow } from './start-form.js';
import { approvalNote } from './approval.js';
import { triggersSection } from './triggers.js';
import { workflowSchedules } from './schedules.js';

const TYPE_ICONS = { execute: '▶', prompt: '?', wait: '⏱' };

const TEMPLATES = {
  execute: { name: 'Run a command', type: 'execute', targets: ['all'], command: 'uptime' },
  prompt: { name: 'Ask', type: 'prompt', message: 'Continue?', options: ['Yes', 'No'] },
  wait: { name: 'Wait', type: 'wait', duration: 5000 },
};

// A workflow with parameters opens the Start form (start-form.js).
export function startExecution(wf, btn) {
  return startWorkflow(wf, btn);
}

async function deleteWorkflow(wf, after) {
  const ok = await confirmModal({
    title: 'Delete workflow',
    message: h('span', null, 'Delete ', h('strong', null, wf.name), '? Its executions and their logs are deleted with it. This cannot be undone.'),
    confirm: 'Delete workflow',
    danger: true,
  });
  if (!ok) return;
  try {
    await del('/api/workflows/' + encodeURIComponent(wf.id));
    toast('Deleted ' + wf.name, 'ok');
    after();
  } catch (err) {
    toast('Could not delete: ' + err.message, 'error');
  }
}

function stepsOf(wf) {
  const d = wf && wf.definition;
  return d && Array.isArray(d.steps) ? d.steps : [];
}

function field(label, value, err) {
  return h('div', { class: ['def-field', err && 'def-field-error'], 'data-field': label }, h('span', { class: 'def-key' }, label), value,
    err ? h('span', { class: 'field-error', 'data-test': 'field-error' }, err) : null);
}

// Readable steps; errors: {step, field, message} to show next to a step.
export function stepsView(steps, error) {
  if (!Array.isArray(steps) || steps.length === 0) return h('p', { class: 'muted' }, 'No steps.');
  return h('ol', { class: 'def-steps' }, steps.map((st, i) => {
    const err = error && error.step === i ? error : null;
    const fe = (name) => (err && err.field === name ? err.message : null);
    const shown = new Set(['name', 'type', 'condition', 'targets', 'command', 'timeout', 'message', 'options', 'duration', 'steps']);
    const t = st && typeof st === 'object' ? st : {};
    const rows = [];
    if (t.condition !== undefined || fe('condition')) rows.push(field('only if', h('code', null, String(t.condition ?? '')), fe('condition')));
    if (t.type === 'execute' || t.targets !== undefined || t.command !== undefined) {
      rows.push(field('on', Array.isArray(t.targets) ? t.targets.map((x) => h('span', { class: 'chip' }, String(x)))
        : h('code', null, JSON.stringify(t.targets ?? null)), fe('targets')));
      rows.push(field('run', h('pre', { class: 'def-command' }, String(t.command ?? '')), fe('command')));
      if (t.timeout !== undefined || fe('timeout')) rows.push(field('timeout', fmtDuration(Number(t.timeout)), fe('timeout')));
    }
    if (t.type === 'prompt' || t.message !== undefined) {
      rows.push(field('asks', h('q', null, String(t.message ?? '')), fe('message')));
      rows.push(field('options', Array.isArray(t.options) ? t.options.map((x) => h('span', { class: 'chip' }, String(x)))
        : h('code', null, JSON.stringify(t.options ?? null)), fe('options')));
    }
    if (t.type === 'wait' || t.duration !== undefined) rows.push(field('waits', fmtDuration(Number(t.duration)), fe('duration')));
    // A parallel group: its steps, at once; an error in one ("steps[1].x") is shown on it.
    if (t.steps !== undefined) {
      const m = err && /^steps\[(\d+)\]\.(.*)$/.exec(err.field || '');
      rows.push(field('at once', Array.isArray(t.steps)
        ? stepsView(t.steps, m ? { step: Number(m[1]), field: m[2], message: err.message } : null)
        : h('code', null, JSON.stringify(t.steps)), m ? null : fe('steps')));
    }
    for (const k of Object.keys(t)) {
      if (!shown.has(k)) rows.push(field(k, h('code', null, JSON.stringify(t[k])), fe(k)));
    }
    if (err && err.field && !rows.some((r) => r.classList.contains('def-field-error')) && err.field !== 'name' && err.field !== 'type') {
      rows.push(field(err.field, h('span', { class: 'muted' }, '(missing)'), err.message));
    }
    return h('li', { class: ['def-step', err && 'def-step-error'], 'data-step': i },
      h('div', { class: 'def-step-head' },
        h('span', { class: 'def-num' }, String(i + 1)),
        h('span', { class: 'tag', title: String(t.type || '') }, (TYPE_ICONS[t.type] || '•') + ' ' + String(t.type || 'untyped')),
        h('span', { class: 'def-name' }, String(t.name ?? '(no name)'))),
      err && (err.field === 'name' || err.field === 'type' || !err.field)
        ? h('p', { class: 'field-error', 'data-test': 'field-error' }, (err.field ? err.field + ': ' : '') + err.message) : null,
      rows);
  }));
}

// The workflow's on_failure steps (SPEC section 14), under their own title;
// an error on one ("on_failure[1].command") is shown on it.
export function onFailureView(def, error) {
  const list = def && def.on_failure;
  if (list === undefined) return null;
  const m = error && /^on_failure\[(\d+)\]\.(.*)$/.exec(error.field || '');
  return h('section', { class: 'def-on-failure', 'data-test': 'def-on-failure' },
    h('h3', { class: 'section-title' }, 'On failure'),
    h('p', { class: 'muted small' }, 'Run when a step fails; the execution then ends failed.'),
    Array.isArray(list) ? stepsView(list, m ? { step: Number(m[1]), field: m[2], message: error.message } : null)
      : h('p', { class: 'field-error' }, error && error.field === 'on_failure' ? error.message : 'on_failure: must be an array of steps'));
}

function summary(wf) {
  const st = stepsOf(wf);
  const types = [...new Set(st.map((x) => x.type))].join(', ');
  return `${st.length} step${st.length === 1 ? '' : 's'}${types ? ' · ' + types : ''}`;
}

// ------------------------------------------------------------------ list

export function workflowsView(ctx, main) {
  const admin = !!ctx.user.is_admin;
  let list = [];
  const search = h('input', { class: 'input search', type: 'search', placeholder: 'Search workflows and steps', 'aria-label': 'Search workflows',
    'data-test': 'search' });
  const grid = h('div', { class: 'cards', 'data-test': 'workflows' });
  replace(main,
    h('div', { class: 'page-head' }, h('h1', null, 'Workflows'), search,
      admin ? h('a', { class: 'btn btn-primary', href: '#/workflows/new', 'data-test': 'new-workflow' }, 'New workflow') : null),
    grid);

  const render = () => {
    const q = search.value.trim().toLowerCase();
    const match = (wf) => !q || [wf.name, wf.description, ...stepsOf(wf).map((x) => x.name + ' ' + (x.command || ''))]
      .some((x) => String(x || '').toLowerCase().includes(q));
    const shown = list.filter(match).sort((a, b) => String(a.name).localeCompare(String(b.name)));
    if (shown.length === 0) {
      replace(grid, h('p', { class: 'empty-card' }, list.length ? 'No workflow matches “' + search.value + '”.'
        : admin ? 'No workflows yet. Create the first one.' : 'No workflows yet. An administrator creates them.'));
      return;
    }
    replace(grid, shown.map((wf) => {
      const startBtn = h('button', { type: 'button', class: 'btn btn-primary btn-small', 'data-test': 'start' }, 'Start');
      startBtn.addEventListener('click', () => startExecution(wf, startBtn));
      return h('article', { class: 'card', 'data-workflow': wf.name },
        h('h2', { class: 'card-title' }, h('a', { href: '#/workflows/' + encodeURIComponent(wf.id) }, wf.name)),
        wf.description ? h('p', { class: 'card-text' }, wf.description) : null,
        h('p', { class: 'muted small' }, summary(wf), ' · updated ', timeEl(wf.updated_at || wf.created_at),
          wf.created_by ? ' · by ' + wf.created_by : ''),
        h('div', { class: 'card-actions' },
          ctx.user.can_run !== false ? (startBlocked(wf) ? blockedNote(wf) : startBtn) : null,
          h('a', { class: 'btn btn-small', href: '#/workflows/' + encodeURIComponent(wf.id) }, 'View'),
          admin ? h('a', { class: 'btn btn-small', href: '#/workflows/' + encodeURIComponent(wf.id) + '/edit', 'data-test': 'edit' }, 'Edit') : null,
          admin ? h('button', { type: 'button', class: 'btn btn-small btn-danger-ghost', 'data-test': 'delete',
            onclick: () => deleteWorkflow(wf, load) }, 'Delete') : null));
    }));
  };
  const load = async () => {
    try {
      list = await get('/api/workflows');
      render();
    } catch (e) {
      replace(grid, h('p', { class: 'form-error' }, 'Could not load workflows: ' + e.message));
    }
  };
  const reload = debounce(load, 200);
  search.addEventListener('input', render);
  const offs = ['workflow_created', 'workflow_updated', 'workflow_deleted', 'resync'].map((t) => ctx.live.on(t, reload));
  load();
  return () => { reload.cancel(); offs.forEach((f) => f()); };
}

// ------------------------------------------------------------------ history

// A version as the text the diff compares: pretty-printed JSON of what a
// save stores (name, description, definition).
function versionText(v) {
  return JSON.stringify({ name: v.name, description: v.description ?? null, definition: v.definition }, null, 2);
}

function diffView(older, newer) {
  const lines = diffLines(older === null ? '' : versionText(older), versionText(newer));
  if (lines === null) return h('p', { class: 'muted' }, 'The versions differ in too many lines to compare here.');
  const added = lines.filter((l) => l.op === '+').length;
  const removed = lines.filter((l) => l.op === '-').length;
  const cls = { ' ': 'diff-same', '-': 'diff-del', '+': 'diff-add' };
  return h('div', { class: 'diff-wrap' },
    h('p', { class: 'muted small', 'data-test': 'diff-summary' },
      older === null ? `Version ${newer.version}: the first version.` : `Version ${older.version} → ${newer.version}: `,
      h('span', { class: 'diff-add-text' }, '+' + added), ' ', h('span', { class: 'diff-del-text' }, '−' + removed)),
    h('pre', { class: 'diff', 'data-test': 'diff' }, lines.map((l) =>
      h('div', { class: ['diff-line', cls[l.op]], 'data-op': l.op },
        h('span', { class: 'diff-num', 'aria-hidden': 'true' }, l.a ? String(l.a) : ''),
        h('span', { class: 'diff-num', 'aria-hidden': 'true' }, l.b ? String(l.b) : ''),
        h('span', { class: 'diff-op' }, l.op), l.text))));
}

// The versions of a workflow, newest first; choosing one shows what it
// changed against the version before it.
function historyView(id, selected) {
  const list = h('ol', { class: 'versions', 'data-test': 'versions' });
  const shown = h('div', { class: 'version-diff' }, h('p', { class: 'loading' }, 'Loading…'));
  const cache = new Map();
  const fetchVersion = (n) => {
    if (!cache.has(n)) cache.set(n, get(`/api/workflows/${encodeURIComponent(id)}/versions/${n}`));
    return cache.get(n);
  };
  const choose = async (n) => {
    for (const li of list.children) li.setAttribute('aria-current', li.dataset.version === String(n) ? 'true' : 'false');
    replace(shown, h('p', { class: 'loading' }, 'Loading…'));
    try {
      const [newer, older] = await Promise.all([fetchVersion(n), n > 1 ? fetchVersion(n - 1).catch(() => null) : null]);
      replace(shown, diffView(older, newer));
    } catch (e) {
      replace(shown, h('p', { class: 'form-error' }, 'Could not load version ' + n + ': ' + e.message));
    }
  };
  get(`/api/workflows/${encodeURIComponent(id)}/versions`).then((vs) => {
    replace(list, vs.map((v) => h('li', { 'data-version': String(v.version) },
      h('button', { type: 'button', class: 'btn btn-small version-btn', 'data-test': 'version', onclick: () => choose(v.version) },
        'Version ' + v.version),
      ' ', h('span', { class: 'muted small' }, 'by ', v.created_by || '—', ' ', timeEl(v.created_at)))));
    const want = vs.some((v) => v.version === selected) ? selected : vs.length ? vs[0].version : null;
    if (want !== null) choose(want);
    else replace(shown, h('p', { class: 'muted' }, 'No versions.'));
  }).catch((e) => replace(shown, h('p', { class: 'form-error' }, 'Could not load the history: ' + e.message)));
  return h('div', { class: 'history' }, list, shown);
}

// ------------------------------------------------------------------ one

export function workflowView(ctx, main, id, versionArg) {
  const admin = !!ctx.user.is_admin;
  const body = h('div', null, h('p', { class: 'loading' }, 'Loading…'));
  replace(main, h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/workflows' }, 'Workflows')), body);
  const load = async () => {
    let wf;
    try {
      wf = await get('/api/workflows/' + encodeURIComponent(id));
    } catch (e) {
      replace(body, h('section', { class: 'empty-page' }, h('h1', null, e.status === 404 ? 'Workflow not found' : 'Could not load the workflow'),
        h('p', null, e.message)));
      return;
    }
    document.title = wf.name + ' · PULSE';
    const startBtn = h('button', { type: 'button', class: 'btn btn-primary', 'data-test': 'start' }, 'Start');
    startBtn.addEventListener('click', () => startExecution(wf, startBtn));
    const recent = h('div', { class: 'table-wrap' });
    const stepsPanel = h('div', { role: 'tabpanel', id: 'wf-panel-steps', 'aria-labelledby': 'wf-tab-steps' },
      stepsView(stepsOf(wf)),
      onFailureView(wf.definition),
      workflowSchedules(ctx, wf),
      h('h2', { class: 'section-title' }, 'Recent executions'),
      recent,
      triggersSection(ctx, wf));
    const historyPanel = h('div', { role: 'tabpanel', id: 'wf-panel-history', 'aria-labelledby': 'wf-tab-history', hidden: true });
    const tab = (key, label, panel) => h('button', { type: 'button', role: 'tab', class: 'tab', id: 'wf-tab-' + key,
      'aria-controls': panel.id, 'data-test': 'tab-' + key }, label);
    const tabSteps = tab('steps', 'Steps', stepsPanel);
    const tabHistory = tab('history', 'History (version ' + (wf.version || 1) + ')', historyPanel);
    const select = (which) => {
      const hist = which === 'history';
      tabSteps.setAttribute('aria-selected', String(!hist));
      tabHistory.setAttribute('aria-selected', String(hist));
      stepsPanel.hidden = hist;
      historyPanel.hidden = !hist;
      if (hist) replace(historyPanel, historyView(wf.id, versionArg ? Number(versionArg) : null));
    };
    tabSteps.addEventListener('click', () => select('steps'));
    tabHistory.addEventListener('click', () => select('history'));
    select(versionArg ? 'history' : 'steps');
    replace(body,
      h('div', { class: 'page-head' }, h('h1', null, wf.name),
        h('div', { class: 'head-actions' },
          ctx.user.can_run !== false ? (startBlocked(wf) ? blockedNote(wf) : startBtn) : null,
          admin ? h('a', { class: 'btn', href: '#/workflows/' + encodeURIComponent(wf.id) + '/edit', 'data-test': 'edit' }, 'Edit') : null,
          admin ? h('button', { type: 'button', class: 'btn btn-danger-ghost', 'data-test': 'delete',
            onclick: () => deleteWorkflow(wf, () => { location.hash = '#/workflows'; }) }, 'Delete') : null)),
      wf.description ? h('p', { class: 'lead' }, wf.description) : null,
      approvalNote(wf.definition),
      h('p', { class: 'muted small' }, summary(wf), wf.created_by ? ' · created by ' + wf.created_by : '',
        ' · updated ', timeEl(wf.updated_at || wf.created_at), ' · version ' + (wf.version || 1)),
      h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Workflow' }, tabSteps, tabHistory),
      stepsPanel, historyPanel);
    try {
      const ex = (await get('/api/executions?limit=200')).filter((e) => e.workflow_id === wf.id).slice(0, 10);
      replace(recent, executionsTable(ex, 'This workflow has not run yet.'));
    } catch (e) {
      replace(recent, h('p', { class: 'muted' }, 'Could not load executions.'));
    }
  };
  const reload = debounce(load, 200);
  const offs = [
    ctx.live.on('workflow_updated', (m) => { if (m.workflow_id === id) reload(); }),
    ctx.live.on('execution_started', (m) => { if (m.workflow_id === id) reload(); }),
    ctx.live.on('workflow_deleted', (m) => { if (m.workflow_id === id) location.hash = '#/workflows'; }),
  ];
  load();
  return () => { reload.cancel(); offs.forEach((f) => f()); };
}

// ------------------------------------------------------------------ editor

function jsonErrorAt(text, err) {
  const m = /position (\d+)/.exec(err.message);
  if (!m) return err.message;
  const pos = Number(m[1]);
  const before = text.slice(0, pos).split('\n');
  return `${err.message.replace(/ in JSON at position \d+.*$/, '')} (line ${before.length}, column ${before[before.length - 1].length + 1})`;
}

// Where in the text is step i's field? Returns [start, end] or null.
function locate(text, steps, i, fieldName) {
  const st = steps && steps[i];
  if (!st || typeof st.name !== 'string') return null;
  const token = JSON.stringify(st.name);
  let at = -1;
  let n = 0;
  for (let j = 0; j <= i; j++) if (steps[j] && steps[j].name === st.name) n++;
  for (let k = 0; k < n; k++) {
    at = text.indexOf(token, at + 1);
    if (at < 0) return null;
  }
  const objStart = text.lastIndexOf('{', at);
  if (fieldName) {
    const f = text.indexOf(JSON.stringify(fieldName), objStart);
    if (f >= 0) {
      const end = text.indexOf('\n', f);
      return [f, end < 0 ? text.length : end];
    }
  }
  return [at, at + token.length];
}

export function workflowEditView(ctx, main, id) {
  if (!ctx.user.is_admin) {
    replace(main, h('section', { class: 'empty-page' }, h('h1', null, 'Admins only'),
      h('p', null, 'Only administrators create and edit workflows.'), h('a', { href: '#/workflows' }, 'Back to the workflows')));
    return null;
  }
  const isNew = !id;
  const name = h('input', { id: 'wf-name', class: 'input', required: true, maxlength: 255, autocomplete: 'off', 'data-test': 'wf-name' });
  const nameErr = h('p', { class: 'field-error', hidden: true });
  const desc = h('input', { id: 'wf-desc', class: 'input', autocomplete: 'off', 'data-test': 'wf-description' });
  const text = h('textarea', { id: 'wf-def', class: 'input mono editor', rows: 22, spellcheck: 'false', autocapitalize: 'off',
    'aria-describedby': 'wf-def-hint', 'data-test': 'wf-definition' });
  const banner = h('div', { class: 'form-error banner', role: 'alert', hidden: true, 'data-test': 'save-error' });
  const preview = h('div', { class: 'preview', 'data-test': 'preview' });
  const save = h('button', { type: 'submit', class: 'btn btn-primary', 'data-test': 'save' }, isNew ? 'Create workflow' : 'Save changes');
  let serverError = null;  // {step, field, message} from the last 400
  let escaped = false;

  const parse = () => {
    try {
      const v = JSON.parse(text.value);
      return { value: v && Array.isArray(v) ? { steps: v } : v };
    } catch (e) {
      return { error: jsonErrorAt(text.value, e) };
    }
  };
  const renderPreview = () => {
    const p = parse();
    if (p.error) {
      replace(preview, h('p', { class: 'field-error' }, 'Not valid JSON: ' + p.error));
      return;
    }
    const onf = serverError && /^on_failure\[/.test(serverError.field || '');
    replace(preview, stepsView(p.value && p.value.steps, onf ? null : serverError),
      onFailureView(p.value, onf ? serverError : null));
  };
  const later = debounce(renderPreview, 250);
  text.addEventListener('input', () => { later(); });
  text.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape') { escaped = true; return; }
    if ((ev.key === 's' || ev.key === 'Enter') && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); form.requestSubmit(); return; }
    if (ev.key === 'Tab' && !escaped && !ev.shiftKey) {
      ev.preventDefault();
      const a = text.selectionStart;
      text.setRangeText('  ', a, text.selectionEnd, 'end');
      later();
    }
    escaped = false;
  });

  const format = () => {
    const p = parse();
    if (p.error) { toast('Not valid JSON: ' + p.error, 'error'); return; }
    text.value = JSON.stringify(p.value, null, 2);
    renderPreview();
  };
  const addStep = (kind) => {
    const p = parse();
    if (p.error) { toast('Fix the JSON first: ' + p.error, 'error'); return; }
    const v = p.value && typeof p.value === 'object' ? p.value : { steps: [] };
    if (!Array.isArray(v.steps)) v.steps = [];
    v.steps.push({ ...TEMPLATES[kind] });
    text.value = JSON.stringify(v, null, 2);
    renderPreview();
    text.focus();
  };

  const showError = (err) => {
    const b = err.body || {};
    const step = typeof b.step === 'number' ? b.step : null;
    serverError = step !== null ? { step, field: b.field || null, message: b.error || err.message } : null;
    const steps = (parse().value || {}).steps;
    const stepName = step !== null && steps && steps[step] ? ' “' + steps[step].name + '”' : '';
    banner.textContent = (step !== null ? `Step ${step + 1}${stepName}` + (b.field ? `, field ${b.field}` : '') + ': ' : (b.field ? b.field + ': ' : ''))
      + (b.error || err.message);
    banner.hidden = false;
    if (step === null && b.field === 'name') { nameErr.textContent = b.error; nameErr.hidden = false; name.focus(); }
    renderPreview();
    if (step !== null) {
      const r = locate(text.value, steps, step, b.field);
      if (r) { text.focus(); text.setSelectionRange(r[0], r[1]); }
      const li = preview.querySelector(`[data-step="${step}"]`);
      if (li) li.scrollIntoView({ block: 'nearest' });
    }
  };

  const form = h('form', { class: 'editor-form', novalidate: true, onsubmit: async (ev) => {
    ev.preventDefault();
    banner.hidden = true;
    nameErr.hidden = true;
    serverError = null;
    const p = parse();
    if (p.error) {
      banner.textContent = 'The definition is not valid JSON: ' + p.error;
      banner.hidden = false;
      renderPreview();
      return;
    }
    if (!name.value.trim()) { nameErr.textContent = 'A name is required.'; nameErr.hidden = false; name.focus(); return; }
    const body = { name: name.value.trim(), description: desc.value, definition: p.value };
    save.disabled = true;
    try {
      const wf = isNew ? await post('/api/workflows', body) : await put('/api/workflows/' + encodeURIComponent(id), body);
      toast((isNew ? 'Created ' : 'Saved ') + wf.name, 'ok');
      location.hash = '#/workflows/' + encodeURIComponent(wf.id || id);
    } catch (err) {
      if (err instanceof ApiError && err.status === 400) showError(err);
      else { banner.textContent = 'Could not save: ' + err.message; banner.hidden = false; }
    } finally {
      save.disabled = false;
    }
  } },
  h('div', { class: 'form-grid' },
    h('div', { class: 'form-field' }, h('label', { for: 'wf-name' }, 'Name'), name, nameErr),
    h('div', { class: 'form-field' }, h('label', { for: 'wf-desc' }, 'Description'), desc)),
  banner,
  h('div', { class: 'editor-split' },
    h('div', { class: 'form-field' },
      h('div', { class: 'editor-bar' }, h('label', { for: 'wf-def' }, 'Definition (JSON)'),
        h('span', { class: 'editor-tools' },
          h('button', { type: 'button', class: 'btn btn-small', onclick: () => addStep('execute') }, '+ execute'),
          h('button', { type: 'button', class: 'btn btn-small', onclick: () => addStep('prompt') }, '+ prompt'),
          h('button', { type: 'button', class: 'btn btn-small', onclick: () => addStep('wait') }, '+ wait'),
          h('button', { type: 'button', class: 'btn btn-small', onclick: format }, 'Format'))),
      text,
      h('p', { id: 'wf-def-hint', class: 'hint' }, 'Tab indents; Esc then Tab leaves the editor; Ctrl+S saves.')),
    h('div', { class: 'form-field' }, h('div', { class: 'editor-bar' }, h('span', { class: 'label' }, 'Preview')), preview)),
  h('div', { class: 'form-actions' }, save,
    h('a', { class: 'btn', href: isNew ? '#/workflows' : '#/workflows/' + encodeURIComponent(id) }, 'Cancel')));

  replace(main,
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/workflows' }, 'Workflows'), ' / ', isNew ? 'New' : 'Edit'),
    h('h1', null, isNew ? 'New workflow' : 'Edit workflow'),
    form);

  if (isNew) {
    text.value = JSON.stringify({ steps: [TEMPLATES.execute] }, null, 2);
    renderPreview();
    name.focus();
  } else {
    get('/api/workflows/' + encodeURIComponent(id)).then((wf) => {
      name.value = wf.name || '';
      desc.value = wf.description || '';
      text.value = JSON.stringify(wf.definition || { steps: [] }, null, 2);
      renderPreview();
      name.focus();
    }).catch((e) => { banner.textContent = 'Could not load the workflow: ' + e.message; banner.hidden = false; });
  }
  return () => later.cancel();
}
