// One execution, live: header, progress bar, the pending prompt, the step
// timeline and every worker's output, streamed from command_output events
// (deduplicated and spliced by byte offset against what the REST API holds).
import { ApiError, get, post } from '../api.js';
import { h, replace, timeEl, setTime, fmtDuration, execDuration, statusBadge, debounce, toast, parseTime } from '../dom.js';
import { AnsiStream } from '../ansi.js';
import { confirmModal } from '../modal.js';
import { startWorkflow } from './start-form.js';
import { failedStepsNote } from './executions.js';
import { compareControl } from './compare.js';
import { attemptGroup, attemptLabel, groupAttempts, placeAttempts, retryWaitS, retryWaitText } from './attempts.js';
import { groupRows, groupsEvent, loadExecution, renderGroups } from './groups.js';
import { ApprovalPanel } from './approval.js';
import { DISPATCH_DONE, EXEC_ENDED as ENDED, STEP_DONE } from '../status.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
const STEP_ICONS = {
  pending: '○', running: '◐', waiting: '?', succeeded: '✓', failed: '✕', skipped: '↷', cancelled: '⊘',
};

function byteLen(str) {
  return enc.encode(str).length;
}

export class ExecutionView {
  constructor(ctx, el, id, opts = {}) {
    this.ctx = ctx;
    this.el = el;
    this.id = id;
    this.compact = !!opts.compact;
    this.exec = null;
    this.steps = new Map();       // index -> {el, parts, dispatches: Map}
    this.outputs = new Map();     // dispatch id -> output state
    this.answered = new Set();    // prompt steps known to be answered
    this.promptKey = null;
    this.fetching = false;
    this.dirty = false;
    this.destroyed = false;
    this.offs = [];
    this.build();
    ctx.live.subscribe(id);
    this.offs.push(ctx.live.on('*', (m) => this.onEvent(m)));
    this.offs.push(ctx.live.on('resync', () => this.refetch()));
    this.offs.push(ctx.live.on('connected', () => this.refetchSoon()));
    this.refetchSoon = debounce(() => this.refetch(), 200);
    // A retry waiting for its delay counts down ("retry in 4 s").
    this.ticker = setInterval(() => {
      for (const el of this.el.querySelectorAll('.retry-wait[data-until]')) el.textContent = retryWaitText(el.dataset.until);
    }, 1000);
    if (opts.initial) this.render(opts.initial);
    this.refetch();
  }

  destroy() {
    this.destroyed = true;
    this.ctx.live.unsubscribe(this.id);
    for (const off of this.offs) off();
    this.approval.destroy();
    this.refetchSoon.cancel();
    clearInterval(this.ticker);
  }

  build() {
    this.title = h('h1', { class: 'exec-title' });
    this.badge = h('span', { class: 'exec-badge' });
    this.meta = h('div', { class: 'exec-meta' });
    this.cancelBtn = h('button', { type: 'button', class: 'btn btn-danger-ghost', 'data-test': 'cancel', hidden: true,
      onclick: () => this.cancel() }, 'Cancel execution');
    this.bar = h('div', { class: 'progress-fill' });
    this.progressText = h('span', { class: 'progress-text' });
    this.progress = h('div', { class: 'progress', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-label': 'Progress' },
      this.bar);
    this.errorLine = h('p', { class: 'exec-error', hidden: true });
    this.promptBox = h('div', { class: 'prompt-slot', 'aria-live': 'polite' });
    this.approval = new ApprovalPanel(this);
    this.stepList = h('ol', { class: 'timeline', 'data-test': 'steps' });
    // The workflow's on_failure steps (SPEC section 14): their own
    // section, saying whether they ran.
    this.failHead = h('p', { class: 'on-failure-note', 'data-test': 'on-failure-note' });
    this.failList = h('ol', { class: 'timeline', 'data-test': 'on-failure-steps' });
    this.failBox = h('section', { class: 'on-failure', 'data-test': 'on-failure', hidden: true },
      h('h2', { class: 'on-failure-title' }, 'On failure'), this.failHead, this.failList);
    replace(this.el,
      h('div', { class: ['exec', this.compact && 'exec-compact'], 'data-test': 'execution' },
        h('div', { class: 'exec-head' },
          this.compact ? null : this.title,
          h('div', { class: 'exec-head-row' }, this.badge, this.meta, this.cancelBtn)),
        h('div', { class: 'progress-row' }, this.progress, this.progressText),
        this.errorLine,
        this.approval.el,
        this.promptBox,
        this.stepList,
        this.failBox));
  }

  async refetch() {
    if (this.destroyed) return;
    if (this.fetching) { this.dirty = true; return; }
    this.fetching = true;
    try {
      const e = await loadExecution(this);   // groups.js: ?view=groups for a big step
      if (!this.destroyed) this.render(e);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        replace(this.el, h('section', { class: 'empty-page' }, h('h1', null, 'Execution not found'),
          h('p', null, 'It may have been deleted with its workflow.'), h('a', { href: '#/executions' }, 'All executions')));
        this.destroy();
      } else {
        toast('Could not load the execution: ' + err.message, 'error');
      }
    } finally {
      this.fetching = false;
      if (this.dirty && !this.destroyed) { this.dirty = false; this.refetchSoon(); }
    }
  }

