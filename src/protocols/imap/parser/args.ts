// Reading a command's arguments one by one, each read naming what it expected so a mistake gets a
// precise BAD ("expected a mailbox name").
import { ParseError, type Token } from './tokenizer.ts';

export class Args {
  private index = 0;

  constructor(private readonly tokens: Token[]) {}

  more(): boolean {
    return this.index < this.tokens.length;
  }

  peek(): Token | undefined {
    return this.tokens[this.index];
  }

  next(what: string): Token {
    const token = this.tokens[this.index++];
    if (!token) throw new ParseError(`Missing ${what}`);
    return token;
  }

  atom(what: string): string {
    const token = this.next(what);
    if (token.kind !== 'atom') throw new ParseError(`Expected ${what}`);
    return token.value;
  }

  /** An atom or a string. */
  astring(what: string): string {
    const token = this.next(what);
    if (token.kind === 'list') throw new ParseError(`Expected ${what}, not a list`);
    return token.value;
  }

  /** A string or NIL. */
  nstring(what: string): string | null {
    const token = this.next(what);
    if (token.kind === 'atom' && token.value.toUpperCase() === 'NIL') return null;
    if (token.kind !== 'string') throw new ParseError(`Expected ${what}`);
    return token.value;
  }

  list(what: string): Token[] {
    const token = this.next(what);
    if (token.kind !== 'list') throw new ParseError(`Expected ${what} in parentheses`);
    return token.items;
  }

  /** A list if one comes next. */
  optionalList(): Token[] | undefined {
    const token = this.peek();
    if (token?.kind !== 'list') return undefined;
    this.index++;
    return token.items;
  }

  number(what: string, max = 2 ** 53 - 1): number {
    const text = this.atom(what);
    return parseNumber(text, what, max);
  }

  /** The next atom if it equals `word` (case-insensitive). */
  accept(word: string): boolean {
    const token = this.peek();
    if (token?.kind === 'atom' && token.value.toUpperCase() === word) {
      this.index++;
      return true;
    }
    return false;
  }

  end() {
    if (this.more()) throw new ParseError('Unexpected extra arguments');
  }
}

export function parseNumber(text: string, what: string, max = 2 ** 53 - 1): number {
  if (!/^\d{1,16}$/.test(text)) throw new ParseError(`Expected ${what} (a number)`);
  const value = Number(text);
  if (value > max) throw new ParseError(`${what} is too large`);
  return value;
}

/** A sequence set such as 1:4,7,9:* ; "*" is the largest number in use, "$" the saved search result. */
export type SequenceSet = { saved: true } | { saved: false; ranges: [number, number][] };

/** Stands for "*" until resolved against the mailbox. */
export const STAR = Number.MAX_SAFE_INTEGER;

export function parseSequenceSet(text: string): SequenceSet {
  if (text === '$') return { saved: true };
  const ranges: [number, number][] = [];
  for (const piece of text.split(',')) {
    const match = /^(\d+|\*)(?::(\d+|\*))?$/.exec(piece);
    if (!match) throw new ParseError(`Invalid sequence set "${text}"`);
    const a = match[1] === '*' ? STAR : Number(match[1]);
    const b = match[2] === undefined ? a : match[2] === '*' ? STAR : Number(match[2]);
    if (a === 0 || b === 0 || (a > 0xffffffff && a !== STAR) || (b > 0xffffffff && b !== STAR))
      throw new ParseError(`Invalid sequence set "${text}": numbers are 1 to 4294967295`);
    ranges.push(a <= b ? [a, b] : [b, a]);
  }
  return { saved: false, ranges };
}

/** Whether `n` is in the set, with "*" standing for `largest`. */
export function inRanges(ranges: [number, number][], n: number, largest: number): boolean {
  for (const [a, b] of ranges) {
    const lo = a === STAR ? largest : a;
    const hi = b === STAR ? largest : b;
    if (n >= Math.min(lo, hi) && n <= Math.max(lo, hi)) return true;
  }
  return false;
}
