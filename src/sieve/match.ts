// Comparators (RFC 4790: i;octet, i;ascii-casemap, i;ascii-numeric) and match types (RFC 5228 2.7:
// :is, :contains, :matches; RFC 5231: :count and :value; the regex draft: :regex), with the match
// variables ${0}..${9} of RFC 5229 3.2.
//
// Nothing here backtracks without bound. :matches is decided segment by segment (the pattern split at
// its "*"s), not by a regular expression: linear in the input for each segment. :regex patterns are
// POSIX extended expressions translated into JavaScript's syntax. Those that cannot backtrack much —
// no repeated group, and every repetition at the very end (or a single one in a pattern anchored with
// "^") — run on V8's usual engine; all others on its linear-time engine (the "l" flag: an automaton,
// so "(a+)+b" or "a*a*a*b" cannot take more than input × pattern steps). That engine is interpreted,
// about 0.1-0.2 µs per input character per pattern character, so each comparison's cost is estimated
// (matchCost) and charged to the script's budget before it runs. Patterns the linear engine cannot
// run (back-references, large counted repetitions) are refused when the script is put.
import { setFlagsFromString } from 'node:v8';
import { asciiCasemap } from '../message/base-subject.ts';
import { SieveError } from './sieve-error.ts';

export type Comparator = 'i;octet' | 'i;ascii-casemap' | 'i;ascii-numeric';
export type Relation = 'gt' | 'ge' | 'lt' | 'le' | 'eq' | 'ne';
export type MatchType = 'is' | 'contains' | 'matches' | 'regex' | 'count' | 'value';

export interface MatchSpec {
  comparator: Comparator;
  type: MatchType;
  relation?: Relation;
}

export const defaultMatch: MatchSpec = { comparator: 'i;ascii-casemap', type: 'is' };

/** The strings the last successful :matches or :regex test captured: [0] the whole, then each wildcard or group. */
export type Captures = string[];

/** A character's cost in the step budget is charged by the caller: these functions are linear. */
const fold = (comparator: Comparator, s: string) => (comparator === 'i;ascii-casemap' ? asciiCasemap(s) : s);

/** i;ascii-numeric (RFC 4790 9.1): the leading digits' value; a string without any is positive infinity. */
export function numericValue(s: string): number | undefined {
  const m = /^[0-9]+/.exec(s);
  if (!m) return undefined;
  return Number(m[0].replace(/^0+(?=\d)/, ''));
}

function compareNumeric(a: string, b: string): number {
  const x = numericValue(a);
  const y = numericValue(b);
  if (x === undefined) return y === undefined ? 0 : 1;
  if (y === undefined) return -1;
  // Long digit strings: compare as text once the leading zeros are gone, to stay exact.
  const sa = /^[0-9]+/.exec(a)![0].replace(/^0+(?=\d)/, '');
  const sb = /^[0-9]+/.exec(b)![0].replace(/^0+(?=\d)/, '');
  if (sa.length !== sb.length) return sa.length - sb.length;
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

/** The comparator's order: negative, zero or positive. */
export function compare(comparator: Comparator, a: string, b: string): number {
  if (comparator === 'i;ascii-numeric') return compareNumeric(a, b);
  const x = fold(comparator, a);
  const y = fold(comparator, b);
  return x < y ? -1 : x > y ? 1 : 0;
}

export function relate(relation: Relation, order: number): boolean {
  switch (relation) {
    case 'gt':
      return order > 0;
    case 'ge':
      return order >= 0;
    case 'lt':
      return order < 0;
    case 'le':
      return order <= 0;
    case 'eq':
      return order === 0;
    case 'ne':
      return order !== 0;
  }
}

/**
 * Whether `value` matches `key` under :is, :contains, :value, :matches or :regex; :count is decided
 * by the caller (it counts values). For :matches and :regex, what was captured.
 */
export function matchOne(spec: MatchSpec, value: string, key: string): { matched: boolean; captures?: Captures } {
  switch (spec.type) {
    case 'is':
      return { matched: compare(spec.comparator, value, key) === 0 };
    case 'value':
      return { matched: relate(spec.relation!, compare(spec.comparator, value, key)) };
    case 'contains':
      if (spec.comparator === 'i;ascii-numeric') throw new SieveError(':contains cannot use i;ascii-numeric', 0, true);
      return { matched: fold(spec.comparator, value).includes(fold(spec.comparator, key)) };
    case 'matches': {
      if (spec.comparator === 'i;ascii-numeric') throw new SieveError(':matches cannot use i;ascii-numeric', 0, true);
      const captures = wildcardMatch(fold(spec.comparator, key), fold(spec.comparator, value), value);
      return captures ? { matched: true, captures } : { matched: false };
    }
    case 'regex': {
      const m = compileRegex(key, spec.comparator).regex.exec(value);
      return m ? { matched: true, captures: [...m].map((s) => s ?? '') } : { matched: false };
    }
    case 'count':
      throw new Error(':count is decided on the whole list');
  }
}

/** A :matches pattern: literal characters, "?" (one character), "*" (any run); "\" quotes the next. */
type Piece = { kind: 'char'; c: string } | { kind: 'one' };

function patternSegments(pattern: string): { segments: Piece[][]; stars: number } {
  const segments: Piece[][] = [[]];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\' && i + 1 < pattern.length) segments.at(-1)!.push({ kind: 'char', c: pattern[++i]! });
    else if (c === '*') segments.push([]);
    else if (c === '?') segments.at(-1)!.push({ kind: 'one' });
    else segments.at(-1)!.push({ kind: 'char', c });
  }
  return { segments, stars: segments.length - 1 };
}

