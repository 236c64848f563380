// One address object resource (RFC 6352 §5.1): exactly one vCard, version 3.0 (RFC 2426) or 4.0
// (RFC 6350), read with ical.js. Reading validates what an address book requires, so a stored card
// is always readable, and every refusal says what is wrong; the error codes are the CardDAV
// preconditions (RFC 6352 §6.3.2.1) each failure violates. Reading is bounded: the size and the
// number of properties are checked on the text before the parser sees it.
import ICAL from 'ical.js';
import { invalid } from '../errors.ts';

/** The largest card stored (advertised as CARDDAV:max-resource-size); a card with a photo fits. */
export const maxCardSize = 2 * 1024 * 1024;
/** Properties one card may hold; people's cards have tens, ical.js reads 1,000 in about 2 ms. */
export const maxCardProperties = 1000;
/** What the filters of addressbook-query see of one value; longer values are cut there. */
const maxIndexedValue = 4096;

export const cardVersions = ['3.0', '4.0'] as const;
export type CardVersion = (typeof cardVersions)[number];

/** One property as the filters see it: upper-case name, value as text, parameters by upper-case name. */
export type CardProperty = [name: string, value: string, parameters: Record<string, string[]>];

export interface Card {
  version: CardVersion;
  uid: string | undefined;
  fullName: string;
  properties: CardProperty[];
}

/** Values that are data rather than text: the filters see them as present but empty. */
const binaryProperties = new Set(['PHOTO', 'LOGO', 'SOUND', 'KEY']);

/** Reads and validates one vCard; throws a HoldfastError saying what is wrong. */
export function parseCard(text: string): Card {
  const size = Buffer.byteLength(text);
  if (size > maxCardSize)
    throw invalid('card-max-resource-size', `the vCard is ${size} bytes; an address book takes at most ${maxCardSize}`);
  const lines = logicalLines(text);
  if (lines > maxCardProperties + 2)
    throw invalid(
      'valid-address-data',
      `the vCard has ${lines - 2} properties; at most ${maxCardProperties} are accepted in one card`,
    );
  const start = /^\uFEFF?\s*BEGIN:([A-Za-z-]+)/i.exec(text);
  if (!start) throw invalid('valid-address-data', 'the body is not a vCard: it must begin with BEGIN:VCARD');
  if (start[1]!.toUpperCase() !== 'VCARD')
    throw invalid(
      'supported-address-data',
      `the body is a ${start[1]!.toUpperCase()}, not a vCard: address books hold text/vcard (BEGIN:VCARD)`,
    );
  let parsed: unknown;
  try {
    parsed = ICAL.parse(text.replace(/^\uFEFF/, ''));
  } catch (error) {
    throw invalid('valid-address-data', `the vCard cannot be read: ${(error as Error).message}`);
  }
  if (Array.isArray(parsed) && Array.isArray(parsed[0]))
    throw invalid(
      'valid-address-data',
      `the body holds ${parsed.length} vCards; an address object holds exactly one (RFC 6352 §5.1)`,
    );
  const [name, rawProperties, components] = parsed as [string, unknown[][], unknown[]];
  if (name !== 'vcard') throw invalid('supported-address-data', 'the body is not a vCard');
  if (components.length)
    throw invalid('valid-address-data', 'the vCard holds nested components (BEGIN: inside BEGIN:VCARD)');
  const properties = rawProperties.map(cardProperty);
  const version = single(properties, 'VERSION');
  if (version === undefined) throw invalid('valid-address-data', 'the vCard has no VERSION; use VERSION:3.0 or 4.0');
  if (!(cardVersions as readonly string[]).includes(version))
    throw invalid(
      'supported-address-data',
      `vCard version ${version} is not supported: address books take vCard 3.0 (RFC 2426) and 4.0 (RFC 6350)`,
    );
  const fullName = single(properties, 'FN');
  if (fullName === undefined)
    throw invalid('valid-address-data', `the vCard has no FN (formatted name); vCard ${version} requires one`);
  const uid = single(properties, 'UID');
  if (uid !== undefined && !uid.trim()) throw invalid('valid-address-data', 'the vCard has an empty UID');
  return { version: version as CardVersion, uid: uid?.trim(), fullName, properties };
}

/** Lines that start a property (unfolded lines), counted without splitting the text. */
function logicalLines(text: string): number {
  let count = 1;
  for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) {
    const next = text.charCodeAt(at + 1);
    if (next !== 32 && next !== 9 && at + 1 < text.length) count++;
  }
  return count;
}

/** The value of a property that may appear once; a second one is refused. */
function single(properties: CardProperty[], name: string): string | undefined {
  const found = properties.filter((p) => p[0] === name);
  if (found.length > 1)
    throw invalid('valid-address-data', `the vCard has ${found.length} ${name} properties; one is allowed`);
  return found[0]?.[1];
}

function cardProperty(jcard: unknown[]): CardProperty {
  const [name, params, , ...values] = jcard as [string, Record<string, string | string[]>, string, ...unknown[]];
  const upper = name.toUpperCase();
  const parameters: Record<string, string[]> = {};
  for (const [param, value] of Object.entries(params)) {
    if (param === 'group') continue;
    parameters[param.toUpperCase()] = (Array.isArray(value) ? value : [value]).map(String);
  }
  const binary = binaryProperties.has(upper) || parameters.ENCODING?.some((e) => /^(b|base64)$/i.test(e));
  const text = binary ? '' : values.map(valueText).join(',');
  return [upper, text.length > maxIndexedValue ? text.slice(0, maxIndexedValue) : text, parameters];
}

/** A value as text: structured values (N, ADR) with their parts separated by `;`, as written. */
function valueText(value: unknown): string {
  if (Array.isArray(value)) return value.map((part) => (Array.isArray(part) ? part.join(',') : String(part))).join(';');
  return String(value);
}
