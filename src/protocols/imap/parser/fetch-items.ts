// The data items of FETCH (RFC 9051 section 6.4.5): simple items, macros, and body sections with
// their optional partial range, e.g. BODY.PEEK[1.2.HEADER.FIELDS (Subject)]<0.100>.
import { ParseError, type Token } from './tokenizer.ts';

export type SectionSpecifier = '' | 'HEADER' | 'HEADER.FIELDS' | 'HEADER.FIELDS.NOT' | 'TEXT' | 'MIME';

export interface Section {
  path: number[];
  specifier: SectionSpecifier;
  fields: string[];
}

export const simpleItems = [
  'FLAGS',
  'INTERNALDATE',
  'RFC822.SIZE',
  'ENVELOPE',
  'BODYSTRUCTURE',
  'BODY',
  'UID',
  'MODSEQ',
  'EMAILID',
  'THREADID',
  'RFC822',
  'RFC822.HEADER',
  'RFC822.TEXT',
] as const;
export type SimpleItem = (typeof simpleItems)[number];

export type FetchItem =
  | { kind: 'simple'; name: SimpleItem }
  | {
      kind: 'section';
      binary: boolean;
      peek: boolean;
      section: Section;
      partial?: { start: number; length: number };
      label: string;
    }
  | { kind: 'binary-size'; section: Section; label: string };

const macros: Record<string, SimpleItem[]> = {
  ALL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE'],
  FAST: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE'],
  FULL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY'],
};

export function parseFetchItems(token: Token): FetchItem[] {
  const macro = token.kind === 'atom' ? macros[token.value.toUpperCase()] : undefined;
  if (macro) return macro.map((name) => ({ kind: 'simple', name }));
  const tokens = token.kind === 'list' ? token.items : [token];
  if (tokens.length === 0) throw new ParseError('Empty list of fetch items');
  return tokens.map((t) => {
    if (t.kind !== 'atom') throw new ParseError('Expected a fetch item');
    return parseFetchItem(t.value);
  });
}

export function parseFetchItem(text: string): FetchItem {
  const upper = text.toUpperCase();
  if ((simpleItems as readonly string[]).includes(upper)) return { kind: 'simple', name: upper as SimpleItem };
  const match = /^(BODY|BODY\.PEEK|BINARY|BINARY\.PEEK|BINARY\.SIZE)\[([^\]]*)\](?:<(\d+)(?:\.(\d+))?>)?$/i.exec(text);
  if (!match) throw new ParseError(`Unknown fetch item "${text.slice(0, 60)}"`);
  const [, name, sectionText, start, length] = match;
  const kind = name!.toUpperCase();
  const binary = kind.startsWith('BINARY');
  const section = parseSection(sectionText!, binary);
  const label = `${binary ? 'BINARY' : 'BODY'}[${sectionText}]`;
  if (kind === 'BINARY.SIZE') {
    if (start !== undefined) throw new ParseError('BINARY.SIZE takes no partial range');
    return { kind: 'binary-size', section, label: `BINARY.SIZE[${sectionText}]` };
  }
  return {
    kind: 'section',
    binary,
    peek: kind.endsWith('.PEEK'),
    section,
    // RFC 9051 wants <start.length>; a bare <start> is taken as "to the end", as some clients send it.
    partial:
      start === undefined
        ? undefined
        : { start: Number(start), length: length === undefined ? Number.MAX_SAFE_INTEGER : Number(length) },
    label,
  };
}

export function parseSection(text: string, binary: boolean): Section {
  const match = /^((?:\d+\.)*\d+)?(?:^|\.)?([A-Za-z.]*)(?: \(([^()]*)\))?$/.exec(text);
  if (!match) throw new ParseError(`Invalid section "${text.slice(0, 60)}"`);
  const path = match[1] ? match[1].split('.').map(Number) : [];
  if (path.some((n) => n === 0 || !Number.isSafeInteger(n)))
    throw new ParseError(`Invalid section "${text.slice(0, 60)}": part numbers start at 1`);
  const specifier = match[2]!.toUpperCase() as SectionSpecifier;
  if (!['', 'HEADER', 'HEADER.FIELDS', 'HEADER.FIELDS.NOT', 'TEXT', 'MIME'].includes(specifier))
    throw new ParseError(`Invalid section "${text.slice(0, 60)}"`);
  if (binary && specifier !== '') throw new ParseError('BINARY sections are part numbers only');
  if (specifier === 'MIME' && path.length === 0) throw new ParseError('MIME needs a part number');
  const hasFields = specifier === 'HEADER.FIELDS' || specifier === 'HEADER.FIELDS.NOT';
  if (hasFields !== (match[3] !== undefined))
    throw new ParseError(`Invalid section "${text.slice(0, 60)}": HEADER.FIELDS takes a list of field names`);
  const fields = match[3]
    ? match[3]
        .split(' ')
        .filter(Boolean)
        .map((f) => f.replace(/^"(.*)"$/, '$1'))
    : [];
  if (hasFields && fields.length === 0) throw new ParseError('HEADER.FIELDS needs at least one field name');
  // "1.HEADER" style: the specifier follows the path after a dot.
  if (path.length && specifier && !text.startsWith(`${match[1]}.`))
    throw new ParseError(`Invalid section "${text.slice(0, 60)}"`);
  return { path, specifier, fields };
}
