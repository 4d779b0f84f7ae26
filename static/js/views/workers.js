// Workers: status, trust state, heartbeat age, groups, metrics with
// sparklines of the heartbeats seen while the page is open; admin: accept,
// groups, rotate, revoke (views/trust.js), direct command, delete, and the
// enrollment tokens (views/tokens.js).
import { ApiError, del, post } from '../api.js';
import { h, s, replace, timeEl, fmtBytes, statusBadge, toast } from '../dom.js';
import { openModal, confirmModal } from '../modal.js';
import { samplesOf } from '../store.js';
import { ExecutionView } from './execution.js';
import { commandable, grantedGroups, groupsInfo, replacesNote, stateInfo, trustActions } from './trust.js';
import { tokensSection } from './tokens.js';

// While a key rotation waits for its ack, look again this often.
const ROTATION_POLL_MS = 2000;

export function sparkline(values, max, label) {
  const W = 72;
  const H = 20;
  const svg = s('svg', { class: 'spark', viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img', 'aria-label': label });
  if (values.length === 0) return svg;
  const top = Math.max(max || 0, ...values, 1e-9);
  const step = values.length > 1 ? W / (values.length - 1) : 0;
  const pts = values.map((v, i) => {
    const x = values.length > 1 ? i * step : W;
    const y = H - 1 - (Math.max(0, v) / top) * (H - 2);
    return x.toFixed(1) + ',' + y.toFixed(1);
  });
  if (values.length === 1) pts.unshift('0,' + pts[0].split(',')[1]);
  svg.append(
    s('polygon', { class: 'spark-area', points: `0,${H} ${pts.join(' ')} ${W},${H}` }),
    s('polyline', { class: 'spark-line', points: pts.join(' ') }));
  return svg;
}

function metric(value, text, ring, max, label) {
  return h('div', { class: 'metric' },
    h('span', { class: 'metric-val', title: label + ': ' + text }, text),
    sparkline(ring || [], max, label + ' history'),
    value === null ? null : h('span', { class: 'sr-only' }, label));
}

function pctText(v) {
  return v === null ? '—' : v.toFixed(v < 10 ? 1 : 0) + '%';
}

// Online by heartbeat alone: no websocket, so no command can reach it.
// (An older pulse-api sends no command_channel: treat that as connected.)
function noChannel(w) {
  return w.status === 'online' && w.command_channel === false;
}

function runCommand(ctx, w) {
  const input = h('textarea', { id: 'cmd-input', class: 'input mono', rows: 3, required: true, autofocus: true,
    placeholder: 'uptime', spellcheck: 'false', 'aria-label': 'Command' });
  const timeout = h('input', { id: 'cmd-timeout', class: 'input input-narrow', type: 'number', min: 1, max: 86400, value: 60 });
  const err = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const out = h('div', { class: 'cmd-output' });
  const run = h('button', { type: 'submit', class: 'btn btn-primary', 'data-test': 'run-command' }, 'Run');
  let view = null;
  const form = h('form', { class: 'form', onsubmit: async (ev) => {
    ev.preventDefault();
    const command = input.value.trim();
    if (!command) return;
    run.disabled = true;
    err.hidden = true;
    try {
      const ex = await post(`/api/workers/${encodeURIComponent(w.id)}/command`,
        { command, timeout: Math.max(1, Number(timeout.value) || 60) * 1000 });
      if (view) view.destroy();
      replace(out);
      view = new ExecutionView(ctx, out, ex.id, { compact: true, initial: ex });
    } catch (e) {
      err.textContent = e.message;
      err.hidden = false;
    } finally {
      run.disabled = false;
    }
  } },
  h('label', { for: 'cmd-input' }, 'Command (run with /bin/sh on ', h('strong', null, w.name), ')'),
  input,
  h('div', { class: 'form-row' }, h('label', { for: 'cmd-timeout' }, 'Timeout (seconds)'), timeout, run),
  h('p', { class: 'hint' }, 'Ctrl+Enter runs the command.'),
  err);
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); form.requestSubmit(); }
  });
  openModal({
    title: 'Direct command',
    body: h('div', null, form, out),
    wide: true,
    actions: [h('button', { type: 'button', class: 'btn', onclick: () => document.getElementById('modal').close() }, 'Close')],
    onClose: () => { if (view) view.destroy(); },
  });
}

async function deleteWorker(ctx, w) {
  const ok = await confirmModal({
    title: 'Delete worker',
    message: h('span', null, 'Delete worker ', h('strong', null, w.name),
      '? It disappears from the list; ',
      // An enrolled worker's key goes with its row (issue 13).
      w.has_key ? 'its key is deleted with it, so its agent comes back only by enrolling again.'
        : 'if the agent is still running, its next heartbeat registers it again.'),
    confirm: 'Delete worker',
    danger: true,
  });
  if (!ok) return;
  try {
    await del(`/api/workers/${encodeURIComponent(w.id)}`);
    toast('Deleted worker ' + w.name, 'ok');
    ctx.workers.load();
  } catch (e) {
    toast('Could not delete ' + w.name + ': ' + e.message, 'error');
  }
}

