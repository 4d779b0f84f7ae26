// PULSE dashboard: start-up, who am I, the live connection indicator and the
// hash router (#/workers, #/workflows, #/workflows/ID, #/workflows/new,
// #/workflows/ID/edit, #/workflows/ID/versions/N (its history), #/executions,
// #/executions/ID, #/executions/A/compare/B, #/schedules, #/audit and
// #/notifications for admins). A query after the path
// (#/executions?status=awaiting_approval) is the view's to read.
import { ApiError, get } from './api.js';
import { h, replace, tickTimes } from './dom.js';
import { Live } from './live.js';
import { WorkerStore } from './store.js';
import { workersView } from './views/workers.js';
import { workflowsView, workflowView, workflowEditView } from './views/workflows.js';
import { executionsView } from './views/executions.js';
import { executionPage } from './views/execution.js';
import { compareView } from './views/compare.js';
import { auditView } from './views/audit.js';
import { approvalNav } from './views/approval.js';
import { channelsView } from './views/channels.js';
import { schedulesView } from './views/schedules.js';

const routes = [
  [/^\/workers$/, 'workers', workersView],
  [/^\/workflows$/, 'workflows', workflowsView],
  [/^\/workflows\/new$/, 'workflows', (ctx, el) => workflowEditView(ctx, el, null)],
  [/^\/workflows\/([\w-]+)\/edit$/, 'workflows', (ctx, el, id) => workflowEditView(ctx, el, id)],
  [/^\/workflows\/([\w-]+)$/, 'workflows', workflowView],
  [/^\/workflows\/([\w-]+)\/versions\/(\d+)$/, 'workflows', workflowView],
  [/^\/executions$/, 'executions', executionsView],
  [/^\/executions\/([\w-]+)$/, 'executions', executionPage],
  [/^\/executions\/([\w-]+)\/compare\/([\w-]+)$/, 'executions', compareView],
  [/^\/audit$/, 'audit', auditView],
  [/^\/notifications$/, 'notifications', channelsView],
  [/^\/schedules$/, 'schedules', schedulesView],
];

const LIVE_LABELS = {
  connecting: 'connecting',
  live: 'live',
  'catching-up': 'catching up',
  offline: 'reconnecting',
};

let cleanup = null;

function renderMe(user) {
  const me = document.getElementById('me');
  const groups = Array.isArray(user.groups) ? user.groups.join(', ') : String(user.groups || '');
  replace(me,
    h('span', { class: 'me-name', title: (user.email || '') + (groups ? ' · groups: ' + groups : '') },
      user.name || user.username),
    h('span', { class: ['role', 'role-' + (user.is_admin ? 'admin' : 'employee')], 'data-test': 'role' },
      user.is_admin ? 'admin' : (user.role || 'employee')));
}

function renderLive(live) {
  const el = document.getElementById('live');
  const label = el.querySelector('.live-label');
  live.on('state', ({ state, detail }) => {
    el.dataset.state = state;
    label.textContent = LIVE_LABELS[state] || state;
    el.title = state === 'offline'
      ? 'Live updates lost; retrying in ' + Math.round(detail / 100) / 10 + ' s'
      : 'Live updates: ' + (LIVE_LABELS[state] || state) +
        (live.lastEventId !== null ? ' (event ' + live.lastEventId + ')' : '');
  });
}

function page(title, text, extra) {
  const main = document.getElementById('main');
  replace(main, h('section', { class: 'empty-page', 'data-test': 'no-access' },
    h('h1', null, title), h('p', null, text), extra));
  document.getElementById('nav').hidden = true;
  document.getElementById('live').hidden = true;
}

function route(ctx) {
  const path = (location.hash.replace(/^#/, '').replace(/\?.*$/, '') || '/workers').replace(/\/+$/, '') || '/workers';
  if (cleanup) { try { cleanup(); } catch (e) { console.error(e); } cleanup = null; }
  const main = document.getElementById('main');
  replace(main);
  for (const [re, nav, view] of routes) {
    const m = path.match(re);
    if (!m) continue;
    for (const a of document.querySelectorAll('#nav a')) {
      if (a.dataset.nav === nav) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    const r = view(ctx, main, ...m.slice(1));
    cleanup = typeof r === 'function' ? r : null;
    main.focus({ preventScroll: true });
    window.scrollTo(0, 0);
    return;
  }
  replace(main, h('section', { class: 'empty-page' }, h('h1', null, 'Not found'),
    h('p', null, 'There is nothing at this address. '), h('a', { href: '#/workers' }, 'Go to the workers')));
}

async function boot() {
  let user;
  try {
    user = await get('/api/user');
  } catch (e) {
    if (e instanceof ApiError && e.status === 403) {
      page('No access',
        'You are signed in, but your account is not in a group that may use PULSE. ' +
        'Ask an administrator to add you to the admin or employee group.',
        h('p', { class: 'muted' }, e.message));
    } else if (e instanceof ApiError && e.status === 401) {
      page('Signed out', 'Your session has ended. Reload the page to sign in again.');
    } else {
      page('PULSE is unreachable', 'The control center did not answer: ' + e.message + '. Retrying…');
      setTimeout(boot, 5000);
    }
    return;
  }
  document.getElementById('nav').hidden = false;
  document.getElementById('live').hidden = false;
  renderMe(user);
  document.querySelector('#nav [data-nav="audit"]').hidden = !user.is_admin;
  document.querySelector('#nav [data-nav="notifications"]').hidden = !user.is_admin;
  const live = new Live();
  renderLive(live);
  const workers = new WorkerStore(live);
  const ctx = { user, live, workers };
  live.start();
  workers.start();
  approvalNav(ctx, document.querySelector('#nav [data-nav="approvals"]'));
  window.addEventListener('hashchange', () => route(ctx));
  setInterval(() => tickTimes(), 1000);
  route(ctx);
}

boot();
