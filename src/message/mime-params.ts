// Content-Type and Content-Disposition values (RFC 2045 §5.1, RFC 2183): the type, then parameters,
// read as Dovecot reads them, so that BODYSTRUCTURE shows what the reference server shows.
//
// RFC 2231 parameters are joined but not decoded: `name*0="a"; name*1="b"` is kept as name "ab",
// and `name*0*=utf-8''%E2%82; name*1*=%AC` as `name*` "utf-8''%E2%82%AC". That form is ASCII, so an
// IMAP4rev1 client (which cannot be sent 8-bit text) gets it as the message has it and decodes it
// itself; decodeExtendedValue() gives the text for clients that accept UTF-8 (RFC 9051 §7.5.2).
import { HeaderScanner } from './header-scanner.ts';

export interface ContentField {
  /** The type as written ("text/plain", "attachment"), lower-case; '' when there is none. */
  value: string;
  /** Parameters with lower-case names, values unquoted; RFC 2231 sections joined. */
  params: Record<string, string>;
}

/** Parses `type/subtype; a=b; ...` (withSubtype) or `disposition; a=b; ...`. */
export function parseContentField(text: string, withSubtype: boolean): ContentField {
  const scanner = new HeaderScanner(text);
  scanner.skipCfws();
  let value = scanner.token();
  if (withSubtype) {
    // A type without "/subtype" is broken: its parameters are not read (as Dovecot).
    if (scanner.peek() !== '/') return { value: '', params: {} };
    scanner.at++;
    scanner.skipCfws();
    value += `/${scanner.token()}`;
  }
  return { value: value.toLowerCase(), params: joinSections(readParams(scanner)) };
}

/** `; name=value` pairs until the end or something that is not one. */
function readParams(scanner: HeaderScanner): [string, string][] {
  const params: [string, string][] = [];
  while (scanner.peek() === ';') {
    scanner.at++;
    scanner.skipCfws();
    const name = scanner.token();
    if (!name || scanner.peek() !== '=') {
      // A broken parameter: skip to the next ";" and go on.
      while (!scanner.atEnd && scanner.peek() !== ';') scanner.at++;
      continue;
    }
    scanner.at++;
    scanner.skipCfws();
    let value: string;
    if (scanner.peek() === '"') value = scanner.quotedString() ?? '';
    // `name==?utf-8?b?...?=`: an encoded word where a quoted string belongs.
    else if (scanner.peek() === '=') value = scanner.bare();
    else value = scanner.token();
    scanner.skipCfws();
    params.push([name.toLowerCase(), value]);
  }
  return params;
}

/**
 * Joins RFC 2231 sections (`name*0`, `name*1*`...) into one parameter, as Dovecot does: `name` if
 * no section is charset-encoded, else `name*` with the plain sections %-escaped into the encoded
 * form. Sections with a number missing are left as they are. Other parameters come first.
 */
function joinSections(params: [string, string][]): Record<string, string> {
  const out: Record<string, string> = {};
  const sections = new Map<string, Section[]>();
  for (const [name, value] of params) {
    const found = section(name, value);
    if (!found) out[name] = value;
    else sections.set(found.base, [...(sections.get(found.base) ?? []), found]);
  }
  for (const base of [...sections.keys()].sort()) {
    const list = sections.get(base)!.sort((a, b) => a.index - b.index);
    if (list.some((s, i) => s.index !== i)) {
      for (const s of list) out[`${base}*${s.index}${s.extended ? '*' : ''}`] = s.value;
    } else if (!list.some((s) => s.extended)) {
      out[base] = list.map((s) => s.value).join('');
    } else {
      const joined = list.map((s) => (s.extended ? s.value : s.value.replaceAll('%', '%25'))).join('');
      out[`${base}*`] = list[0]!.extended ? joined : `''${joined}`;
    }
  }
  return out;
}

interface Section {
  base: string;
  index: number;
  extended: boolean;
  value: string;
}

/** `name*` (encoded), `name*2` (a section) or `name*2*` (an encoded section); undefined for a plain name. */
function section(name: string, value: string): Section | undefined {
  const match = /^([^*]+)\*(\d*)(\*?)$/.exec(name);
  if (!match) return undefined;
  // In `name*` the one star marks the encoding.
  return { base: match[1]!, index: Number(match[2] || 0), extended: match[3] === '*' || match[2] === '', value };
}

/**
 * The text of an RFC 2231 encoded value (`charset'language'%XX...`), or undefined if its charset is
 * unknown or its bytes are not text in that charset (control characters included).
 */
export function decodeExtendedValue(value: string): string | undefined {
  const match = /^([^']*)'[^']*'(.*)$/s.exec(value);
  if (!match) return undefined;
  const bytes = Buffer.from(
    match[2]!.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))),
    'latin1',
  );
  try {
    const text = new TextDecoder(match[1] || 'us-ascii', { fatal: true }).decode(bytes);
    return /[\x00-\x1f\x7f]/.test(text) ? undefined : text;
  } catch {
    return undefined;
  }
}

/** A parameter's value for Holdfast's own use (charset, method...): the decoded `name*` if there is one. */
export function paramValue(params: Record<string, string>, name: string): string | undefined {
  const extended = params[`${name}*`];
  return (extended !== undefined ? decodeExtendedValue(extended) : undefined) ?? params[name];
}