function segmentAt(segment: Piece[], text: string, at: number): boolean {
  if (at + segment.length > text.length) return false;
  for (let i = 0; i < segment.length; i++) {
    const p = segment[i]!;
    if (p.kind === 'char' && text[at + i] !== p.c) return false;
  }
  return true;
}

/**
 * Matches `text` (folded) against the pattern and returns the captures taken from `original` (the
 * same positions, unfolded), or undefined. Segments between stars are placed leftmost: a match
 * exists exactly when this placement succeeds, so there is no backtracking; each "*" takes what lies
 * between its neighbours (non-greedy but the last, which takes the rest, as Pigeonhole does).
 */
export function wildcardMatch(pattern: string, text: string, original = text): Captures | undefined {
  const { segments } = patternSegments(pattern);
  const captures: string[] = [original];
  const ones = (segment: Piece[], at: number) => {
    segment.forEach((p, i) => {
      if (p.kind === 'one') captures.push(original[at + i]!);
    });
  };
  const first = segments[0]!;
  if (segments.length === 1) {
    if (text.length !== first.length || !segmentAt(first, text, 0)) return undefined;
    ones(first, 0);
    return captures;
  }
  const last = segments.at(-1)!;
  if (first.length + last.length > text.length || !segmentAt(first, text, 0)) return undefined;
  ones(first, 0);
  const lastStart = text.length - last.length;
  if (!segmentAt(last, text, lastStart)) return undefined;
  let at = first.length;
  for (const segment of segments.slice(1, -1)) {
    let found = -1;
    for (let i = at; i + segment.length <= lastStart; i++)
      if (segmentAt(segment, text, i)) {
        found = i;
        break;
      }
    if (found < 0) return undefined;
    captures.push(original.slice(at, found));
    ones(segment, found);
    at = found + segment.length;
  }
  captures.push(original.slice(at, lastStart));
  ones(last, lastStart);
  return captures;
}

let linearEngine: boolean | undefined;
const linearFlag = 'l';

/** Turns on the "l" flag (V8's experimental linear-time regexp engine) once; false where it cannot be had. */
function linearAvailable(): boolean {
  if (linearEngine === undefined) {
    try {
      setFlagsFromString('--enable-experimental-regexp-engine');
      // A variable, not a literal: a literal with the flag would not even parse where V8 lacks it.
      new RegExp('a', linearFlag);
      linearEngine = true;
    } catch {
      linearEngine = false;
    }
  }
  return linearEngine;
}

const regexCache = new Map<string, CompiledRegex>();
const maxCachedRegexes = 500;
export const maxRegexLength = 1024;

export interface CompiledRegex {
  regex: RegExp;
  /** Run by the linear-time engine (slow but bounded), not the backtracking one. */
  linear: boolean;
}

/**
 * A POSIX extended regular expression (as the regex extension asks) as a JavaScript one that cannot
 * backtrack without bound. i;ascii-casemap matches letters of either case; i;octet exactly. Refused
 * with a SieveError: patterns too long, ill-formed, or needing backtracking.
 */