  onEvent(m) {
    if (m.execution_id !== this.id) return;
    // An event that lands while a GET is in flight may be newer than the
    // answer that GET is about to render (and before the first answer there
    // is nothing to apply it to): fetch once more when it returns, or a
    // prompt raised in that window would never show.
    if (this.fetching) this.dirty = true;
    if (!this.exec || groupsEvent(this, m)) return;
    const e = this.exec;
    switch (m.type) {
    case 'command_output':
      this.onOutput(m);
      return;
    case 'execution_prompt':
      if (m.prompt && !this.answered.has(m.prompt.step)) {
        e.prompt = m.prompt;
        e.status = 'waiting';
      }
      break;
    case 'execution_response':
      this.answered.add(m.step);
      e.prompt = null;
      if (e.steps[m.step]) {
        e.steps[m.step].response = m.response;
        e.steps[m.step].responded_by = m.responded_by;
      }
      break;
    case 'execution_status':
      e.status = m.status;
      if (m.status !== 'waiting') e.prompt = null;
      break;
    case 'step_status':
      if (e.steps[m.step]) {
        e.steps[m.step].status = m.status;
        if (m.reason !== undefined) e.steps[m.step].reason = m.reason;
      }
      break;
    case 'dispatch_status': {
      const st = e.steps[m.step];
      const d = st && (st.dispatches || []).find((x) => x.id === m.command_id);
      if (d) {
        d.status = m.status;
        if (m.exit_code !== undefined) d.exit_code = m.exit_code;
        if (m.duration_ms !== undefined) d.duration_ms = m.duration_ms;
        if (m.error !== undefined) d.error = m.error;
      }
      break;
    }
    default:
      return;
    }
    this.render(e);
    this.refetchSoon();
  }

  // ------------------------------------------------------------ render

