// One real modal dialog (<dialog>.showModal: focus trapped, Esc closes),
// never window.confirm/alert/prompt.
import { h, replace } from './dom.js';

let closing = null;

function dialog() {
  return document.getElementById('modal');
}

// openModal({title, body, actions, onClose}) -> {close, el}
export function openModal({ title, body, actions = [], wide = false, onClose }) {
  const d = dialog();
  if (d.open) d.close('replaced');
  const close = (value) => { if (d.open) d.close(value === undefined ? '' : String(value)); };
  const head = h('div', { class: 'modal-head' },
    h('h2', { id: 'modal-title' }, title),
    h('button', { type: 'button', class: 'btn btn-ghost btn-icon', 'aria-label': 'Close', onclick: () => close('cancel') }, '×'));
  const foot = h('div', { class: 'modal-actions' }, actions);
  replace(d, h('div', { class: ['modal-body', wide && 'modal-wide'] }, head, body, foot));
  d.classList.toggle('modal-wide', wide);
  if (closing) d.removeEventListener('close', closing);
  closing = () => {
    d.removeEventListener('close', closing);
    closing = null;
    if (onClose) onClose(d.returnValue);
  };
  d.addEventListener('close', closing);
  d.showModal();
  const focus = d.querySelector('[autofocus]') || foot.querySelector('button');
  if (focus) focus.focus();
  return { close, el: d };
}

// confirmModal({title, message, confirm, danger}) -> Promise<boolean>
export function confirmModal({ title, message, confirm = 'Confirm', danger = false }) {
  return new Promise((resolve) => {
    let result = false;
    const ok = h('button', { type: 'button', class: ['btn', danger ? 'btn-danger' : 'btn-primary'], 'data-test': 'confirm' }, confirm);
    const cancel = h('button', { type: 'button', class: 'btn', autofocus: true }, 'Cancel');
    const m = openModal({
      title,
      body: h('div', { class: 'modal-text' }, message),
      actions: [cancel, ok],
      onClose: () => resolve(result),
    });
    ok.addEventListener('click', () => { result = true; m.close('ok'); });
    cancel.addEventListener('click', () => m.close('cancel'));
  });
}
