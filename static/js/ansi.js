// ANSI escape sequences in command output: SGR colours become CSS classes on
// text spans, every other escape sequence is dropped. The text itself is only
// ever inserted with createTextNode.

const ESC = '\u001b';

export class AnsiStream {
  constructor() {
    this.fg = null;
    this.bg = null;
    this.bold = false;
    this.dim = false;
    this.italic = false;
    this.underline = false;
    this.pending = '';  // an escape sequence cut in half by a chunk boundary
  }

  classes() {
    const c = [];
    if (this.fg !== null) c.push('ansi-fg-' + this.fg);
    if (this.bg !== null) c.push('ansi-bg-' + this.bg);
    if (this.bold) c.push('ansi-bold');
    if (this.dim) c.push('ansi-dim');
    if (this.italic) c.push('ansi-italic');
    if (this.underline) c.push('ansi-underline');
    return c;
  }

  sgr(params) {
    const p = params === '' ? [0] : params.split(';').map((x) => parseInt(x, 10) || 0);
    for (let i = 0; i < p.length; i++) {
      const n = p[i];
      if (n === 0) {
        this.fg = this.bg = null;
        this.bold = this.dim = this.italic = this.underline = false;
      } else if (n === 1) this.bold = true;
      else if (n === 2) this.dim = true;
      else if (n === 3) this.italic = true;
      else if (n === 4) this.underline = true;
      else if (n === 22) this.bold = this.dim = false;
      else if (n === 23) this.italic = false;
      else if (n === 24) this.underline = false;
      else if (n >= 30 && n <= 37) this.fg = n - 30;
      else if (n >= 90 && n <= 97) this.fg = n - 90 + 8;
      else if (n === 39) this.fg = null;
      else if (n >= 40 && n <= 47) this.bg = n - 40;
      else if (n >= 100 && n <= 107) this.bg = n - 100 + 8;
      else if (n === 49) this.bg = null;
      else if ((n === 38 || n === 48) && p[i + 1] === 5) {
        const v = p[i + 2];
        if (v >= 0 && v < 16) { if (n === 38) this.fg = v; else this.bg = v; }
        i += 2;
      } else if ((n === 38 || n === 48) && p[i + 1] === 2) {
        i += 4;  // truecolour: not mapped, dropped
      }
    }
  }

  // Returns [{text, cls: [...]}] for a chunk of output.
  feed(chunk) {
    let str = this.pending + chunk;
    this.pending = '';
    const out = [];
    let text = '';
    const flush = () => {
      if (text) out.push({ text, cls: this.classes() });
      text = '';
    };
    let i = 0;
    while (i < str.length) {
      const ch = str[i];
      if (ch !== ESC) {
        // Other C0 controls (except tab/newline) are not printable.
        const code = ch.charCodeAt(0);
        if (code < 32 && ch !== '\n' && ch !== '\t') {
          if (ch === '\r' && str[i + 1] !== '\n') text += '\n';
          i++;
          continue;
        }
        text += ch;
        i++;
        continue;
      }
      // An escape sequence.
      if (i + 1 >= str.length) { this.pending = str.slice(i); break; }
      const next = str[i + 1];
      if (next === '[') {
        let j = i + 2;
        while (j < str.length && /[0-?]/.test(str[j])) j++;
        while (j < str.length && /[ -/]/.test(str[j])) j++;
        if (j >= str.length) {
          if (str.length - i < 64) this.pending = str.slice(i);
          break;
        }
        const final = str[j];
        if (final === 'm') {
          flush();
          this.sgr(str.slice(i + 2, j).replace(/[^0-9;]/g, ''));
        }
        i = j + 1;
      } else if (next === ']') {
        // OSC: up to BEL or ESC \
        let j = i + 2;
        while (j < str.length && str[j] !== '\u0007' && !(str[j] === ESC && str[j + 1] === '\\')) j++;
        if (j >= str.length) {
          if (str.length - i < 256) this.pending = str.slice(i);
          break;
        }
        i = j + (str[j] === '\u0007' ? 1 : 2);
      } else {
        i += 2;
      }
    }
    flush();
    return out;
  }
}

export function stripAnsi(str) {
  return new AnsiStream().feed(str).map((p) => p.text).join('');
}