  render(e) {
    this.exec = e;
    if (e.prompt && this.answered.has(e.prompt.step)) e.prompt = null;
    const isCmd = e.kind === 'command';
    const title = isCmd ? 'Direct command' + (e.workflow_name ? ': ' + e.workflow_name : '') : (e.workflow_name || 'Execution');
    this.title.textContent = title;
    if (!this.compact) document.title = title + ' · PULSE';
    replace(this.badge, statusBadge(e.status, 'badge-lg'), failedStepsNote(e));
    this.badge.dataset.status = e.status;
    const dur = execDuration(e);
    replace(this.meta,
      h('span', null, 'started by ', h('strong', null, e.started_by || '—'), ' ', timeEl(e.started_at)),
      h('span', null, 'duration ', h('span', { class: 'exec-duration', 'data-since': ENDED.has(e.status) ? null : e.started_at }, fmtDuration(dur))),
      !this.compact && e.workflow_id && !isCmd ? h('a', { href: '#/workflows/' + encodeURIComponent(e.workflow_id) }, 'workflow') : null,
      !isCmd && e.workflow_version ? h('a', { class: 'exec-version', 'data-test': 'exec-version',
        href: '#/workflows/' + encodeURIComponent(e.workflow_id) + '/versions/' + e.workflow_version }, 'version ' + e.workflow_version)
        : !isCmd ? h('span', { class: 'muted', 'data-test': 'exec-version' }, 'version: before versions were kept') : null,
      e.params && Object.keys(e.params).length ? h('span', { class: 'mono small', 'data-test': 'exec-params' },
        'params: ', Object.entries(e.params).map(([k, v]) => k + '=' + JSON.stringify(v)).join(', ')) : null,
      e.parent_execution_id ? h('span', { 'data-test': 'exec-parent' }, 'started by step ', String((e.parent_step ?? 0) + 1), ' of ',
        h('a', { href: '#/executions/' + encodeURIComponent(e.parent_execution_id), 'data-test': 'exec-parent-link' },
          'execution ' + e.parent_execution_id.slice(0, 8))) : null);
    this.cancelBtn.hidden = ENDED.has(e.status);
    this.errorLine.hidden = !e.error;
    this.errorLine.textContent = e.error || '';

    const steps = e.steps || [];
    const done = steps.filter((s) => STEP_DONE.has(s.status)).length;
    const pct = steps.length ? Math.round((100 * done) / steps.length) : (ENDED.has(e.status) ? 100 : 0);
    this.bar.style.width = pct + '%';
    this.progress.setAttribute('aria-valuenow', pct);
    this.progress.dataset.status = e.status;
    this.progressText.textContent = `${done} of ${steps.length} step${steps.length === 1 ? '' : 's'}`;

    this.renderPrompt(e);
    this.approval.render(e);
    steps.forEach((st, i) => this.renderStep(st, i, e));
    const ran = e.phase === 'on_failure';
    this.failBox.hidden = !steps.some((st) => st.phase === 'on_failure');
    this.failBox.dataset.ran = ran ? 'yes' : 'no';
    this.failHead.textContent = ran ? 'These steps ran after: ' + (e.failure || 'a failure')
      : ENDED.has(e.status) ? 'Not run: nothing failed' + (e.status === 'cancelled' ? ' (the execution was cancelled)' : '')
        : 'They run if a step fails.';
  }

  renderPrompt(e) {
    const p = e.status === 'waiting' ? e.prompt : null;
    const key = p ? p.step + '\u0000' + p.message + '\u0000' + (p.options || []).join('\u0000') : null;
    if (key === this.promptKey) return;
    this.promptKey = key;
    if (!p) { replace(this.promptBox); return; }
    const stepName = (e.steps[p.step] || {}).name;
    const buttons = (p.options || []).map((opt) => h('button', { type: 'button', class: 'btn btn-primary', 'data-option': opt,
      onclick: () => this.answer(p, opt, buttons) }, opt));
    replace(this.promptBox, h('section', { class: 'prompt', 'data-test': 'prompt', 'aria-label': 'Question' },
      h('div', { class: 'prompt-label' }, 'Waiting for an answer', stepName ? ' · ' + stepName : ''),
      h('p', { class: 'prompt-message' }, p.message),
      h('div', { class: 'prompt-options' }, buttons)));
    if (!this.compact && buttons[0] && document.activeElement === document.body) buttons[0].focus({ preventScroll: true });
  }

  async answer(p, opt, buttons) {
    for (const b of buttons) b.disabled = true;
    try {
      // The step pins the answer to this prompt: a retry can never answer
      // the next one.
      const body = typeof p.step === 'number' ? { response: opt, step: p.step } : { response: opt };
      await post(`/api/executions/${encodeURIComponent(this.id)}/respond`, body);
      this.answered.add(p.step);
      if (this.exec) { this.exec.prompt = null; this.render(this.exec); }
    } catch (err) {
      if (err.status === 409) {
        const a = err.body.answered;
        toast(a && a.responded_by ? `This question was already answered by ${a.responded_by}: ${a.response}` :
          'This question was already answered.', 'info');
        this.answered.add(p.step);
        if (this.exec) { this.exec.prompt = null; this.render(this.exec); }
      } else {
        toast('Could not answer: ' + err.message, 'error');
        for (const b of buttons) b.disabled = false;
      }
    }
    this.refetchSoon();
  }

