// A step's attempts (SPEC section 14, retries): every attempt is its own
// dispatch; the dashboard shows each worker's attempts together, the
// latest first ("attempt 3 of 4") and the earlier ones folded under it,
// and a retry that waits for its delay as "retry in 4 s".
import { h } from '../dom.js';

// The dispatches of a step grouped by worker, in the order the workers
// first appear: [{ key, latest, earlier: [newest first] }].
export function groupAttempts(dispatches) {
  const groups = new Map();
  for (const d of dispatches || []) {
    const key = d.worker_id || d.worker_name || d.id;
    if (!groups.has(key)) groups.set(key, { key, all: [] });
    groups.get(key).all.push(d);
  }
  return [...groups.values()].map((g) => {
    const all = g.all.sort((a, b) => (b.attempt || 1) - (a.attempt || 1));
    return { key: g.key, latest: all[0], earlier: all.slice(1) };
  });
}

// "attempt 2 of 4", or null for a step without retries whose only
// attempt is its first (nothing to say).
export function attemptLabel(d, retry) {
  const n = d.attempt || 1;
  const of = retry && Number.isInteger(retry.attempts) ? retry.attempts + 1 : null;
  if (of === null && n === 1) return null;
  return of === null ? `attempt ${n}` : `attempt ${n} of ${Math.max(of, n)}`;
}

// Seconds until a queued retry may be sent, or null when it is not
// waiting (not a retry, already due, or no longer queued).
export function retryWaitS(d, now = Date.now()) {
  if (d.status !== 'queued' || !d.not_before) return null;
  const t = Date.parse(d.not_before);
  if (Number.isNaN(t) || t <= now) return null;
  return Math.ceil((t - now) / 1000);
}

// The element that holds one worker's attempts: the latest in `latest`,
// the earlier ones in a <details> folded by default.
export function attemptGroup(key) {
  const g = {
    latest: h('div', { class: 'attempt-latest' }),
    earlierBox: h('div', { class: 'attempts-earlier' }),
    summary: h('summary', { 'data-test': 'earlier-attempts' }),
  };
  g.details = h('details', { class: 'attempts', hidden: true }, g.summary, g.earlierBox);
  g.el = h('div', { class: 'dispatch-group', 'data-group': key }, g.latest, g.details);
  return g;
}

// Put each attempt's element where it belongs now (a new attempt moves
// the one before it into the folded list).
export function placeAttempts(g, group, elOf) {
  const latest = elOf(group.latest);
  if (latest && latest.parentNode !== g.latest) g.latest.append(latest);
  // Newest first among the earlier ones too (append moves an element).
  for (const d of group.earlier) {
    const el = elOf(d);
    if (el) g.earlierBox.append(el);
  }
  const n = group.earlier.length;
  g.details.hidden = n === 0;
  g.summary.textContent = n === 1 ? '1 earlier attempt' : `${n} earlier attempts`;
}

// The text of a waiting retry's countdown, from its not_before.
export function retryWaitText(notBefore, now = Date.now()) {
  const s = retryWaitS({ status: 'queued', not_before: notBefore }, now);
  return s === null ? 'retry due' : `retry in ${s} s`;
}
