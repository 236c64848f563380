// Turns a framed command into its tag, name and argument tokens: atoms, strings (quoted or literal)
// and parenthesised lists. Strict: anything that is not IMAP syntax is a ParseError, which the session
// answers with BAD and the reason.
import type { CommandFrame } from './command-reader.ts';

export type Token =
  | { kind: 'atom'; value: string }
  | { kind: 'string'; value: string; bytes: Buffer; literal: boolean; literal8?: boolean }
  | { kind: 'list'; items: Token[] };

export interface ParsedCommand {
  tag: string;
  /** Upper case, e.g. "UID FETCH" is name "UID" with "FETCH" as the first argument. */
  name: string;
  args: Token[];
}

export class ParseError extends Error {
  /** The command's tag, when it could be read before the error. */
  tag?: string;

  /**
   * @param status BAD for a command that is not well-formed; NO for a well-formed one asking for what
   * the server does not support where the RFC says NO (an unknown CHARSET: RFC 3501 §6.4.4).
   */
  constructor(
    message: string,
    readonly status: 'BAD' | 'NO' = 'BAD',
  ) {
    super(message);
  }
}

const maxDepth = 16;

export function tokenizeCommand(frame: CommandFrame): ParsedCommand {
  const first = frame.parts[0];
  if (typeof first !== 'string' || first.length === 0) throw new ParseError('Empty command line');
  const tagEnd = first.indexOf(' ');
  const tag = tagEnd < 0 ? first : first.slice(0, tagEnd);
  if (!/^[\x21-\x7e]+$/.test(tag) || /[(){%*"\\+]/.test(tag)) throw new ParseError('Invalid tag');
  if (tagEnd < 0) throw new ParseError('Missing command');
  const rest: CommandFrame = { parts: [first.slice(tagEnd + 1), ...frame.parts.slice(1)] };
  let tokens: Token[];
  try {
    tokens = tokenize(rest);
  } catch (error) {
    if (error instanceof ParseError) error.tag = tag;
    throw error;
  }
  const name = tokens.shift();
  if (name?.kind !== 'atom' || !/^[A-Za-z][A-Za-z0-9-]*$/.test(name.value))
    throw new ParseError('Missing or invalid command name');
  return { tag, name: name.value.toUpperCase(), args: tokens };
}

/** Tokens of a whole frame (or of a continuation line such as an AUTHENTICATE response). */
export function tokenize(frame: CommandFrame): Token[] {
  const { parts } = frame;
  const root: Token[] = [];
  /** The list that tokens go into now. */
  let items = root;
  /** The lists around it, the outermost first. */
  const outer: Token[][] = [];
  let p = 0;
  let text = parts[0];
  if (typeof text !== 'string') throw new ParseError('Unexpected literal');
  let i = 0;
  let needSpace = false;
  while (i < text.length) {
    const c = text[i];
    if (c === ' ') {
      if (!needSpace) throw new ParseError(`Unexpected space at position ${i + 1}`);
      needSpace = false;
      i++;
      continue;
    }
    if (c === ')') {
      const parent = outer.pop();
      if (!parent) throw new ParseError('Unbalanced ")"');
      items = parent;
      needSpace = true;
      i++;
      continue;
    }
    if (needSpace) throw new ParseError(`Missing space before position ${i + 1}`);
    if (c === '(') {
      if (outer.length >= maxDepth) throw new ParseError('Lists nested too deeply');
      const list: Token = { kind: 'list', items: [] };
      items.push(list);
      outer.push(items);
      items = list.items;
      i++;
      continue;
    }
    if (c === '"') {
      const [value, next] = readQuoted(text, i);
      items.push({ kind: 'string', value, bytes: Buffer.from(value, 'utf8'), literal: false });
      i = next;
      needSpace = true;
      continue;
    }
    if ((c === '{' || c === '~') && /^~?\{\d+\+?\}$/.test(text.slice(i))) {
      // A literal ends its line; its content is the next part and the command goes on in the one after.
      const literal = parts[p + 1];
      const after = parts[p + 2];
      if (!Buffer.isBuffer(literal) || typeof after !== 'string')
        throw new ParseError('Literal announced but not sent');
      items.push({
        kind: 'string',
        value: literal.toString('utf8'),
        bytes: literal,
        literal: true,
        literal8: c === '~',
      });
      p += 2;
      text = after;
      i = 0;
      needSpace = true;
      continue;
    }
    const [atom, next] = readAtom(text, i);
    items.push({ kind: 'atom', value: atom });
    i = next;
    needSpace = true;
  }
  if (p !== parts.length - 1) throw new ParseError('Literal without marker');
  if (outer.length !== 0) throw new ParseError('Unbalanced "("');
  return root;
}

function readQuoted(text: string, start: number): [string, number] {
  let out = '';
  for (let i = start + 1; i < text.length; i++) {
    const c = text[i];
    if (c === '"') return [out, i + 1];
    if (c === '\\') {
      const next = text[i + 1];
      if (next !== '"' && next !== '\\')
        throw new ParseError('Invalid escape in quoted string (only \\" and \\\\ are allowed)');
      out += next;
      i++;
      continue;
    }
    if (c === '\r' || c === '\n' || c === '\0') throw new ParseError('Invalid character in quoted string');
    out += c;
  }
  throw new ParseError('Unterminated quoted string');
}

/**
 * An atom, ASCII only: ATOM-CHAR is a CHAR (%x01-7F) in IMAP4rev1 and IMAP4rev2 alike, and UTF8=ACCEPT
 * (RFC 6855) allows UTF-8 in quoted strings only, so 8-bit text outside a string is BAD whatever the
 * client enabled (Dovecot answers the same). After a FETCH item name (BODY[, BINARY.PEEK[...) "["
 * opens a section that may hold spaces and lists up to its "]" (BODY[HEADER.FIELDS (A B)]<0.10>).
 * Anywhere else "[" and "]" are ordinary characters: a mailbox name is an astring, and ASTRING-CHAR
 * includes both (RFC 3501 and RFC 9051 formal syntax), so `SELECT a]b[c` is a name, not a syntax error.
 */
function readAtom(text: string, start: number): [string, number] {
  let i = sectionEnd(text, start);
  while (i < text.length) {
    const c = text.charAt(i);
    if (c === ' ' || c === '(' || c === ')') break;
    if (c === '"') throw new ParseError(`Unexpected quote at position ${i + 1}`);
    if (c === '{') throw new ParseError(`Unexpected "{" at position ${i + 1}`);
    if (c.charCodeAt(0) < 0x20 || c === '\x7f') throw new ParseError('Control character in command');
    if (c.charCodeAt(0) > 0x7f)
      throw new ParseError('8-bit character in an atom: send the text as a quoted string or a literal');
    i++;
  }
  return [text.slice(start, i), i];
}

const sectionName = /^(?:BODY|BINARY)(?:\.PEEK|\.SIZE)?\[/i;

/**
 * Just after the "]" of a FETCH item's section starting at `start` (quotes and lists inside are
 * kept: HEADER.FIELDS ("From")), or `start` when there is none there or its brackets do not close.
 */
function sectionEnd(text: string, start: number): number {
  const name = sectionName.exec(text.slice(start, start + 12));
  if (!name) return start;
  let depth = 0;
  for (let i = start + name[0].length - 1; i < text.length; i++) {
    const c = text.charAt(i);
    if (c.charCodeAt(0) < 0x20 || c.charCodeAt(0) >= 0x7f) return start;
    if (c === '[') depth++;
    else if (c === ']' && --depth === 0) return i + 1;
  }
  return start;
}