  async cancel() {
    const ok = await confirmModal({ title: 'Cancel execution', message: 'Stop this execution? Running commands are killed and the remaining steps are skipped.',
      confirm: 'Cancel execution', danger: true });
    if (!ok) return;
    try {
      const e = await post(`/api/executions/${encodeURIComponent(this.id)}/cancel`, {});
      if (e && e.id) this.render(e);
    } catch (err) {
      toast('Could not cancel: ' + err.message, 'error');
    }
    this.refetchSoon();
  }

  renderStep(st, i, e) {
    let v = this.steps.get(i);
    if (!v) {
      v = {
        marker: h('span', { class: 'step-marker', 'aria-hidden': 'true' }),
        name: h('span', { class: 'step-name' }),
        type: h('span', { class: 'tag' }),
        badge: h('span', { class: 'step-badge' }),
        info: h('div', { class: 'step-info' }),
        extra: h('div', { class: 'step-extra' }),
        dispatchBox: h('div', { class: 'dispatches' }),
        dispatches: new Map(),
        // A parallel group's steps, side by side inside it.
        children: st.type === 'parallel' ? h('ol', { class: 'parallel-steps', 'data-test': 'parallel-steps' }) : null,
        groups: new Map(),        // worker -> its attempts' element
      };
      v.el = h('li', { class: 'step', 'data-step': i },
        v.marker,
        h('div', { class: 'step-body' },
          h('div', { class: 'step-head' }, v.name, v.type, v.badge),
          v.info, v.extra, v.dispatchBox, v.children));
      this.steps.set(i, v);
      const parent = st.parent_index !== null && st.parent_index !== undefined ? this.steps.get(st.parent_index) : null;
      if (parent && parent.children) parent.children.append(v.el);
      else if (st.phase === 'on_failure') this.failList.append(v.el);
      else this.stepList.append(v.el);
    }
    v.el.className = 'step step-st-' + String(st.status).replace(/[^a-z_-]/gi, '') +
      (st.parent_index !== null && st.parent_index !== undefined ? ' step-child' : '');
    v.el.classList.toggle('step-current', (st.status === 'running' || st.status === 'waiting') && !ENDED.has(e.status));
    v.el.dataset.status = st.status;
    v.marker.textContent = STEP_ICONS[st.status] || String(i + 1);
    v.name.textContent = st.name || (e.kind === 'command' ? 'Command' : 'Step ' + (i + 1));
    v.type.textContent = st.type || '';
    replace(v.badge, statusBadge(st.status));
    const a = parseTime(st.started_at);
    const b = parseTime(st.finished_at);
    replace(v.info,
      st.on_failure === 'continue' ? h('span', { class: 'tag', title: 'on_failure: continue' }, 'continues on failure') : null,
      st.reason ? h('span', { class: 'step-reason', 'data-test': 'reason' }, st.reason) : null,
      st.started_at ? h('span', { class: 'muted' }, 'started ', timeEl(st.started_at)) : null,
      a !== null && b !== null ? h('span', { class: 'muted' }, 'took ' + fmtDuration(b - a)) : null);
    if (st.type === 'prompt') {
      const pr = st.prompt || {};
      replace(v.extra,
        pr.message ? h('p', { class: 'step-prompt' }, '“', pr.message, '” ',
          h('span', { class: 'muted' }, (pr.options || []).join(' / '))) : null,
        st.response !== null && st.response !== undefined
          ? h('p', { class: 'step-answer' }, 'Answered ', h('strong', null, st.response),
            st.responded_by ? ' by ' + st.responded_by : '', ' ', st.responded_at ? timeEl(st.responded_at) : null)
          : null);
    }
    // The command as it ran: templates expanded (text, never HTML).
    if (st.type === 'execute') {
      replace(v.extra, st.command ? h('pre', { class: 'step-command', 'data-test': 'step-command' }, st.command) : null);
    }
    // A sub-workflow: its child execution, linked, with its status.
    if (st.type === 'workflow') {
      replace(v.extra, st.child_execution_id
        ? h('p', { class: 'step-subworkflow', 'data-test': 'step-child' }, 'Sub-workflow: ',
          h('a', { href: '#/executions/' + encodeURIComponent(st.child_execution_id), 'data-test': 'step-child-link' },
            'execution ' + st.child_execution_id.slice(0, 8)), ' ', statusBadge(st.child_status || 'running'))
        : null);
    }
    this.renderBatch(v, st);
    if (st.type === 'execute') renderGroups(this, v, st);
    // Each worker's attempts together, the latest first (attempts.js), in
    // its batch's box when the step runs in batches.
    for (const group of groupAttempts(st.dispatches)) {
      let g = v.groups.get(group.key);
      if (!g) {
        g = attemptGroup(group.key);
        v.groups.set(group.key, g);
        const first = v.dispatchBox.firstChild;
        if (first && !first.classList.contains('dispatch-group') && !first.classList.contains('dispatch-batch')) replace(v.dispatchBox);
        this.batchBox(v, group.latest, st).append(g.el);
      }
      for (const d of [group.latest, ...group.earlier]) this.renderDispatch(g.latest, d, st);
      placeAttempts(g, group, (d) => (this.outputs.get(d.id) || {}).el);
    }
    if (st.type === 'execute' && (st.dispatches || []).length === 0 && !st.dispatch_count && st.status === 'running') {
      if (!v.dispatchBox.firstChild) v.dispatchBox.append(h('p', { class: 'muted small' }, 'Waiting for workers…'));
    }
  }

