// Compare two executions (SPEC section 17): the "Compare with…" control on
// an execution's page, and the page #/executions/A/compare/B that shows
// GET /api/executions/A/diff/B: per step and worker the status and exit
// code changes and the line diff of each output, unchanged workers folded
// into a count. Output is text: every line goes in through h() as a text
// node, never as markup.
import { ApiError, get } from '../api.js';
import { h, replace, statusBadge, timeEl, relTime } from '../dom.js';

const ID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const PAGE = 200;

export function comparePath(a, b) {
  return '#/executions/' + encodeURIComponent(a) + '/compare/' + encodeURIComponent(b);
}

// The executions of the same workflow among the newest PAGE, newest first,
// without `exec` itself; and the one started just before it (the default).
async function siblings(exec) {
  const list = await get('/api/executions?limit=' + PAGE);
  const same = list.filter((x) => x.id !== exec.id && x.workflow_id && x.workflow_id === exec.workflow_id);
  const before = same.find((x) => (x.started_at || '') < (exec.started_at || '')) || same[0] || null;
  return { same, before };
}

// The control: a button that opens a small form (a list of the same
// workflow's executions, or any id), then goes to the compare page.
export function compareControl(view) {
  const box = h('span', { class: 'compare-control' });
  const btn = h('button', { type: 'button', class: 'btn', 'data-test': 'compare-open' }, 'Compare with…');
  box.append(btn);
  btn.addEventListener('click', async () => {
    btn.disabled = true;
    let exec = view.exec;
    let sib = { same: [], before: null };
    try {
      if (!exec) exec = await get('/api/executions/' + encodeURIComponent(view.id));
      sib = await siblings(exec);
    } catch (e) { /* the id field still works */ }
    btn.disabled = false;
    if (!exec) exec = { id: view.id };
    const select = h('select', { 'data-test': 'compare-select', 'aria-label': 'Execution to compare with' },
      h('option', { value: '' }, sib.same.length ? '— an execution of this workflow —' : '(no other execution of this workflow)'),
      sib.same.map((x) => h('option', { value: x.id, selected: sib.before && x.id === sib.before.id },
        x.id.slice(0, 8) + ' · ' + x.status + ' · ' + relTime(x.started_at))));
    if (sib.before) select.value = sib.before.id;
    const idInput = h('input', { type: 'text', class: 'mono', placeholder: 'or any execution id', size: 38,
      'data-test': 'compare-id', 'aria-label': 'Execution id to compare with' });
    const err = h('span', { class: 'field-error', 'data-test': 'compare-error' });
    const go = h('button', { type: 'submit', class: 'btn btn-primary', 'data-test': 'compare-go' }, 'Compare');
    const form = h('form', { class: 'compare-form', 'data-test': 'compare-form' }, select, idInput, go,
      h('button', { type: 'button', class: 'btn', onclick: () => { form.remove(); btn.hidden = false; } }, 'Close'), err);
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const other = idInput.value.trim() || select.value;
      if (!ID_RE.test(other)) { err.textContent = 'Pick an execution or paste its id.'; return; }
      // The other one is "a", this one "b": '+' lines are what this run
      // printed and the other did not.
      location.hash = comparePath(other, exec.id);
    });
    btn.hidden = true;
    box.append(form);
    (sib.before ? go : idInput).focus();
  });
  return box;
}

function side(label, x) {
  return h('div', { class: 'cmp-side', 'data-test': 'cmp-' + label },
    h('span', { class: 'cmp-label' }, label.toUpperCase()),
    h('a', { href: '#/executions/' + encodeURIComponent(x.id), class: 'mono' }, x.id.slice(0, 8)),
    ' ', x.workflow_name || 'direct command',
    x.workflow_version ? ' v' + x.workflow_version : '', ' ', statusBadge(x.status), ' ', timeEl(x.started_at));
}

function stateText(s) {
  if (!s) return 'did not run';
  return s.status + (s.exit_code === null || s.exit_code === undefined ? '' : ', exit ' + s.exit_code);
}

