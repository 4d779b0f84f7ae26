// A worker's trust (issue 13, SPEC §12) on the Workers page: its state
// (pending / accepted / revoked), the groups it was granted and those its
// agent asked for, a replacement candidate's old worker, a key rotation
// waiting for the agent's ack; and the admin's Accept, Edit groups, Rotate
// key and Revoke, each in a dialog that says what it does and shows the
// server's refusal next to its button.
import { post, put } from '../api.js';
import { h, toast } from '../dom.js';
import { openModal } from '../modal.js';

const STATES = ['pending', 'accepted', 'revoked'];

// The granted groups; an API from before issue 13 has only the agent's own
// metadata.groups.
export function grantedGroups(w) {
  if (Array.isArray(w.groups)) return w.groups.map(String);
  const m = w.metadata || {};
  return Array.isArray(m.groups) ? m.groups.map(String) : [];
}

function requestedGroups(w) {
  return Array.isArray(w.requested_groups) ? w.requested_groups.map(String) : null;
}

function sameSet(a, b) {
  const x = [...new Set(a)].sort();
  const y = [...new Set(b)].sort();
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

// Commanded only once accepted; a worker without a state (an API from
// before issue 13) is.
export function commandable(w) {
  return w.state === undefined || w.state === null || w.state === 'accepted';
}

// "a, b c" -> ["a", "b", "c"], each once, in the order typed.
export function parseGroups(text) {
  return [...new Set(String(text).split(/[\s,]+/).map((g) => g.trim()).filter(Boolean))];
}

export function chips(list, empty = '—') {
  return list.length ? list.map((g) => h('span', { class: 'chip' }, g)) : h('span', { class: 'muted' }, empty);
}

function oldName(w, byId) {
  const old = byId.get(w.replaces);
  return old ? old.name : 'worker ' + String(w.replaces).slice(0, 8);
}

// Under the worker's name: a replacement candidate says whose place it
// asks for, prominently.
export function replacesNote(w, byId) {
  if (!w.replaces || w.state !== 'pending') return null;
  return h('div', { class: 'trust-replaces', 'data-test': 'replaces' },
    'replacement for ', h('strong', null, oldName(w, byId)));
}

// In the status cell: the state badge and what it means for commands.
export function stateInfo(w) {
  if (!STATES.includes(w.state)) return null;
  const out = [h('span', { class: ['badge', 'trust-' + w.state], 'data-test': 'state', title: {
    pending: 'Enrolled with the shared key: waits for an admin to accept it',
    accepted: 'Trusted: runs commands and steps of its granted groups',
    revoked: 'Its key is dead: no socket, no heartbeat, no command',
  }[w.state] }, w.state)];
  if (w.state === 'pending') {
    out.push(h('div', { class: 'small warn-text trust-note', 'data-test': 'not-target' }, 'not commanded until accepted'));
  } else if (w.state === 'revoked') {
    out.push(h('div', { class: 'small muted trust-note' }, 'key dead, never commanded'));
  }
  if (w.rotation === 'pending') {
    out.push(h('div', { class: 'small trust-rotation', 'data-test': 'rotation',
      title: 'A new key was offered; the old one works until the worker acknowledges it' },
    'rotation pending'));
  }
  return out;
}

// The groups cell: granted, and what the agent asked for when it differs.
export function groupsInfo(w) {
  const granted = grantedGroups(w);
  const asked = requestedGroups(w);
  return [
    h('div', { 'data-test': 'groups' }, chips(granted, w.state === 'pending' ? 'none yet' : '—')),
    asked && !sameSet(asked, granted)
      ? h('div', { class: 'small muted', 'data-test': 'requested' }, 'asked for: ', chips(asked, 'none'))
      : null,
  ];
}

// actionDialog: a dialog whose confirm button runs act(m); a refusal keeps
// it open with the server's message beside the button, and so does an act
// that returns true (it has put something else in m.form).
export function actionDialog({ title, body, confirm, danger = false, test, act }) {
  const err = h('p', { class: 'form-error trust-error', role: 'alert', 'data-test': 'action-error', hidden: true });
  const ok = h('button', { type: 'submit', class: ['btn', danger ? 'btn-danger' : 'btn-primary'], 'data-test': test }, confirm);
  const cancel = h('button', { type: 'button', class: 'btn', onclick: () => m.close('cancel'),
    autofocus: !body.querySelector('[autofocus]') }, 'Cancel');
  const form = h('form', { class: 'form', onsubmit: async (ev) => {
    ev.preventDefault();
    ok.disabled = true;
    err.hidden = true;
    try {
      if (!(await act(m))) m.close('ok');
    } catch (e) {
      err.textContent = e.message;
      err.hidden = false;
    } finally {
      ok.disabled = false;
    }
  } }, body, h('div', { class: 'modal-actions' }, err, cancel, ok));
  const m = openModal({ title, body: form });
  m.form = form;
  return m;
}

function groupsField(id, value, hint) {
  return h('div', { class: 'form-field' },
    h('label', { for: id }, 'Granted groups'),
    h('input', { id, class: 'input mono', type: 'text', value: value.join(', '), autofocus: true,
      autocomplete: 'off', spellcheck: 'false', 'data-test': 'groups-input', placeholder: 'web, db' }),
    h('p', { class: 'hint' }, hint));
}

const GROUPS_HINT = 'Comma-separated. The worker runs the steps of these groups only; ' +
  'what its agent claims later never widens them.';

function done(ctx, msg) {
  toast(msg, 'ok');
  ctx.workers.load();
}

function acceptDialog(ctx, w, byId) {
  const asked = requestedGroups(w) || [];
  const field = groupsField('accept-groups', asked, GROUPS_HINT);
  const input = field.querySelector('input');
  const old = w.replaces ? oldName(w, byId) : null;
  const body = h('div', null,
    h('p', { class: 'modal-text' }, 'The agent ', h('strong', null, w.name), ' asked for: ',
      h('span', { 'data-test': 'asked' }, chips(asked, 'no groups'))),
    old ? h('div', { class: 'banner trust-banner', 'data-test': 'replace-effect' },
      h('strong', null, 'This agent presented the name ' + old + '. '),
      'Accepting it revokes the worker ', h('strong', null, old),
      ' (its key dies, its socket is closed), renames that one "' + old + ' (replaced ' +
      String(w.replaces).slice(0, 8) + ')", and this worker takes the name ',
      h('strong', null, old), '.') : null,
    field);
  actionDialog({
    title: 'Accept worker', body, confirm: old ? 'Accept and replace ' + old : 'Accept', test: 'accept-confirm',
    act: async () => {
      await post(`/api/workers/${encodeURIComponent(w.id)}/accept`, { groups: parseGroups(input.value) });
      done(ctx, 'Accepted ' + (old || w.name));
    },
  });
}

function groupsDialog(ctx, w) {
  const field = groupsField('edit-groups', grantedGroups(w), GROUPS_HINT);
  const input = field.querySelector('input');
  const asked = requestedGroups(w);
  actionDialog({
    title: 'Groups of ' + w.name,
    body: h('div', null,
      asked ? h('p', { class: 'modal-text' }, 'Its agent asked for: ', chips(asked, 'no groups')) : null,
      field),
    confirm: 'Save groups', test: 'groups-confirm',
    act: async () => {
      await put(`/api/workers/${encodeURIComponent(w.id)}/groups`, { groups: parseGroups(input.value) });
      done(ctx, 'Saved the groups of ' + w.name);
    },
  });
}

function rotateDialog(ctx, w) {
  actionDialog({
    title: 'Rotate the key of ' + w.name,
    body: h('p', { class: 'modal-text' }, 'A new key goes to ', h('strong', null, w.name),
      ' over its socket; the agent stores it and acknowledges, and the old key dies at that moment. ' +
      'Until then the worker reads "rotation pending" and keeps working with its old key; ' +
      'an offline worker gets the new key when it reconnects.'),
    confirm: 'Rotate key', test: 'rotate-confirm',
    act: async () => {
      await post(`/api/workers/${encodeURIComponent(w.id)}/rotate`);
      done(ctx, 'Sent a new key to ' + w.name);
    },
  });
}

function revokeDialog(ctx, w) {
  actionDialog({
    title: 'Revoke ' + w.name,
    body: h('p', { class: 'modal-text' }, 'Revoke ', h('strong', null, w.name), '? Its key dies now: ' +
      'its socket is closed within a second, its heartbeats are refused, it receives no more commands ' +
      'and a result it still sends is not accepted. The agent cannot come back with this key; ' +
      'to trust the server again, enroll it anew.'),
    confirm: 'Revoke', danger: true, test: 'revoke-confirm',
    act: async () => {
      await post(`/api/workers/${encodeURIComponent(w.id)}/revoke`);
      done(ctx, 'Revoked ' + w.name);
    },
  });
}

// The admin's trust buttons for one row (before Run command and Delete).
export function trustActions(ctx, w, byId) {
  if (!STATES.includes(w.state)) return [];
  const btn = (label, test, onclick, extra = {}) =>
    h('button', { type: 'button', class: ['btn', 'btn-small', extra.cls], 'data-test': test,
      title: extra.title, disabled: extra.disabled, onclick }, label);
  const out = [];
  if (w.state === 'pending') {
    out.push(btn(w.replaces ? 'Accept…' : 'Accept', 'accept', () => acceptDialog(ctx, w, byId), { cls: 'btn-primary' }));
  }
  if (w.state === 'accepted') {
    out.push(btn('Groups', 'edit-groups', () => groupsDialog(ctx, w), { title: 'Edit the granted groups' }));
    out.push(btn('Rotate key', 'rotate', () => rotateDialog(ctx, w), {
      disabled: w.has_key === false || w.rotation === 'pending',
      title: w.has_key === false ? 'A version-1 agent without its own key cannot take a new one'
        : w.rotation === 'pending' ? 'Waiting for the worker to acknowledge the new key' : 'Give the worker a new key',
    }));
  }
  if (w.state !== 'revoked') {
    out.push(btn('Revoke', 'revoke', () => revokeDialog(ctx, w), { cls: 'btn-danger-ghost' }));
  }
  return out;
}