  // A batched step (issue 14): one progress line, and its dispatches in
  // a box per batch ("Batch 2 · 5 targets"), skipped ones shown as such.
  renderBatch(v, st) {
    const b = st.batch;
    if (!b) return;
    if (!v.batchLine) {
      v.batchLine = h('p', { class: 'batch-progress', 'data-test': 'batch-progress' });
      v.batchBoxes = new Map();
      v.info.after(v.batchLine);
    }
    const total = (b.sizes || []).reduce((x, y) => x + y, 0);
    // Each worker by its latest attempt (a retry is a new dispatch).
    const latest = new Map();
    for (const d of st.dispatches || groupRows(st)) {
      const k = d.worker_id || d.worker_name;
      const was = latest.get(k);
      if (!was || (d.attempt || 1) >= (was.attempt || 1)) latest.set(k, d);
    }
    let done = 0;
    let failed = 0;
    let skipped = 0;
    for (const d of latest.values()) {
      if (d.status === 'skipped') skipped++;
      else if (!['queued', 'sent', 'running'].includes(d.status)) {
        done++;
        if (d.status !== 'succeeded') failed++;
      }
    }
    // The row counts failures when a batch ends; the dispatches sooner.
    failed = Math.max(failed, b.failures || 0);
    v.batchLine.textContent = `batch ${b.index} of ${b.count} · ${done} of ${total} targets done · `
      + `${failed} failed (max ${b.max_failures})` + (skipped ? ` · ${skipped} skipped` : '');
  }

  batchBox(v, d, st) {
    if (!v.batchBoxes || d.batch === null || d.batch === undefined) return v.dispatchBox;
    let box = v.batchBoxes.get(d.batch);
    if (!box) {
      box = h('div', { class: 'dispatch-batch', 'data-batch': d.batch });
      const size = ((st.batch || {}).sizes || [])[d.batch - 1];
      box.append(h('h4', { class: 'batch-head' }, `Batch ${d.batch}` + (size ? ` · ${size} target${size === 1 ? '' : 's'}` : '')));
      // In batch order, whatever order their dispatches arrive in.
      const after = [...v.batchBoxes.keys()].filter((k) => k > d.batch).sort((x, y) => x - y)[0];
      if (after !== undefined) v.dispatchBox.insertBefore(box, v.batchBoxes.get(after));
      else v.dispatchBox.append(box);
      v.batchBoxes.set(d.batch, box);
    }
    return box;
  }