// One stream's hunks, numbered like unified diff (a and b line numbers).
function streamView(name, st) {
  if (st.same) return null;
  const head = h('div', { class: 'cmp-stream-head' }, name, st.truncated ? ' (cut at the stored limit)' : '');
  if (st.too_large) {
    return h('div', { class: 'cmp-stream', 'data-test': 'cmp-' + name },
      head, h('p', { class: 'cmp-too-large', 'data-test': 'too-large' }, 'Too large to diff: ' + (st.reason || '')));
  }
  const cls = { ' ': 'diff-same', '-': 'diff-del', '+': 'diff-add' };
  const rows = [];
  for (const hk of st.hunks) {
    rows.push(h('div', { class: 'diff-hunk' },
      '@@ -' + hk.a_start + ',' + hk.a_lines + ' +' + hk.b_start + ',' + hk.b_lines + ' @@'));
    let a = hk.a_lines ? hk.a_start : hk.a_start + 1;
    let b = hk.b_lines ? hk.b_start : hk.b_start + 1;
    for (const l of hk.lines) {
      const an = l.op === '+' ? '' : String(a++);
      const bn = l.op === '-' ? '' : String(b++);
      rows.push(h('div', { class: ['diff-line', cls[l.op]], 'data-op': l.op },
        h('span', { class: 'diff-num', 'aria-hidden': 'true' }, an),
        h('span', { class: 'diff-num', 'aria-hidden': 'true' }, bn),
        h('span', { class: 'diff-op' }, l.op),
        h('span', null, l.text, l.no_newline ? h('span', { class: 'diff-eol' }, ' \\ no newline at end') : null)));
    }
  }
  return h('div', { class: 'cmp-stream', 'data-test': 'cmp-' + name }, head,
    h('pre', { class: 'diff', 'data-test': 'diff' }, rows));
}

function workerView(w) {
  const moved = JSON.stringify(w.a) !== JSON.stringify(w.b);
  return h('div', { class: 'cmp-worker', 'data-test': 'cmp-worker', 'data-worker': w.worker_name },
    h('div', { class: 'cmp-worker-head' },
      h('strong', null, w.worker_name), ' ',
      h('span', { class: ['cmp-state', moved && 'cmp-state-changed'], 'data-test': 'cmp-state' },
        stateText(w.a), moved ? ' → ' + stateText(w.b) : '')),
    streamView('stdout', w.stdout), streamView('stderr', w.stderr));
}

function stepView(s) {
  const changed = s.workers.filter((w) => w.changed);
  const same = s.workers.filter((w) => !w.changed);
  const name = s.name + (s.b_name ? ' / ' + s.b_name : '');
  return h('section', { class: ['cmp-step', s.changed ? 'cmp-changed' : 'cmp-same'], 'data-test': 'cmp-step',
    'data-index': String(s.index) },
  h('h2', { class: 'cmp-step-head' }, '#' + s.index + ' ', name, ' ',
    h('span', { class: 'cmp-step-status' }, s.a_status || '—', s.a_status !== s.b_status ? ' → ' + (s.b_status || '—') : ''),
    s.changed ? null : h('span', { class: 'muted small' }, ' unchanged')),
  s.too_large ? h('p', { class: 'cmp-too-large', 'data-test': 'too-large' }, 'Too large to diff: ' + s.reason) : null,
  changed.map(workerView),
  same.length ? h('details', { class: 'cmp-unchanged', 'data-test': 'cmp-unchanged' },
    h('summary', null, same.length + (same.length === 1 ? ' worker' : ' workers') + ' unchanged'),
    h('p', { class: 'small mono' }, same.map((w) => w.worker_name).join(', '))) : null);
}

export function compareView(ctx, main, a, b) {
  const body = h('div', { class: 'compare', 'data-test': 'compare' }, h('p', { class: 'loading' }, 'Comparing…'));
  replace(main,
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/executions' }, 'Executions'), ' / ',
      h('a', { href: '#/executions/' + encodeURIComponent(b), class: 'mono small' }, String(b).slice(0, 8)), ' / compare'),
    body);
  document.title = 'Compare executions · PULSE';
  let gone = false;
  get('/api/executions/' + encodeURIComponent(a) + '/diff/' + encodeURIComponent(b)).then((d) => {
    if (gone) return;
    const changed = d.steps.filter((s) => s.changed).length;
    replace(body,
      h('h1', null, 'Compare executions'),
      h('div', { class: 'cmp-sides' }, side('a', d.a), side('b', d.b)),
      d.note ? h('p', { class: 'cmp-note', 'data-test': 'diff-note' }, d.note) : null,
      h('p', { class: 'muted', 'data-test': 'cmp-summary' },
        changed === 0 ? 'No step changed.' : changed + ' of ' + d.steps.length + ' steps changed.'),
      d.steps.map(stepView));
  }).catch((e) => {
    if (gone) return;
    replace(body, h('section', { class: 'empty-page' },
      h('h1', null, e instanceof ApiError && e.status === 404 ? 'Execution not found' : 'Could not compare'),
      h('p', { 'data-test': 'compare-error' }, e.message)));
  });
  return () => { gone = true; };
}
