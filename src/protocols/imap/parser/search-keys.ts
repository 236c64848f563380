// SEARCH criteria (RFC 9051 section 6.4.4, with CONDSTORE's MODSEQ and ESEARCH's RETURN options)
// parsed into a tree the mailbox layer evaluates.
import { createDecodeStream, decode } from 'libmime/lib/charset';
import { Args, parseNumber, parseSequenceSet, type SequenceSet } from './args.ts';
import { ParseError, type Token } from './tokenizer.ts';

export type SearchKey =
  | { kind: 'all' }
  | { kind: 'none' }
  | { kind: 'seq'; set: SequenceSet }
  | { kind: 'uid'; set: SequenceSet }
  | { kind: 'flag'; flag: string; present: boolean }
  /** \Recent in this session (IMAP4rev1; never in an IMAP4rev2 session). */
  | { kind: 'recent'; present: boolean }
  | { kind: 'header'; field: string; value: string }
  | { kind: 'text'; where: 'body' | 'text'; value: string }
  | { kind: 'date'; field: 'internal' | 'sent'; op: 'before' | 'on' | 'since'; day: number }
  | { kind: 'size'; op: 'larger' | 'smaller'; bytes: number }
  | { kind: 'modseq'; modseq: number }
  | { kind: 'not'; key: SearchKey }
  | { kind: 'or'; keys: [SearchKey, SearchKey] }
  | { kind: 'and'; keys: SearchKey[] };

export type SearchReturn = 'MIN' | 'MAX' | 'ALL' | 'COUNT' | 'SAVE';

export interface SearchCommand {
  /** Present when RETURN (...) was given: the reply is ESEARCH. */
  returns?: SearchReturn[];
  key: SearchKey;
}

const flagKeys: Record<string, [string, boolean]> = {
  ANSWERED: ['\\Answered', true],
  UNANSWERED: ['\\Answered', false],
  DELETED: ['\\Deleted', true],
  UNDELETED: ['\\Deleted', false],
  DRAFT: ['\\Draft', true],
  UNDRAFT: ['\\Draft', false],
  FLAGGED: ['\\Flagged', true],
  UNFLAGGED: ['\\Flagged', false],
  SEEN: ['\\Seen', true],
  UNSEEN: ['\\Seen', false],
};
const headerKeys: Record<string, string> = { FROM: 'from', TO: 'to', CC: 'cc', BCC: 'bcc', SUBJECT: 'subject' };
const dateKeys: Record<string, ['internal' | 'sent', 'before' | 'on' | 'since']> = {
  BEFORE: ['internal', 'before'],
  ON: ['internal', 'on'],
  SINCE: ['internal', 'since'],
  SENTBEFORE: ['sent', 'before'],
  SENTON: ['sent', 'on'],
  SENTSINCE: ['sent', 'since'],
};
const months = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

export function parseSearch(args: Args): SearchCommand {
  let returns: SearchReturn[] | undefined;
  if (args.accept('RETURN')) {
    const list = args.list('RETURN options');
    returns = list.map((t) => {
      const value = t.kind === 'atom' ? t.value.toUpperCase() : '';
      if (!['MIN', 'MAX', 'ALL', 'COUNT', 'SAVE'].includes(value)) throw new ParseError(`Unknown RETURN option`);
      return value as SearchReturn;
    });
    if (returns.length === 0) returns = ['ALL'];
  }
  const text = args.accept('CHARSET') ? parseCharset(args) : asSent;
  return { returns, key: parseCriteria(args, text) };
}

/** Reads the string a criterion compares (FROM, HEADER, BODY...) as text, in the search charset. */
export type SearchText = (token: Exclude<Token, { kind: 'list' }>) => string;

/** UTF-8 (and US-ASCII, a subset): strings as the parser read them. */
const asSent: SearchText = (token) => token.value;

/**
 * The search charset (SEARCH's optional CHARSET, SORT's and THREAD's required one): UTF-8, or any
 * charset the message decoder (libmime, iconv-lite) reads, whose strings are converted to text as
 * Dovecot converts them with iconv. An unsupported charset is a well-formed request the server cannot
 * honour: NO, not BAD (RFC 3501 6.4.4, RFC 5256), naming the charsets every client can use.
 */
export function parseCharset(args: Args): SearchText {
  const name = args.astring('charset');
  const upper = name.toUpperCase();
  if (upper === 'UTF-8' || upper === 'US-ASCII') return asSent;
  // Atoms and quoted strings are ASCII: a charset that does not read ASCII as itself (UTF-16, UTF-32)
  // could not be searched for with them.
  if (!createDecodeStream(name).supported || decode(Buffer.from('az'), name) !== 'az') {
    throw new ParseError(`[BADCHARSET (UTF-8 US-ASCII)] Charset ${upper} is not supported`, 'NO');
  }
  return (token) => {
    // A literal's bytes are as sent; a quoted string's are its UTF-8 (8-bit text in one is UTF-8 by RFC 9051).
    const text = decode(token.kind === 'string' ? token.bytes : Buffer.from(token.value), name);
    if (text.includes('\uFFFD')) throw new ParseError(`Search string is not valid ${upper}`);
    return text;
  };
}