  // box: where a new dispatch's element goes first (its attempts' group).
  renderDispatch(box, d, st) {
    let o = this.outputs.get(d.id);
    if (!o) {
      o = {
        head: h('div', { class: 'dispatch-head' }),
        pre: h('pre', { class: 'output', tabindex: 0, 'aria-label': 'Output of ' + d.worker_name }),
        note: h('p', { class: 'muted small' }),
        more: h('button', { type: 'button', class: 'btn btn-small', hidden: true, 'data-test': 'more-output' },
          'Load the rest of the output'),
        have: { stdout: 0, stderr: 0 },
        capped: { stdout: false, stderr: false },
        read: { stdout: false, stderr: false },  // read to the end once it ended
        filling: false,
        ansi: { stdout: new AnsiStream(), stderr: new AnsiStream() },
        empty: true,
      };
      o.emptyNote = h('span', { class: 'output-empty' }, 'waiting for output…');
      o.pre.append(o.emptyNote);
      o.el = h('div', { class: 'dispatch', 'data-worker': d.worker_name, 'data-dispatch': d.id },
        o.head, o.pre, o.note, o.more);
      o.more.addEventListener('click', () => this.fill(o, d.id, o.el.dataset.status));
      this.outputs.set(d.id, o);
      box.append(o.el);
    }
    o.el.dataset.status = d.status;
    // A target a stopped batch never ran has no output to wait for.
    if (d.status === 'skipped') o.emptyNote.textContent = 'never ran: a batch before it failed';
    o.el.dataset.attempt = d.attempt || 1;
    const label = attemptLabel(d, st.retry);
    const wait = retryWaitS(d);
    const exit = d.exit_code !== null && d.exit_code !== undefined
      ? h('span', { class: ['exit', d.exit_code === 0 ? 'exit-ok' : 'exit-bad'], 'data-test': 'exit' }, 'exit ' + d.exit_code) : null;
    replace(o.head,
      h('span', { class: 'dispatch-worker' }, d.worker_name || d.worker_id || 'worker'),
      label ? h('span', { class: 'attempt-label muted', 'data-test': 'attempt' }, label) : null,
      statusBadge(d.status),
      wait !== null ? h('span', { class: 'retry-wait', 'data-test': 'retry-wait', 'data-until': d.not_before }, retryWaitText(d.not_before)) : null,
      exit,
      d.signal ? h('span', { class: 'exit exit-bad' }, 'signal ' + d.signal) : null,
      d.duration_ms !== null && d.duration_ms !== undefined ? h('span', { class: 'muted' }, fmtDuration(d.duration_ms)) : null,
      d.error && d.status !== 'refused' ? h('span', { class: 'dispatch-error' }, d.error) : null);
    // The host's owner said no (WORKER_ALLOW_FILE): not a failure of the
    // command, which never ran; say so on its own line, as text.
    if (!o.refused && d.status === 'refused') {
      o.refused = h('p', { class: 'dispatch-refused', 'data-test': 'refused' });
      o.head.after(o.refused);
    }
    if (o.refused) {
      o.refused.hidden = d.status !== 'refused';
      o.refused.textContent = `refused by the worker's allow-list: ${d.error || 'no rule matches this command'}`;
    }
    // Splice whatever the server holds beyond what the stream gave us.
    for (const stream of ['stdout', 'stderr']) {
      const text = d[stream];
      if (typeof text !== 'string' || !text) continue;
      const bytes = enc.encode(text);
      if (bytes.length > o.have[stream]) {
        this.write(o, stream, dec.decode(bytes.subarray(o.have[stream])));
        o.have[stream] = bytes.length;
      }
    }
    // The execution's JSON carries the first 256 KiB of a stream; the rest
    // is read from the output endpoint when asked for (a step on many
    // workers must not load megabytes each).
    for (const stream of ['stdout', 'stderr']) {
      if (d[stream + '_more'] && !o.filling && !o.read[stream]) o.capped[stream] = true;
    }
    o.url = d.output_url || o.url;
    o.more.hidden = !(o.capped.stdout || o.capped.stderr) || !o.url;
    const trunc = ['stdout', 'stderr'].filter((x) => d[x + '_truncated'])
      .map((x) => `${x} truncated (${d[x + '_bytes']} bytes in all)`);
    o.note.textContent = trunc.join('; ');
    o.note.hidden = trunc.length === 0;
    // A skipped target keeps its own note (it never ran).
    if (o.empty && DISPATCH_DONE.has(d.status) && d.status !== 'skipped') o.emptyNote.textContent = 'no output';
  }