export function compileRegex(pattern: string, comparator: Comparator): CompiledRegex {
  const cacheKey = `${comparator}\u0000${pattern}`;
  const cached = regexCache.get(cacheKey);
  if (cached) return cached;
  if (comparator === 'i;ascii-numeric') throw new SieveError(':regex cannot use i;ascii-numeric', 0, true);
  if (pattern.length > maxRegexLength)
    throw new SieveError(`a regular expression is longer than ${maxRegexLength} characters`, 0, true);
  if (!linearAvailable())
    throw new SieveError('regular expressions are not available (no linear-time engine in this Node.js)', 0, true);
  let compiled: CompiledRegex;
  try {
    const translated = translatePosix(pattern, comparator === 'i;ascii-casemap');
    // Compiled for the linear engine in any case: what it refuses is refused whichever engine runs it.
    const linear = new RegExp(translated.source, `${linearFlag}s`);
    compiled = translated.backtracksLittle
      ? { regex: new RegExp(translated.source, 's'), linear: false }
      : { regex: linear, linear: true };
  } catch (error) {
    if (error instanceof SieveError) throw error;
    throw new SieveError(`regular expression ${JSON.stringify(pattern)} is not valid or needs backtracking`, 0, true);
  }
  if (regexCache.size >= maxCachedRegexes) regexCache.delete(regexCache.keys().next().value!);
  regexCache.set(cacheKey, compiled);
  return compiled;
}

/**
 * What comparing `value` with `key` is estimated to cost, in microseconds of work (the interpreter's
 * budget unit): linear scans at ~2 ns a character, :matches up to value × pattern, and :regex on the
 * linear engine at 0.25 µs per value character per pattern character.
 */
export function matchCost(spec: MatchSpec, value: string, key: string): number {
  const n = value.length;
  switch (spec.type) {
    case 'matches':
      return 1 + (n * Math.max(1, key.length)) / 500;
    case 'regex': {
      const compiled = compileRegex(key, spec.comparator);
      return 1 + (compiled.linear ? n * Math.max(1, key.length) * 0.25 : (n * Math.max(1, key.length)) / 500);
    }
    default:
      return 1 + (n + key.length) / 500;
  }
}

const posixClasses: Record<string, string> = {
  alpha: 'A-Za-z',
  digit: '0-9',
  alnum: '0-9A-Za-z',
  upper: 'A-Z',
  lower: 'a-z',
  space: ' \\t\\r\\n\\v\\f',
  blank: ' \\t',
  punct: '!-\\/:-@\\[-`{-~',
  print: ' -~',
  graph: '!-~',
  cntrl: '\\x00-\\x1f\\x7f',
  xdigit: '0-9A-Fa-f',
};

const escapeChar = (c: string) => (/[\\^$.*+?()[\]{}|/-]/.test(c) ? `\\${c}` : c);

function caseless(c: string, casemap: boolean): string {
  if (!casemap || !/[A-Za-z]/.test(c)) return escapeChar(c);
  return `[${c.toLowerCase()}${c.toUpperCase()}]`;
}

/**
 * POSIX ERE (as glibc reads it, which Pigeonhole uses) in JavaScript's syntax, "\\" before any
 * character quoting it; and whether the backtracking engine may run it (see the top of this file).
 */
