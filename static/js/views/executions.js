// Recent executions, newest first, paged with ?before=<id>; rows follow the
// live execution_started / execution_status events. A status filter asks
// the server (?status=), so #/executions?status=awaiting_approval lists
// every execution waiting for a decision, not those of the loaded pages.
import { get } from '../api.js';
import { h, replace, timeEl, fmtDuration, execDuration, statusBadge, debounce, toast } from '../dom.js';
import { EXEC_ENDED as ENDED, EXEC_STATUSES as STATUSES } from '../status.js';

const PAGE = 50;

// "completed, 1 step failed": a step with on_failure "continue" failed and
// the execution went on (SPEC section 14). Beside the status badge.
export function failedStepsNote(e) {
  const n = e.failed_steps || 0;
  if (e.status !== 'completed' || n <= 0) return null;
  return h('span', { class: 'failed-steps', 'data-test': 'failed-steps' }, `, ${n} step${n === 1 ? '' : 's'} failed`);
}

export function executionRow(e) {
  const name = e.kind === 'command' ? 'Direct command' + (e.workflow_name ? ': ' + e.workflow_name : '') : (e.workflow_name || e.workflow_id);
  return h('tr', { 'data-execution': e.id },
    h('td', { 'data-label': 'Workflow' }, h('a', { href: '#/executions/' + encodeURIComponent(e.id), class: 'cell-title' }, name),
      h('div', { class: 'muted small mono' }, e.id.slice(0, 8))),
    h('td', { 'data-label': 'Status' }, statusBadge(e.status), failedStepsNote(e)),
    h('td', { 'data-label': 'Started by' }, e.started_by || '—'),
    h('td', { 'data-label': 'Started' }, timeEl(e.started_at)),
    h('td', { 'data-label': 'Duration' }, h('span', { 'data-since': ENDED.has(e.status) ? null : e.started_at },
      fmtDuration(execDuration(e)))));
}

export function executionsTable(items, emptyText) {
  return h('table', { class: 'table', 'data-test': 'executions' },
    h('thead', null, h('tr', null, h('th', null, 'Workflow'), h('th', null, 'Status'), h('th', null, 'Started by'),
      h('th', null, 'Started'), h('th', null, 'Duration'))),
    h('tbody', null, items.length ? items.map(executionRow)
      : h('tr', null, h('td', { class: 'empty', colspan: 5 }, emptyText))));
}

export function executionsView(ctx, main) {
  let items = [];
  let more = false;
  let loading = false;
  let loadedOnce = false;
  const wrap = h('div', { class: 'table-wrap' });
  const older = h('button', { type: 'button', class: 'btn', 'data-test': 'older', hidden: true }, 'Older executions');
  const filter = h('select', { class: 'input input-narrow', 'aria-label': 'Filter by status', 'data-test': 'status-filter' },
    ['all', ...STATUSES].map((x) => h('option', { value: x }, x === 'all' ? 'All statuses' : x.replace('_', ' '))));
  const asked = new URLSearchParams(location.hash.replace(/^[^?]*\??/, '')).get('status');
  filter.value = STATUSES.includes(asked) ? asked : 'all';
  replace(main, h('div', { class: 'page-head' }, h('h1', null, 'Executions'), filter), wrap, h('div', { class: 'pager' }, older));
  const query = () => (filter.value === 'all' ? '' : '&status=' + encodeURIComponent(filter.value));

  const render = () => {
    const f = filter.value;
    // A row whose status moved on (live) leaves the filtered list.
    const shown = f === 'all' ? items : items.filter((e) => e.status === f);
    replace(wrap, executionsTable(shown, f !== 'all' ? 'No execution is ' + f.replace('_', ' ') + '.'
      : 'No executions yet. Start one from the Workflows page.'));
    older.hidden = !more;
  };

  const loadFirst = async () => {
    try {
      const n = Math.min(200, Math.max(PAGE, items.length));
      const list = await get('/api/executions?limit=' + n + query());
      const seen = new Set(list.map((e) => e.id));
      const rest = items.length > n ? items.filter((e) => !seen.has(e.id)).slice(n - list.length) : [];
      items = list.concat(rest);
      if (!loadedOnce) more = list.length === n;
      loadedOnce = true;
      render();
    } catch (e) {
      replace(wrap, h('p', { class: 'form-error' }, 'Could not load executions: ' + e.message));
    }
  };
  const reload = debounce(loadFirst, 250);

  older.addEventListener('click', async () => {
    if (loading || items.length === 0) return;
    loading = true;
    older.disabled = true;
    try {
      const list = await get(`/api/executions?limit=${PAGE}&before=${encodeURIComponent(items[items.length - 1].id)}` + query());
      const seen = new Set(items.map((e) => e.id));
      items = items.concat(list.filter((e) => !seen.has(e.id)));
      more = list.length === PAGE;
      render();
    } catch (e) {
      toast('Could not load older executions: ' + e.message, 'error');
    } finally {
      loading = false;
      older.disabled = false;
    }
  });
  filter.addEventListener('change', () => {
    // The address says what is shown (a link to it shows the same), with
    // no hashchange: the view stays.
    history.replaceState(null, '', '#/executions' + (filter.value === 'all' ? '' : '?status=' + filter.value));
    items = [];
    more = false;
    loadedOnce = false;
    render();
    loadFirst();
  });

  const offs = [
    ctx.live.on('execution_started', reload),
    ctx.live.on('execution_approval', reload),
    ctx.live.on('execution_status', (m) => {
      const e = items.find((x) => x.id === m.execution_id);
      if (e) { e.status = m.status; render(); }
      reload();
    }),
    ctx.live.on('workflow_deleted', reload),
    ctx.live.on('resync', reload),
  ];
  loadFirst();
  return () => { reload.cancel(); offs.forEach((f) => f()); };
}