  onOutput(m) {
    const o = this.outputs.get(m.command_id);
    if (!o || (m.stream !== 'stdout' && m.stream !== 'stderr') || typeof m.data !== 'string') {
      this.refetchSoon();
      return;
    }
    const bytes = enc.encode(m.data);
    const offset = typeof m.offset === 'number' ? m.offset : o.have[m.stream];
    const have = o.have[m.stream];
    if (offset + bytes.length <= have) return;         // duplicate
    if (offset > have) {                                // a gap: the REST copy fills it,
      if (!o.capped[m.stream]) this.refetchSoon();      // unless past what it carries
      return;
    }
    this.write(o, m.stream, offset < have ? dec.decode(bytes.subarray(have - offset)) : m.data);
    o.have[m.stream] = offset + bytes.length;
  }

  // Everything past what was shown, a piece (at most 1 MiB) at a time.
  async fill(o, id, status) {
    if (o.filling || !o.url) return;
    o.filling = true;
    o.more.disabled = true;
    try {
      for (const stream of ['stdout', 'stderr']) {
        for (let i = 0; o.capped[stream] && i < 64; i++) {
          const q = new URLSearchParams({ command_id: id, stream, offset: String(o.have[stream]) });
          const r = await get(o.url + '?' + q);
          if (r.offset !== o.have[stream]) break;
          this.write(o, stream, r.data);
          o.have[stream] = r.next_offset ?? r.offset + byteLen(r.data);
          if (r.next_offset === null || r.next_offset === undefined) {
            o.capped[stream] = false;
            o.read[stream] = DISPATCH_DONE.has(status);
          }
        }
      }
    } catch (err) {
      toast('Could not load the output: ' + err.message, 'error');
    } finally {
      o.filling = false;
      o.more.disabled = false;
      o.more.hidden = !(o.capped.stdout || o.capped.stderr);
    }
  }

  write(o, stream, text) {
    if (!text) return;
    const pre = o.pre;
    const atBottom = pre.scrollHeight - pre.scrollTop - pre.clientHeight < 24;
    if (o.empty) { o.emptyNote.remove(); o.empty = false; }
    for (const seg of o.ansi[stream].feed(text)) {
      const cls = [...seg.cls];
      if (stream === 'stderr') cls.push('stderr');
      if (cls.length === 0) pre.append(document.createTextNode(seg.text));
      else pre.append(h('span', { class: cls }, seg.text));
    }
    if (atBottom) pre.scrollTop = pre.scrollHeight;
  }
}

export function executionPage(ctx, main, id) {
  const holder = h('div');
  const again = h('button', { type: 'button', class: 'btn', hidden: true, 'data-test': 'run-again' }, 'Run again');
  const compareSlot = h('span');
  replace(main,
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/executions' }, 'Executions'), ' / ',
      h('span', { class: 'mono small' }, id.slice(0, 8)), again, compareSlot),
    holder);
  const view = new ExecutionView(ctx, holder, id);
  compareSlot.append(compareControl(view));
  // The workflow as it is now: its parameters build the form, filled with
  // this execution's values; hidden when the caller may not start it.
  let wf = null;
  const show = setInterval(async () => {
    const e = view.exec;
    if (!e || e.kind === 'command' || !e.workflow_id || ctx.user.can_run === false || wf) return;
    wf = {};
    try { wf = await get('/api/workflows/' + encodeURIComponent(e.workflow_id)); } catch (err) { return; }
    again.hidden = wf.can_start === false;
  }, 500);
  again.addEventListener('click', () => {
    if (wf && wf.id) startWorkflow(wf, again, view.exec.params || {});
  });
  return () => { clearInterval(show); view.destroy(); };
}
