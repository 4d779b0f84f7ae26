// The audit trail (admins): every change and decision, newest first, with
// the API's filters (actor, action, target), paged by ?before=<id>, and a
// Verify button that asks the server to recompute the hash chain.
import { get } from '../api.js';
import { h, replace, timeEl } from '../dom.js';

const PAGE = 50;

function detailsText(d) {
  if (d === null || d === undefined) return '';
  return JSON.stringify(d, null, 2);
}

function targetCell(e) {
  if (!e.target_id) return '—';
  const label = (e.target_type ? e.target_type + ' ' : '') + e.target_id;
  const href = e.target_type === 'workflow' ? '#/workflows/' + encodeURIComponent(e.target_id)
    : e.target_type === 'execution' ? '#/executions/' + encodeURIComponent(e.target_id) : null;
  return href ? h('a', { href, class: 'mono small' }, label) : h('span', { class: 'mono small' }, label);
}

function entryRow(e) {
  const d = detailsText(e.details);
  return h('tr', { 'data-audit': String(e.id) },
    h('td', { 'data-label': 'Id', class: 'mono' }, String(e.id)),
    h('td', { 'data-label': 'When' }, timeEl(e.at)),
    h('td', { 'data-label': 'Who' }, h('strong', null, e.actor),
      Array.isArray(e.actor_groups) && e.actor_groups.length
        ? h('div', { class: 'muted small' }, e.actor_groups.join(', ')) : null,
      e.client_addr ? h('div', { class: 'muted small mono' }, e.client_addr) : null),
    h('td', { 'data-label': 'Action' }, h('span', { class: 'chip', 'data-test': 'audit-row-action' }, e.action)),
    h('td', { 'data-label': 'Target' }, targetCell(e)),
    h('td', { 'data-label': 'Details' }, d
      ? h('details', null, h('summary', null, d.length > 60 ? d.replace(/\s+/g, ' ').slice(0, 60) + '…' : d.replace(/\s+/g, ' ')),
        h('pre', { class: 'audit-details' }, d))
      : h('span', { class: 'muted' }, '—')));
}

export function auditView(ctx, main) {
  if (!ctx.user.is_admin) {
    replace(main, h('section', { class: 'empty-page' }, h('h1', null, 'Admins only'),
      h('p', null, 'Only administrators read the audit trail.')));
    return null;
  }
  const input = (name, ph) => h('input', { class: 'input', type: 'search', name, placeholder: ph, 'aria-label': ph,
    autocomplete: 'off', 'data-test': 'audit-' + name });
  const actor = input('actor', 'Actor (e.g. alice)');
  const action = input('action', 'Action (e.g. workflow.update)');
  const target = input('target', 'Target id');
  const verifyBtn = h('button', { type: 'button', class: 'btn', 'data-test': 'audit-verify' }, 'Verify chain');
  const verdict = h('p', { class: 'audit-verdict', role: 'status', 'data-test': 'audit-verdict', hidden: true });
  const wrap = h('div', { class: 'table-wrap' });
  const older = h('button', { type: 'button', class: 'btn', 'data-test': 'older', hidden: true }, 'Older entries');
  const form = h('form', { class: 'audit-filters', onsubmit: (ev) => { ev.preventDefault(); load(true); } },
    actor, action, target, h('button', { type: 'submit', class: 'btn btn-primary', 'data-test': 'audit-filter' }, 'Filter'));
  replace(main,
    h('div', { class: 'page-head' }, h('h1', null, 'Audit trail'), verifyBtn),
    verdict, form, wrap, h('div', { class: 'pager' }, older));

  let items = [];
  let next = null;
  const render = () => {
    replace(wrap, h('table', { class: 'table', 'data-test': 'audit' },
      h('thead', null, h('tr', null, ['Id', 'When', 'Who', 'Action', 'Target', 'Details'].map((x) => h('th', null, x)))),
      h('tbody', null, items.length ? items.map(entryRow)
        : h('tr', null, h('td', { class: 'empty', colspan: 6 }, 'No entries match.')))));
    older.hidden = next === null;
  };
  const load = async (fresh) => {
    const q = new URLSearchParams();
    for (const [k, el] of [['actor', actor], ['action', action], ['target', target]]) {
      if (el.value.trim()) q.set(k, el.value.trim());
    }
    q.set('limit', String(PAGE));
    if (!fresh && next !== null) q.set('before', String(next));
    older.disabled = true;
    try {
      const page = await get('/api/audit?' + q.toString());
      items = fresh ? page.entries : items.concat(page.entries);
      next = page.next_before;
      render();
    } catch (e) {
      replace(wrap, h('p', { class: 'form-error' }, 'Could not load the audit trail: ' + e.message));
    } finally {
      older.disabled = false;
    }
  };
  older.addEventListener('click', () => load(false));
  verifyBtn.addEventListener('click', async () => {
    verifyBtn.disabled = true;
    verdict.hidden = false;
    verdict.dataset.ok = '';
    verdict.textContent = 'Verifying…';
    try {
      const v = await get('/api/audit/verify');
      verdict.dataset.ok = v.ok ? 'true' : 'false';
      verdict.textContent = v.ok ? `Chain intact: ${v.rows} rows verified.`
        : `Chain broken at row ${v.first_bad_id} (${v.rows} rows fit before it): ${v.reason}`;
    } catch (e) {
      verdict.textContent = 'Could not verify: ' + e.message;
    } finally {
      verifyBtn.disabled = false;
    }
  });
  load(true);
  return null;
}
