// Grouped output (SPEC section 17): a step's workers whose status, exit
// code and output are identical in one group ("48 workers: exit 0, same
// output"), largest first, with one sample; the lines where a group's sample
// differs from the largest group's highlighted; each group expands to its
// workers, and a worker's whole output is read on demand from the paged
// output endpoint. A step on more than GROUPED_MIN workers is shown only
// so: the execution then loads ?view=groups, which carries no outputs but
// the samples, and refreshes at most once a REFRESH_MS while results
// arrive instead of drawing 1,000 live boxes.
import { get } from '../api.js';
import { h, replace, statusBadge, toast } from '../dom.js';

export const GROUPED_MIN = 20;
const REFRESH_MS = 1000;
const PAGES_MAX = 64;          // pieces of at most 1 MiB read per stream
const OPEN = new Set(['queued', 'sent', 'running']);

// A step on many workers: dispatch_count (?view=groups) or its dispatches.
function big(e) {
  return (e.steps || []).some((st) => st.type === 'execute' &&
    (st.dispatch_count ?? (st.dispatches || []).length) > GROUPED_MIN);
}

// The execution as the view shows it. Its first load asks for the groups
// (small, whatever the size); an execution with no big step is then read
// whole, as before, until a step grows past GROUPED_MIN.
export async function loadExecution(view) {
  const base = '/api/executions/' + encodeURIComponent(view.id);
  if (view.grouped !== false) {
    const g = await get(base + '?view=groups');
    view.grouped = big(g);
    if (view.grouped) return g;
  }
  const e = await get(base);
  if (big(e)) view.grouped = true;
  return e;
}

// A live event in the grouped view: output chunks are not drawn (no box
// to draw them in), a result refreshes the groups at most once a
// REFRESH_MS. True when handled here.
export function groupsEvent(view, m) {
  if (!view.grouped || (m.type !== 'command_output' && m.type !== 'dispatch_status')) return false;
  if (m.type === 'dispatch_status' && !view.groupsTimer) {
    view.groupsTimer = setTimeout(() => { view.groupsTimer = null; view.refetch(); }, REFRESH_MS);
  }
  return true;
}

// The grouped view's stand-in for a step's latest dispatches, one per
// worker of the groups listed (the batch progress line counts them).
export function groupRows(st) {
  return (st.groups || []).flatMap((g) => g.workers.map((w) => ({ worker_name: w, status: g.status, attempt: 1 })));
}

function key(g) {
  return [g.status, g.exit_code, g.stdout_sha256, g.stderr_sha256].join('\u0000');
}

function lines(sample) {
  if (!sample) return [];
  return (sample.stdout + (sample.stderr ? '\n' + sample.stderr : '')).split('\n');
}

function headline(g, i, top) {
  const n = `${g.count} worker${g.count === 1 ? '' : 's'}`;
  const what = g.exit_code !== null && g.exit_code !== undefined ? 'exit ' + g.exit_code : g.status;
  const same = g.count > 1 ? ', same output' : '';
  let vs = '';
  // A command still running has no output to compare yet.
  if (i > 0 && top && !OPEN.has(g.status)) {
    vs = g.stdout_sha256 === top.stdout_sha256 && g.stderr_sha256 === top.stderr_sha256
      ? ' · output as the first group' : ' · output differs from the first group';
  }
  return `${n}: ${what}${same}${vs}`;
}

// The sample as text, each line a node; lines the largest group's sample
// does not have are marked (a set of lines: enough to see what changed).
function sampleEl(g, base) {
  const pre = h('pre', { class: 'output out-group-sample', 'data-test': 'group-sample' });
  if (!g.sample) {
    pre.append(h('span', { class: 'output-empty' }, 'no sample in this view: open a worker below'));
    return pre;
  }
  const put = (text, stream) => {
    const parts = text.split('\n');
    parts.forEach((line, j) => {
      const last = j === parts.length - 1;
      if (last && line === '') return;
      const cls = [stream === 'stderr' && 'stderr', base && !base.has(line) && 'line-diff'];
      pre.append(h('span', { class: cls, 'data-test': base && !base.has(line) ? 'diff-line' : null },
        line + (last ? '' : '\n')));
    });
  };
  put(g.sample.stdout || '', 'stdout');
  put(g.sample.stderr || '', 'stderr');
  if (!g.sample.stdout && !g.sample.stderr) pre.append(h('span', { class: 'output-empty' }, 'no output'));
  if (g.sample.stdout_more || g.sample.stderr_more) {
    pre.append(h('span', { class: 'output-empty' }, '\n… more: open the worker below for all of it'));
  }
  return pre;
}

// The latest command of each (step, worker), from the output index (in
// attempt order: the last wins); read again when a worker is not in it.
async function commandOf(view, step, worker) {
  const k = step + '\u0000' + worker;
  if (!view.groupsIndex || !view.groupsIndex.has(k)) {
    const r = await get('/api/executions/' + encodeURIComponent(view.id) + '/output');
    view.groupsIndex = new Map((r.commands || []).map((c) => [c.step + '\u0000' + c.worker_name, c.command_id]));
  }
  return view.groupsIndex.get(k);
}

