// Reading structured header field values (RFC 5322 §3.2 lexical tokens, RFC 2045 §5.1 MIME tokens)
// one token at a time, leniently: the address lists of ENVELOPE and the parameters of Content-Type
// and Content-Disposition. White space and comments between tokens are skipped, and the text of the
// last comment skipped is kept, since a comment after a bare address is its display name by
// tradition (`user@host (Name)`), as Dovecot and UW IMAP read it.
//
// Values are unfolded strings with 8-bit text already decoded; any character above 127 counts as
// atom text, so raw UTF-8 names read as atoms.

/** RFC 5322 atext, and every non-ASCII character. */
const isAtext = (c: string) => c !== '' && (c > '\x7f' || /[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]/.test(c));
/** RFC 2045 token characters: atext without the tspecials "/", "=" and "?". */
const isTokenChar = (c: string) => isAtext(c) && c !== '/' && c !== '=' && c !== '?';

export class HeaderScanner {
  at = 0;
  /** The text of the last comment skipped (without its parentheses and quoting backslashes). */
  lastComment = '';

  constructor(readonly text: string) {}

  /** The character at the current position ('' at the end). */
  peek(): string {
    return this.text[this.at] ?? '';
  }

  get atEnd(): boolean {
    return this.at >= this.text.length;
  }

  /** Skips white space and comments; false if a comment is never closed (the rest is skipped). */
  skipCfws(): boolean {
    while (!this.atEnd) {
      const c = this.peek();
      if (c === ' ' || c === '\t' || c === '\r' || c === '\n') this.at++;
      else if (c === '(') {
        if (!this.skipComment()) return false;
      } else break;
    }
    return true;
  }

  private skipComment(): boolean {
    let depth = 0;
    let comment = '';
    for (; !this.atEnd; this.at++) {
      const c = this.peek();
      if (c === '\\') {
        this.at++;
        comment += this.peek();
        continue;
      }
      if (c === '(' && depth++ === 0) continue;
      if (c === ')' && --depth === 0) {
        this.at++;
        this.lastComment = comment;
        return true;
      }
      comment += c;
    }
    return false;
  }

  /** A quoted-string's content, unquoted, then CFWS; undefined if it is never closed. */
  quotedString(): string | undefined {
    let value = '';
    for (this.at++; !this.atEnd; this.at++) {
      const c = this.peek();
      if (c === '"') {
        this.at++;
        this.skipCfws();
        return value;
      }
      if (c === '\\') value += this.text[++this.at] ?? '';
      else if (c !== '\r' && c !== '\n') value += c;
    }
    return undefined;
  }

  /** A dot-atom (white space allowed around the dots, as RFC 822 did), then CFWS; undefined if no atom starts here. */
  dotAtom(): string | undefined {
    if (!isAtext(this.peek())) return undefined;
    let value = '';
    for (;;) {
      value += this.run(isAtext);
      this.skipCfws();
      if (this.peek() !== '.') return value;
      this.at++;
      value += '.';
      this.skipCfws();
      if (!isAtext(this.peek())) return value;
    }
  }

  /**
   * A phrase (RFC 5322 obs-phrase: words, dots and CFWS), words joined by one space; '' when none
   * starts here; undefined when it starts with a dot or a quoted string is never closed.
   */
  phrase(): string | undefined {
    if (this.peek() === '.') return undefined;
    const words: string[] = [];
    for (;;) {
      if (this.peek() === '"') {
        const word = this.quotedString();
        if (word === undefined) return undefined;
        words.push(word);
      } else {
        words.push(this.run((c) => isAtext(c) || c === '.'));
        this.skipCfws();
      }
      if (!isAtext(this.peek()) && this.peek() !== '"' && this.peek() !== '.') return words.join(' ');
    }
  }

  /** A domain after "@": a dot-atom or a [domain literal], then CFWS; undefined if there is none. */
  domain(): string | undefined {
    this.at++; // the "@"
    this.skipCfws();
    if (this.peek() !== '[') return this.dotAtom();
    const start = this.at;
    for (; !this.atEnd; this.at++) {
      if (this.peek() === '\\') this.at++;
      else if (this.peek() === ']') {
        this.at++;
        const literal = this.text.slice(start, this.at);
        this.skipCfws();
        return literal;
      }
    }
    return undefined;
  }

  /** A MIME token (dots allowed, as Dovecot reads them), then CFWS; may be ''. */
  token(): string {
    const value = this.run((c) => isTokenChar(c) || c === '.');
    this.skipCfws();
    return value;
  }

  /** Characters up to a space, tab or ";" (a broken parameter value such as `name==?utf-8?b?...?=`). */
  bare(): string {
    return this.run((c) => c !== ';' && c !== ' ' && c !== '\t');
  }

  private run(accepts: (c: string) => boolean): string {
    const start = this.at;
    while (!this.atEnd && accepts(this.peek())) this.at++;
    return this.text.slice(start, this.at);
  }
}