function translatePosix(pattern: string, casemap: boolean): { source: string; backtracksLittle: boolean } {
  let out = '';
  let i = 0;
  let depth = 0;
  /** Where in the pattern each repetition operator ends, and whether it repeats a group. */
  const repeats: { end: number; group: boolean }[] = [];
  const repeat = (end: number) => repeats.push({ end, group: out.endsWith(')') });
  while (i < pattern.length) {
    const c = pattern[i]!;
    if (c === '\\') {
      const next = pattern[i + 1];
      if (next === undefined) throw new SieveError('a regular expression ends with "\\"', 0, true);
      if (/[1-9]/.test(next)) throw new SieveError('back-references are not supported in :regex', 0, true);
      // GNU's word escapes, which glibc's ERE also reads.
      if (next === 'w') out += '[0-9A-Za-z_]';
      else if (next === 'W') out += '[^0-9A-Za-z_]';
      else if (next === 's') out += '[ \\t\\r\\n\\v\\f]';
      else if (next === 'S') out += '[^ \\t\\r\\n\\v\\f]';
      else if (next === 'b' || next === 'B') out += `\\${next}`;
      else out += caseless(next, casemap);
      i += 2;
    } else if (c === '[') {
      const { text, end } = bracket(pattern, i, casemap);
      out += text;
      i = end;
    } else if (c === '(') {
      depth++;
      out += '(';
      i++;
    } else if (c === ')') {
      if (depth === 0) out += '\\)';
      else {
        depth--;
        out += ')';
      }
      i++;
    } else if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(i, i + 24));
      if (!m || out === '') {
        out += '\\{';
        i++;
        continue;
      }
      // Counted repetition is unrolled by the engine: keep counts small.
      const upper = m[3] ? Number(m[3]) : Number(m[1]);
      if (Number(m[1]) > 100 || upper > 100)
        throw new SieveError('repetition counts above 100 are not supported in :regex', 0, true);
      repeat(i + m[0].length);
      out += m[0];
      i += m[0].length;
    } else if ('^$.*+?|'.includes(c)) {
      if ('*+?'.includes(c) && out !== '' && !out.endsWith('(') && !out.endsWith('|')) repeat(i + 1);
      out += c;
      i++;
    } else {
      out += caseless(c, casemap);
      i++;
    }
  }
  if (depth > 0) throw new SieveError('a regular expression has an unclosed "("', 0, true);
  // A repetition at the very end (only ")" after it) ends every attempt where it stops; one more is
  // bounded by the single attempt of an anchored pattern without alternatives.
  const atEnd = (r: { end: number }) => /^\)*$/.test(pattern.slice(r.end));
  const inner = repeats.filter((r) => !atEnd(r));
  const anchored = pattern.startsWith('^') && !pattern.includes('|');
  const backtracksLittle = !repeats.some((r) => r.group) && (inner.length === 0 || (anchored && inner.length === 1));
  return { source: out, backtracksLittle };
}

/** A bracket expression from "[" at `start`: POSIX classes, a "]" first taken literally, "\" literal. */
function bracket(pattern: string, start: number, casemap: boolean): { text: string; end: number } {
  let i = start + 1;
  let negate = false;
  if (pattern[i] === '^') {
    negate = true;
    i++;
  }
  const items: string[] = [];
  let first = true;
  while (i < pattern.length && (pattern[i] !== ']' || first)) {
    first = false;
    const classMatch = /^\[:([a-z]+):\]/.exec(pattern.slice(i, i + 12));
    if (classMatch) {
      const cls = posixClasses[classMatch[1]!];
      if (!cls) throw new SieveError(`unknown character class [:${classMatch[1]}:]`, 0, true);
      items.push(casemap && (classMatch[1] === 'upper' || classMatch[1] === 'lower') ? 'A-Za-z' : cls);
      i += classMatch[0].length;
      continue;
    }
    const c = pattern[i]!;
    if (pattern[i + 1] === '-' && pattern[i + 2] !== undefined && pattern[i + 2] !== ']') {
      const to = pattern[i + 2]!;
      if (to < c) throw new SieveError(`invalid range ${c}-${to} in a regular expression`, 0, true);
      items.push(`${escapeRange(c)}-${escapeRange(to)}`);
      if (casemap) items.push(...otherCaseRange(c, to));
      i += 3;
      continue;
    }
    items.push(escapeRange(c));
    if (casemap && /[A-Za-z]/.test(c)) items.push(c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase());
    i++;
  }
  if (i >= pattern.length) throw new SieveError('a regular expression has an unclosed "["', 0, true);
  return { text: `[${negate ? '^' : ''}${items.join('')}]`, end: i + 1 };
}

const escapeRange = (c: string) => (/[\\\]^[-]/.test(c) ? `\\${c}` : c);

function otherCaseRange(from: string, to: string): string[] {
  const lowers = /[a-z]/.test(from) && /[a-z]/.test(to);
  const uppers = /[A-Z]/.test(from) && /[A-Z]/.test(to);
  if (lowers) return [`${from.toUpperCase()}-${to.toUpperCase()}`];
  if (uppers) return [`${from.toLowerCase()}-${to.toLowerCase()}`];
  return [];
}