// One worker's whole output, a piece at a time, as text.
async function showWorker(view, step, worker, pre) {
  replace(pre, h('span', { class: 'output-empty' }, 'loading ' + worker + '…'));
  pre.hidden = false;
  try {
    const id = await commandOf(view, step, worker);
    if (!id) throw new Error('no command of ' + worker + ' in this step');
    const url = '/api/executions/' + encodeURIComponent(view.id) + '/output';
    replace(pre, h('div', { class: 'out-group-who' }, worker));
    for (const stream of ['stdout', 'stderr']) {
      let offset = 0;
      for (let i = 0; i < PAGES_MAX; i++) {
        const q = new URLSearchParams({ command_id: id, stream, offset: String(offset) });
        const r = await get(url + '?' + q);
        if (r.data) pre.append(stream === 'stderr' ? h('span', { class: 'stderr' }, r.data) : document.createTextNode(r.data));
        if (r.next_offset === null || r.next_offset === undefined) break;
        offset = r.next_offset;
      }
    }
    pre.dataset.worker = worker;
  } catch (err) {
    replace(pre, h('span', { class: 'output-empty' }, 'could not load the output: ' + err.message));
    toast('Could not load the output: ' + err.message, 'error');
  }
}

function workersEl(view, st, g, full) {
  const list = h('ul', { class: 'out-group-list', 'data-test': 'group-workers' });
  const d = h('details', { class: 'out-group-workers' },
    h('summary', null, 'Workers (' + g.count + ')'), list);
  // A group of 1,000 draws its names only when opened.
  d.addEventListener('toggle', () => {
    if (!d.open || list.firstChild) return;
    replace(list, d.groupWorkers.map((w) => h('li', null,
      h('button', { type: 'button', class: 'btn btn-small out-group-worker', 'data-worker': w,
        onclick: (ev) => {
          for (const x of list.querySelectorAll('button[aria-pressed]')) x.removeAttribute('aria-pressed');
          ev.currentTarget.setAttribute('aria-pressed', 'true');
          showWorker(view, st.index, w, full);
        } }, w))));
  });
  return d;
}

// An execute step's groups, drawn into v (its element in the timeline).
// samples: draw the sample outputs (the grouped view; the full view shows
// each worker's own box below anyway).
export function renderGroups(view, v, st) {
  const groups = st.groups || [];
  const total = groups.reduce((n, g) => n + g.count, 0) + ((st.groups_omitted || {}).workers || 0);
  const samples = !!view.grouped;
  if (!v.outGroups) {
    if (total < 2 && !samples) return;
    v.outGroups = { box: h('div', { class: 'out-groups', 'data-test': 'groups' }), els: new Map(), sig: null };
    v.dispatchBox.before(v.outGroups.box);
  }
  const og = v.outGroups;
  const sig = JSON.stringify([samples, st.groups_omitted, groups.map((g) => [key(g), g.count, g.sample_id,
    g.sample && g.sample.stdout.length, g.sample && g.sample.stderr.length])]);
  if (sig === og.sig) return;
  og.sig = sig;
  const top = groups[0];
  const base = top && top.sample ? new Set(lines(top.sample)) : null;
  const seen = new Set();
  const els = groups.map((g, i) => {
    const k = key(g);
    seen.add(k);
    let e = og.els.get(k);
    if (!e) {
      e = { head: h('div', { class: 'out-group-head' }), sample: h('div'),
        full: h('pre', { class: 'output out-group-full', 'data-test': 'group-output', hidden: true }) };
      e.workers = workersEl(view, st, g, e.full);
      e.el = h('div', { class: 'out-group', 'data-test': 'group' }, e.head, e.sample, e.workers, e.full);
      og.els.set(k, e);
    }
    e.el.dataset.count = g.count;
    e.el.dataset.status = g.status;
    e.el.dataset.exit = g.exit_code ?? '';
    replace(e.head, statusBadge(g.status), h('span', { class: 'out-group-title', 'data-test': 'group-title' },
      headline(g, i, top)));
    replace(e.sample, samples ? sampleEl(g, i > 0 ? base : null) : null);
    // New workers since it was opened: draw them again on the next open.
    const list = e.workers.querySelector('ul');
    if (e.workers.groupWorkers && e.workers.groupWorkers.length !== g.workers.length) {
      replace(list);
      if (e.workers.open) e.workers.open = false;
    }
    e.workers.groupWorkers = g.workers;
    e.workers.querySelector('summary').textContent = 'Workers (' + g.count + ')';
    return e.el;
  });
  for (const k of [...og.els.keys()]) if (!seen.has(k)) og.els.delete(k);
  const om = st.groups_omitted;
  replace(og.box,
    samples ? h('p', { class: 'muted small' }, `${total} worker${total === 1 ? '' : 's'} in ${groups.length +
      (om ? om.groups : 0)} group${groups.length === 1 && !om ? '' : 's'}`) : null,
    els,
    om ? h('p', { class: 'muted small', 'data-test': 'groups-omitted' },
      `and ${om.groups} more group${om.groups === 1 ? '' : 's'} of ${om.workers} worker${om.workers === 1 ? '' : 's'}, not listed`) : null);
}