/** The rest of the arguments as search criteria, all of which must hold; strings are read by `text`. */
export function parseCriteria(args: Args, text: SearchText = asSent): SearchKey {
  const keys: SearchKey[] = [];
  while (args.more()) keys.push(parseKey(args, 0, text));
  return allOf(keys, 'Missing search criteria');
}

/** Criteria that must all hold: the one alone, or their AND; none is a ParseError with `ifNone`. */
function allOf(keys: SearchKey[], ifNone: string): SearchKey {
  const [first] = keys;
  if (!first) throw new ParseError(ifNone);
  return keys.length === 1 ? first : { kind: 'and', keys };
}

/** A criterion's string argument (an astring) as text. */
function searchString(args: Args, what: string, text: SearchText): string {
  const token = args.next(what);
  if (token.kind === 'list') throw new ParseError(`Expected ${what}, not a list`);
  return text(token);
}

function parseKey(args: Args, depth: number, text: SearchText): SearchKey {
  if (depth > 32) throw new ParseError('Search criteria nested too deeply');
  const token = args.next('search criterion');
  if (token.kind === 'list') {
    const inner = new Args(token.items);
    const keys: SearchKey[] = [];
    while (inner.more()) keys.push(parseKey(inner, depth + 1, text));
    return allOf(keys, 'Empty search criteria list');
  }
  if (token.kind !== 'atom') throw new ParseError('Expected a search criterion');
  const word = token.value.toUpperCase();
  if (/^[\d*$]/.test(word)) return { kind: 'seq', set: parseSequenceSet(token.value) };
  if (flagKeys[word]) return { kind: 'flag', flag: flagKeys[word][0], present: flagKeys[word][1] };
  if (headerKeys[word])
    return { kind: 'header', field: headerKeys[word], value: searchString(args, `${word} value`, text) };
  if (dateKeys[word])
    return { kind: 'date', field: dateKeys[word][0], op: dateKeys[word][1], day: parseDate(args.astring('date')) };
  switch (word) {
    case 'ALL':
      return { kind: 'all' };
    case 'RECENT':
      return { kind: 'recent', present: true };
    case 'OLD':
      return { kind: 'recent', present: false };
    case 'NEW':
      return {
        kind: 'and',
        keys: [
          { kind: 'recent', present: true },
          { kind: 'flag', flag: '\\Seen', present: false },
        ],
      };
    case 'KEYWORD':
      return { kind: 'flag', flag: args.atom('keyword'), present: true };
    case 'UNKEYWORD':
      return { kind: 'flag', flag: args.atom('keyword'), present: false };
    case 'HEADER':
      return {
        kind: 'header',
        field: args.astring('header field name').toLowerCase(),
        value: searchString(args, 'header value', text),
      };
    case 'BODY':
      return { kind: 'text', where: 'body', value: searchString(args, 'BODY text', text) };
    case 'TEXT':
      return { kind: 'text', where: 'text', value: searchString(args, 'TEXT text', text) };
    case 'LARGER':
      return { kind: 'size', op: 'larger', bytes: args.number('size') };
    case 'SMALLER':
      return { kind: 'size', op: 'smaller', bytes: args.number('size') };
    case 'UID':
      return { kind: 'uid', set: parseSequenceSet(args.atom('UID set')) };
    case 'NOT':
      return { kind: 'not', key: parseKey(args, depth + 1, text) };
    case 'OR':
      return { kind: 'or', keys: [parseKey(args, depth + 1, text), parseKey(args, depth + 1, text)] };
    case 'MODSEQ': {
      // MODSEQ [entry-name entry-type] n: the entry applies to flags, which Holdfast versions together.
      let value = args.astring('MODSEQ value');
      if (!/^\d+$/.test(value)) {
        args.astring('MODSEQ entry type');
        value = args.astring('MODSEQ value');
      }
      return { kind: 'modseq', modseq: parseNumber(value, 'MODSEQ value') };
    }
    default:
      throw new ParseError(`Unknown search criterion ${token.value.slice(0, 40)}`);
  }
}

/**
 * An IMAP date (1-Feb-1994) as the UTC start of that day, in milliseconds. A day the month does not
 * have (31-Feb-2024, 0-Mar-2024) is well-formed by the grammar (date-day = 1*2DIGIT) but names no day:
 * NaN, which no message's day is before, on or since (Dovecot 2.3 finds nothing ON or SINCE it too).
 */
export function parseDate(text: string): number {
  const match = /^(\d{1,2})-([A-Za-z]{3})-(\d{4})$/.exec(text);
  const month = match ? months.indexOf(match[2]!.toLowerCase()) : -1;
  if (!match || month < 0) throw new ParseError(`Invalid date "${text.slice(0, 30)}" (expected e.g. 1-Feb-2026)`);
  const day = Number(match[1]);
  // setUTCFullYear, unlike Date.UTC, takes years 0 to 99 as they are.
  const date = new Date(0);
  date.setUTCFullYear(Number(match[3]), month, day);
  return date.getUTCDate() === day ? date.getTime() : NaN;
}
