// Approvals on a frozen plan (SPEC §15): on an execution, the plan exactly
// as it will run (every step with its targets as written and its command or
// message expanded, the parameters), its short hash, who decided what, the
// deadline, and Approve / Reject with a comment, which send the full hash of
// the plan shown. In the nav, "N awaiting approval", kept live.
import { ApiError, get, post } from '../api.js';
import { h, replace, timeEl, exactTime, debounce, fmtDuration, toast } from '../dom.js';

const COMMENT_MAX = 1000;       // characters, as the API counts them
const SHORT_HASH = 12;
const EXPIRES_DEFAULT_MS = 86400000;  // the API's default expires_in: 24 h
// The keys a step shows in its own line; every other key is listed.
const SHOWN = new Set(['name', 'type', 'targets', 'command', 'message', 'steps']);

export function shortHash(hash) {
  return typeof hash === 'string' ? hash.slice(0, SHORT_HASH) : '';
}

function valueText(v) {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

// Targets as the definition wrote them: ["web", "group:db"] or "all".
function targetsText(t) {
  return Array.isArray(t) ? t.map(valueText).join(', ') : valueText(t);
}

function planStep(st, label) {
  // Everything else the step says (timeout, condition, retry, batch, ...).
  const other = Object.keys(st).filter((k) => !SHOWN.has(k) && !(st.type === 'prompt' && k === 'options')).sort();
  const text = st.type === 'prompt' ? st.message : st.command;
  return h('li', { class: 'plan-step', 'data-test': 'plan-step', 'data-type': st.type || '' },
    h('div', { class: 'plan-step-head' },
      h('span', { class: 'plan-step-no' }, label),
      h('span', { class: 'plan-step-name' }, st.name || ''),
      h('span', { class: 'tag' }, st.type || '')),
    st.targets !== undefined ? h('p', { class: 'plan-targets', 'data-test': 'plan-targets' },
      h('span', { class: 'muted' }, 'targets '), h('span', { class: 'mono' }, targetsText(st.targets))) : null,
    typeof text === 'string' ? h('pre', { class: ['plan-text', st.type === 'prompt' && 'plan-message'],
      'data-test': st.type === 'prompt' ? 'plan-message' : 'plan-command' }, text) : null,
    // A sub-workflow runs the version it was pinned to when the plan froze.
    st.type === 'workflow' && typeof st.workflow_id === 'string'
      ? h('p', { class: 'plan-targets', 'data-test': 'plan-subworkflow' }, h('span', { class: 'muted' }, 'runs '),
        h('a', { href: '#/workflows/' + encodeURIComponent(st.workflow_id) +
          (st.workflow_version ? '/versions/' + encodeURIComponent(st.workflow_version) : '') },
        'workflow ' + st.workflow_id.slice(0, 8) + (st.workflow_version ? ', version ' + st.workflow_version : '')))
      : null,
    st.type === 'prompt' && Array.isArray(st.options)
      ? h('p', { class: 'muted small' }, 'options: ', st.options.map(valueText).join(' / ')) : null,
    other.length ? h('dl', { class: 'plan-keys' },
      other.map((k) => [h('dt', null, k), h('dd', { class: 'mono' }, valueText(st[k]))])) : null,
    Array.isArray(st.steps) ? h('ol', { class: 'plan-steps plan-substeps' },
      st.steps.map((c, i) => planStep(c, label + '.' + (i + 1)))) : null);
}

// The frozen plan, read-only, as text (never markup).
export function planView(plan) {
  if (!plan || typeof plan !== 'object') return h('p', { class: 'muted' }, 'No plan.');
  const params = plan.params && typeof plan.params === 'object' ? Object.entries(plan.params) : [];
  return h('div', { class: 'plan', 'data-test': 'plan' },
    h('p', { class: 'plan-version muted' }, 'workflow version ', h('strong', null, String(plan.version ?? '—'))),
    h('h3', { class: 'plan-sub' }, 'Parameters'),
    params.length ? h('dl', { class: 'plan-keys plan-params', 'data-test': 'plan-params' },
      params.map(([k, v]) => [h('dt', null, k), h('dd', { class: 'mono' }, valueText(v))]))
      : h('p', { class: 'muted small', 'data-test': 'plan-params' }, 'none'),
    h('h3', { class: 'plan-sub' }, 'Steps'),
    h('ol', { class: 'plan-steps' }, (plan.steps || []).map((st, i) => planStep(st, String(i + 1)))),
    Array.isArray(plan.on_failure) ? [h('h3', { class: 'plan-sub' }, 'On failure'),
      h('ol', { class: 'plan-steps', 'data-test': 'plan-on-failure' },
        plan.on_failure.map((st, i) => planStep(st, 'F' + (i + 1))))] : null,
    // Every workflow the tree may start, at the version it will run (the
    // hash covers these pins, so nested sub-workflows run as approved).
    subworkflowPins(plan.subworkflows));
}

function subworkflowPins(pins) {
  if (!pins || typeof pins !== 'object' || !Object.keys(pins).length) return null;
  return [h('h3', { class: 'plan-sub' }, 'Sub-workflows, pinned'),
    h('ul', { class: 'plan-keys', 'data-test': 'plan-pins' },
      Object.entries(pins).map(([id, v]) => h('li', null,
        h('a', { href: '#/workflows/' + encodeURIComponent(id) + '/versions/' + encodeURIComponent(String(v)) },
          'workflow ' + id.slice(0, 8) + ', version ' + String(v)))))];
}

function decisionRow(a) {
  return h('li', { class: 'decision', 'data-test': 'decision', 'data-approver': a.approver, 'data-decision': a.decision },
    h('strong', null, a.approver), ' ',
    h('span', { class: ['badge', a.decision === 'approve' ? 'st-approved' : 'st-rejected'] },
      a.decision === 'approve' ? 'approved' : 'rejected'), ' ',
    timeEl(a.at),
    a.comment ? h('p', { class: 'decision-comment', 'data-test': 'decision-comment' }, a.comment) : null);
}

// On a workflow's page: what a start of it waits for.
export function approvalNote(def) {
  const ap = def && def.approval;
  if (!ap || typeof ap !== 'object') return null;
  const n = ap.required ?? 1;
  return h('p', { class: 'approval-note', 'data-test': 'wf-approval' }, 'Each start waits for ',
    h('strong', null, `${n} approval${n === 1 ? '' : 's'}`), ' from ',
    h('strong', null, (ap.approvers || []).join(', ')), ' (not the starter), at most ',
    fmtDuration(ap.expires_in ?? EXPIRES_DEFAULT_MS), '; then the plan shown to them runs.');
}

// One execution's approval box; the execution view calls render(e) with
// every version of the execution it shows.
export class ApprovalPanel {
  constructor(view) {
    this.view = view;
    this.hash = null;          // the hash of the plan on screen
    this.wasOpen = null;       // awaiting approval at the last render
    this.changed = false;      // a 409 said the plan changed: say so
    this.el = h('section', { class: 'approval', 'data-test': 'approval', hidden: true, 'aria-label': 'Approval' });
    this.head = h('div', { class: 'approval-head' });
    this.facts = h('div', { class: 'approval-facts' });
    this.notice = h('p', { class: 'approval-notice', 'data-test': 'plan-changed', role: 'alert', hidden: true },
      'The plan changed; review it again.');
    this.decisions = h('ul', { class: 'decisions', 'data-test': 'decisions' });
    this.planBox = h('details', { class: 'approval-plan', open: true },
      h('summary', null, 'The plan as it will run'), h('div'));
    this.comment = h('textarea', { class: 'input approval-comment', rows: 2, maxlength: COMMENT_MAX,
      'data-test': 'approve-comment', placeholder: 'Comment (optional): what you checked, or why not',
      'aria-label': 'Comment' });
    this.approveBtn = h('button', { type: 'button', class: 'btn btn-primary', 'data-test': 'approve',
      onclick: () => this.decide('approve') }, 'Approve');
    this.rejectBtn = h('button', { type: 'button', class: 'btn btn-danger-ghost', 'data-test': 'reject',
      onclick: () => this.decide('reject') }, 'Reject');
    this.form = h('div', { class: 'approval-form', 'data-test': 'approve-form' },
      this.comment, h('div', { class: 'approval-buttons' }, this.approveBtn, this.rejectBtn));
    this.refusal = h('p', { class: 'approval-refusal', 'data-test': 'approve-refusal' });
    // The plan before the buttons: read, then decide. Why one may not
    // decide is said at the top.
    replace(this.el, this.head, this.facts, this.refusal, this.notice, this.decisions, this.planBox, this.form);
    this.offs = [view.ctx.live.on('execution_approval', (m) => {
      if (m.execution_id === view.id) view.refetchSoon();
    })];
  }

  destroy() {
    for (const off of this.offs) off();
  }

  render(e) {
    this.el.hidden = !e.plan_hash;
    if (!e.plan_hash) return;
    const ap = e.approval || {};
    const list = Array.isArray(e.approvals) ? e.approvals : [];
    const yes = list.filter((a) => a.decision === 'approve').length;
    const open = e.status === 'awaiting_approval';
    const state = open ? `Awaiting approval: ${yes} of ${ap.required ?? '?'}`
      : e.status === 'rejected' ? 'Rejected' : e.status === 'expired' ? 'Expired: no decision in time'
        : e.status === 'cancelled' && yes < (ap.required ?? 1) ? 'Cancelled before approval' : 'Approved';
    this.el.dataset.state = open ? 'open' : e.status;
    replace(this.head,
      h('h2', { class: 'approval-title' }, state),
      h('span', { class: 'approval-hash mono', 'data-test': 'plan-hash', title: 'SHA-256 of the plan: ' + e.plan_hash },
        'plan ', shortHash(e.plan_hash)));
    replace(this.facts,
      h('span', null, 'needs ', h('strong', { 'data-test': 'approval-required' }, String(ap.required ?? '—')),
        ` approval${ap.required === 1 ? '' : 's'} from `,
        h('strong', { 'data-test': 'approval-approvers' }, (ap.approvers || []).join(', ') || '—')),
      ap.expires_at && (open || e.status === 'expired') ? h('span', { 'data-test': 'approval-deadline',
        title: exactTime(ap.expires_at) }, open ? 'deadline ' : 'expired ', timeEl(ap.expires_at)) : null,
      open ? h('span', { class: 'muted' }, 'the starter cannot approve') : null);
    replace(this.decisions, list.map(decisionRow));
    this.decisions.hidden = list.length === 0;
    // The plan is frozen: drawn again only if its hash is not the one shown.
    if (e.plan_hash !== this.hash) {
      if (this.hash !== null) this.changed = true;
      this.hash = e.plan_hash;
      replace(this.planBox.lastChild, planView(e.plan));
      this.enable(true);
    }
    // Open while it waits for a decision; folded once decided (a click
    // opens it again).
    if (open !== this.wasOpen) this.planBox.open = open;
    this.wasOpen = open;
    this.planBox.firstChild.textContent = open ? 'The plan as it will run' : 'The plan';
    this.notice.hidden = !this.changed || !open;
    this.form.hidden = !open || !e.can_approve;
    this.refusal.hidden = !open || !!e.can_approve || !e.approve_refusal;
    this.refusal.textContent = e.approve_refusal ? 'You cannot approve: ' + e.approve_refusal : '';
  }

  async decide(decision) {
    const hash = this.hash;
    const comment = this.comment.value.trim();
    if ([...comment].length > COMMENT_MAX) {
      toast(`The comment is longer than ${COMMENT_MAX} characters.`, 'error');
      return;
    }
    this.enable(false);
    try {
      const body = { plan_hash: hash, decision };
      if (comment) body.comment = comment;
      const e = await post(`/api/executions/${encodeURIComponent(this.view.id)}/approve`, body);
      this.comment.value = '';
      this.changed = false;
      if (e && e.id) this.view.render(e);
      toast(decision === 'approve' ? 'Approved.' : 'Rejected.', 'info');
    } catch (err) {
      if (err instanceof ApiError && err.status === 409 && typeof err.body.plan_hash === 'string') {
        // What was shown is not what awaits approval: show the plan again,
        // and keep the comment, for another look.
        // The buttons wait for it (render enables them).
        this.changed = true;
        this.hash = null;
        toast('The plan changed; review it again.', 'error');
      } else {
        toast('Could not record the decision: ' + err.message, 'error');
      }
    } finally {
      if (this.hash !== null) this.enable(true);
    }
    this.view.refetchSoon();
  }

  enable(on) {
    this.approveBtn.disabled = !on;
    this.rejectBtn.disabled = !on;
  }
}

// The nav's "N awaiting approval", linking to the filtered list; a toast
// for each request that arrives while the page is open, to the members of
// its approver groups.
export function approvalNav(ctx, link) {
  const count = link.querySelector('[data-test=approvals-count]');
  const load = async () => {
    try {
      const list = await get('/api/executions?status=awaiting_approval&limit=200');
      const n = Array.isArray(list) ? list.length : 0;
      count.textContent = n >= 200 ? '200+' : String(n);
      link.title = `${n} execution${n === 1 ? '' : 's'} awaiting approval`;
      link.setAttribute('aria-label', link.title);
      link.hidden = n === 0;
    } catch (e) {
      /* the next event or resync tries again */
    }
  };
  const reload = debounce(load, 250);
  const groups = Array.isArray(ctx.user.groups) ? ctx.user.groups : [];
  ctx.live.on('execution_approval', (m) => {
    // The toast is for those who may decide: a member of an approver group.
    const mine = Array.isArray(m.approvers) && m.approvers.some((g) => groups.includes(g));
    if (m.event === 'requested' && m.execution_id && mine) {
      toast(`Approval requested: ${m.workflow_name || 'an execution'} (plan ${shortHash(m.plan_hash)})`, 'info');
    }
    reload();
  });
  ctx.live.on('execution_status', reload);
  ctx.live.on('resync', reload);
  ctx.live.on('connected', reload);
  load();
}