export function workersView(ctx, main) {
  const admin = !!ctx.user.is_admin;
  const summary = h('p', { class: 'summary' });
  const filter = h('input', { class: 'input search', type: 'search', placeholder: 'Filter by name or group',
    'aria-label': 'Filter workers' });
  const body = h('tbody');
  const table = h('table', { class: 'table workers-table', 'data-test': 'workers' },
    h('thead', null, h('tr', null,
      h('th', null, 'Worker'), h('th', null, 'Status'), h('th', null, 'Groups'),
      h('th', null, 'CPU'), h('th', null, 'Memory'), h('th', null, 'Load'), h('th', null, 'Disk'),
      h('th', null, 'Tasks'), admin ? h('th', null, h('span', { class: 'sr-only' }, 'Actions')) : null)),
    body);
  const errorBox = h('p', { class: 'form-error', hidden: true });
  const tokens = admin ? tokensSection(ctx) : null;
  replace(main,
    h('div', { class: 'page-head' }, h('h1', null, 'Workers'), summary, filter),
    errorBox,
    h('div', { class: 'table-wrap' }, table),
    tokens && tokens.el);
  let rotationPoll = null;

  const render = (store) => {
    errorBox.hidden = !store.error;
    if (store.error) errorBox.textContent = 'Could not load workers: ' + store.error.message;
    const q = filter.value.trim().toLowerCase();
    const list = [...store.list].sort((a, b) => String(a.name).localeCompare(String(b.name)));
    const byId = new Map(list.map((w) => [w.id, w]));
    const online = list.filter((w) => w.status === 'online').length;
    const pending = list.filter((w) => w.state === 'pending').length;
    summary.textContent = `${online} of ${list.length} online` + (pending ? `, ${pending} pending acceptance` : '');
    const rows = [];
    for (const w of list) {
      const m = w.metadata || {};
      const groups = grantedGroups(w);
      if (q && !String(w.name).toLowerCase().includes(q) && !groups.some((g) => String(g).toLowerCase().includes(q))) continue;
      const r = store.rings.get(w.id) || {};
      const smp = samplesOf(w);
      const info = [m.hostname, m.os, m.version && 'v' + m.version].filter(Boolean).join(' · ');
      rows.push(h('tr', { 'data-worker': w.name, 'data-worker-id': w.id, 'data-state': w.state || null },
        h('td', { 'data-label': 'Worker' }, h('div', { class: 'cell-title' }, w.name), replacesNote(w, byId),
          info ? h('div', { class: 'muted small' }, info) : null),
        h('td', { 'data-label': 'Status' }, statusBadge(w.status), ' ', stateInfo(w),
          // Heartbeats without a socket: online, but never a target.
          noChannel(w) ? h('div', { class: 'small warn-text', 'data-test': 'no-channel',
            title: 'Heartbeats arrive but its websocket is not connected: it receives no commands' },
          'no command channel') : null,
          h('div', { class: 'muted small' }, 'heartbeat ', timeEl(w.last_heartbeat))),
        h('td', { 'data-label': 'Groups' }, groupsInfo(w)),
        h('td', { 'data-label': 'CPU' }, metric(smp.cpu, pctText(smp.cpu), r.cpu, 100, 'CPU')),
        h('td', { 'data-label': 'Memory' }, metric(smp.mem,
          pctText(smp.mem) + (m.memory ? ' of ' + fmtBytes(m.memory.total) : ''), r.mem, 100, 'Memory')),
        h('td', { 'data-label': 'Load' }, metric(smp.load,
          Array.isArray(m.load) ? m.load.map((x) => Number(x).toFixed(2)).join(' ') : '—', r.load, 0, 'Load')),
        h('td', { 'data-label': 'Disk' }, metric(smp.disk,
          pctText(smp.disk) + (m.disk ? ' of ' + fmtBytes(m.disk.total) : ''), r.disk, 100, 'Disk')),
        h('td', { 'data-label': 'Tasks' }, (m.running ?? '—') + ' / ' + (m.max_concurrent_tasks ?? '—')),
        admin ? h('td', { class: 'actions' }, h('div', { class: 'trust-actions' }, trustActions(ctx, w, byId),
          h('button', { type: 'button', class: 'btn btn-small', 'data-test': 'command',
            disabled: !commandable(w) || w.status !== 'online' || noChannel(w),
            title: !commandable(w) ? 'Only an accepted worker is commanded'
              : w.status !== 'online' ? 'The worker is offline'
              : noChannel(w) ? 'The worker has no command channel (its websocket is not connected)' : 'Run a command now',
            onclick: () => runCommand(ctx, w) }, 'Run command'),
          h('button', { type: 'button', class: 'btn btn-small btn-danger-ghost', 'data-test': 'delete',
            onclick: () => deleteWorker(ctx, w) }, 'Delete'))) : null));
    }
    if (rows.length === 0) {
      rows.push(h('tr', null, h('td', { class: 'empty', colspan: admin ? 9 : 8 },
        store.list.length ? 'No worker matches the filter.' : 'No workers yet. Start pulse-worker on a server and it appears here.')));
    }
    replace(body, rows);
    // A rotation ends at the agent's ack, which no event announces: look
    // again soon while one is pending (one GET, only on this page).
    clearTimeout(rotationPoll);
    rotationPoll = list.some((w) => w.rotation === 'pending')
      ? setTimeout(() => store.load(), ROTATION_POLL_MS) : null;
  };
  filter.addEventListener('input', () => render(ctx.workers));
  const off = ctx.workers.onChange(render);
  render(ctx.workers);
  ctx.workers.load();
  return () => { off(); clearTimeout(rotationPoll); if (tokens) tokens.destroy(); };
}
