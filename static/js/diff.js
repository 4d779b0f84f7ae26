// A line diff (Myers' O(ND) algorithm, "An O(ND) Difference Algorithm and
// Its Variations", 1986): the shortest edit script between two texts as a
// list of {op, a, b, text}, op ' ' (same), '-' (only in a), '+' (only in
// b); a and b are 1-based line numbers (0 where the line has none). Text
// only: the caller puts each line into a text node.

// Past this many differing lines the trace would grow large (D^2): the
// caller shows the two texts side by side instead.
export const DIFF_MAX_EDITS = 2000;

export function diffLines(aText, bText) {
  const a = aText === '' ? [] : aText.split('\n');
  const b = bText === '' ? [] : bText.split('\n');
  const n = a.length;
  const m = b.length;
  const max = n + m;
  const off = max + 1;
  const v = new Int32Array(2 * max + 3);
  const trace = [];
  let found = -1;
  for (let d = 0; d <= Math.min(max, DIFF_MAX_EDITS); d++) {
    trace.push(v.slice());
    for (let k = -d; k <= d; k += 2) {
      let x = (k === -d || (k !== d && v[off + k - 1] < v[off + k + 1]))
        ? v[off + k + 1] : v[off + k - 1] + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) { x++; y++; }
      v[off + k] = x;
      if (x >= n && y >= m) { found = d; break; }
    }
    if (found >= 0) break;
  }
  if (found < 0) return null;  // too different: more than DIFF_MAX_EDITS

  // Walk the trace back from (n, m) to (0, 0).
  const out = [];
  let x = n;
  let y = m;
  for (let d = found; d > 0; d--) {
    const vd = trace[d];
    const k = x - y;
    const prevK = (k === -d || (k !== d && vd[off + k - 1] < vd[off + k + 1])) ? k + 1 : k - 1;
    const prevX = vd[off + prevK];
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) { out.push({ op: ' ', a: x, b: y, text: a[x - 1] }); x--; y--; }
    if (x === prevX) { out.push({ op: '+', a: 0, b: y, text: b[y - 1] }); y--; }
    else { out.push({ op: '-', a: x, b: 0, text: a[x - 1] }); x--; }
  }
  while (x > 0 && y > 0) { out.push({ op: ' ', a: x, b: y, text: a[x - 1] }); x--; y--; }
  return out.reverse();
}
