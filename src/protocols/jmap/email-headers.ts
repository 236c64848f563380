// Header fields as JMAP shows them (RFC 8621 4.1.2-4.1.3): the `header:{name}:as{Form}[:all]`
// properties of an Email or a body part, parsed from the field as written, and the same forms turned
// back into fields when a client makes an Email (Email/set create).
import libmime from 'libmime';
import { addressList, type EnvelopeAddress } from '../../message/envelope.ts';
import { rfc5322Date } from '../../message/headers.ts';
import { invalidArguments } from './jmap-errors.ts';

export type HeaderForm = 'Raw' | 'Text' | 'Addresses' | 'GroupedAddresses' | 'MessageIds' | 'Date' | 'URLs';

export interface HeaderSpec {
  /** The field name as the client wrote it (matched without case). */
  name: string;
  form: HeaderForm;
  all: boolean;
}

export interface HeaderField {
  name: string;
  value: string;
}

const forms: ReadonlySet<string> = new Set([
  'Raw',
  'Text',
  'Addresses',
  'GroupedAddresses',
  'MessageIds',
  'Date',
  'URLs',
]);

/** The forms RFC 8621 4.1.2 allows for the fields it names (Raw is allowed for every field). */
const knownFields = new Map<string, ReadonlySet<HeaderForm>>();
const allow = (names: string[], allowed: HeaderForm[]) => {
  for (const name of names) knownFields.set(name, new Set<HeaderForm>(['Raw', ...allowed]));
};
allow(['subject', 'comments', 'keywords', 'list-id'], ['Text']);
allow(
  [
    'from',
    'sender',
    'reply-to',
    'to',
    'cc',
    'bcc',
    'resent-from',
    'resent-sender',
    'resent-reply-to',
    'resent-to',
    'resent-cc',
    'resent-bcc',
  ],
  ['Addresses', 'GroupedAddresses'],
);
allow(['message-id', 'in-reply-to', 'references', 'resent-message-id'], ['MessageIds']);
allow(['date', 'resent-date'], ['Date']);
allow(['list-help', 'list-unsubscribe', 'list-subscribe', 'list-post', 'list-owner', 'list-archive'], ['URLs']);

/** A field name (RFC 5322 ftext: printable ASCII but the colon). */
const fieldName = /^[\x21-\x39\x3b-\x7e]{1,200}$/;

/**
 * The header property a property name asks for: undefined when it is not a `header:` property,
 * invalidArguments when it is one this server cannot answer (malformed, an unknown form, or a form
 * RFC 8621 does not allow for that field).
 */
export function parseHeaderProperty(property: string): HeaderSpec | undefined {
  if (!property.startsWith('header:')) return undefined;
  const parts = property.slice('header:'.length).split(':');
  const name = parts[0]!;
  let form: HeaderForm = 'Raw';
  let all = false;
  let rest = parts.slice(1);
  if (rest.at(-1) === 'all') {
    all = true;
    rest = rest.slice(0, -1);
  }
  if (rest.length > 1 || !fieldName.test(name)) throw invalidArguments(`"${property}" is not a header property`);
  if (rest.length === 1) {
    const asForm = rest[0]!;
    if (!asForm.startsWith('as') || !forms.has(asForm.slice(2)))
      throw invalidArguments(`"${property}": ${asForm} is not a header form (asRaw, asText, asAddresses…)`);
    form = asForm.slice(2) as HeaderForm;
  }
  const allowed = knownFields.get(name.toLowerCase());
  if (allowed && !allowed.has(form)) throw invalidArguments(`"${property}": ${name} cannot be read as ${form}`);
  return { name, form, all };
}

/** The properties among `properties` that are header properties, checked (for /get's known list). */
export function headerPropertiesOf(properties: unknown): string[] {
  if (!Array.isArray(properties)) return [];
  return properties.filter((p): p is string => typeof p === 'string' && parseHeaderProperty(p) !== undefined);
}

const decodeWords = (value: string) => {
  try {
    return libmime.decodeWords(value);
  } catch {
    return value;
  }
};

/** Folding undone (RFC 5322 2.2.3). */
const unfold = (raw: string) => raw.replace(/\r?\n(?=[ \t])/g, '');

export interface EmailAddress {
  name: string | null;
  email: string;
}

export interface EmailAddressGroup {
  name: string | null;
  addresses: EmailAddress[];
}

const addressOf = ([name, , mailbox, host]: EnvelopeAddress): EmailAddress => ({
  name: name ? decodeWords(name) : null,
  email: host ? `${mailbox}@${host}` : (mailbox ?? ''),
});

/** The groups of an address list; addresses outside a group are groups without a name (asGroupedAddresses). */
function groupedAddresses(raw: string): EmailAddressGroup[] {
  const out: EmailAddressGroup[] = [];
  let group: EmailAddressGroup | undefined;
  for (const address of addressList(unfold(raw)) ?? []) {
    const [, , mailbox, host] = address;
    if (host === null) {
      // Group syntax: [null, null, name, null] opens a group, all nulls closes it.
      if (mailbox !== null) {
        group = { name: decodeWords(mailbox), addresses: [] };
        out.push(group);
      } else group = undefined;
      continue;
    }
    if (group) group.addresses.push(addressOf(address));
    else {
      const last = out.at(-1);
      if (last && last.name === null && !group) last.addresses.push(addressOf(address));
      else out.push({ name: null, addresses: [addressOf(address)] });
    }
  }
  return out;
}

/** Message ids without their angle brackets; null when there is none. */
function messageIdsOf(raw: string): string[] | null {
  const ids = [...unfold(raw).matchAll(/<([^<>\s]+)>/g)].map((m) => m[1]!);
  return ids.length ? ids : null;
}

/** An RFC 5322 date as an RFC 3339 UTC date; null when it is not one. */
function dateOf(raw: string): string | null {
  const text = unfold(raw)
    .replace(/\([^()]*\)/g, ' ')
    .trim();
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z') : null;
}

/** The URLs of a List-* field: those in angle brackets, in order; null when there is none. */
function urlsOf(raw: string): string[] | null {
  const urls = [...unfold(raw).matchAll(/<([^<>]*)>/g)].map((m) => m[1]!.replace(/\s+/g, ''));
  return urls.length ? urls : null;
}

/** One field's value in a form (RFC 8621 4.1.2). */
export function headerValue(raw: string, form: HeaderForm): unknown {
  switch (form) {
    case 'Raw':
      return raw;
    case 'Text':
      return decodeWords(unfold(raw).trim()).normalize('NFC');
    case 'Addresses':
      return groupedAddresses(raw).flatMap((g) => g.addresses);
    case 'GroupedAddresses':
      return groupedAddresses(raw);
    case 'MessageIds':
      return messageIdsOf(raw);
    case 'Date':
      return dateOf(raw);
    case 'URLs':
      return urlsOf(raw);
  }
}

/** A header property's value from the fields of an Email or part: the last field, or all of them with `:all`. */
export function headerProperty(fields: HeaderField[], spec: HeaderSpec): unknown {
  const name = spec.name.toLowerCase();
  const values = fields.filter((f) => f.name.toLowerCase() === name).map((f) => headerValue(f.value, spec.form));
  if (spec.all) return values;
  return values.length ? values.at(-1) : null;
}

/** headerProperty by property name (checked already by parseHeaderProperty). */
export function headerPropertyByName(fields: HeaderField[], property: string): unknown {
  const spec = parseHeaderProperty(property);
  return spec ? headerProperty(fields, spec) : null;
}

// Making fields from the forms (Email/set create).

/** Thrown for a value that is not of its form; the caller answers invalidProperties naming the property. */
export class HeaderValueError extends Error {}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** A display name or group name as a phrase: quoted when needed, encoded words for non-ASCII. */
function phrase(name: string): string {
  if (/[^\x20-\x7e]/.test(name)) return libmime.encodeWord(name, 'Q', 52);
  if (/^[\w!#$%&'*+\-/=?^`{|}~ ]*$/.test(name)) return name;
  return `"${name.replace(/(["\\])/g, '\\$1')}"`;
}

const emailPattern = /^[^\s<>(),;:"@\\[\]]+@[^\s<>(),;:"@\\[\]]+$/;

/** An EmailAddress written as a mailbox (RFC 5322 3.4). */
function mailboxText(value: unknown): string {
  if (!isObject(value) || typeof value.email !== 'string' || !emailPattern.test(value.email))
    throw new HeaderValueError('an address is {name, email} with an email address');
  if (value.name !== undefined && value.name !== null && typeof value.name !== 'string')
    throw new HeaderValueError('an address name is a string or null');
  const name = typeof value.name === 'string' ? value.name.replace(/[\r\n]+/g, ' ').trim() : '';
  return name ? `${phrase(name)} <${value.email}>` : value.email;
}

const listOf = (value: unknown, what: string) => {
  if (!Array.isArray(value)) throw new HeaderValueError(`${what} must be a list`);
  if (value.length > 1000) throw new HeaderValueError(`${what} has more than 1000 items`);
  return value as unknown[];
};

/** A field value (as written after the colon, without folding) from one value of a form. */
export function fieldValue(value: unknown, form: HeaderForm): string {
  switch (form) {
    case 'Raw':
      if (typeof value !== 'string' || /[\r\n](?![ \t])/.test(value.replace(/\r\n(?=[ \t])/g, '')))
        throw new HeaderValueError('a Raw value is a string without line breaks (but folding)');
      return value;
    case 'Text':
      if (typeof value !== 'string') throw new HeaderValueError('a Text value is a string');
      {
        const text = value.replace(/[\r\n]+/g, ' ');
        return /[^\x20-\x7e\t]/.test(text) ? libmime.encodeWords(text, 'Q', 52) : text;
      }
    case 'Addresses':
      return listOf(value, 'Addresses').map(mailboxText).join(', ');
    case 'GroupedAddresses':
      return listOf(value, 'GroupedAddresses')
        .map((group) => {
          if (!isObject(group)) throw new HeaderValueError('a group is {name, addresses}');
          const members = listOf(group.addresses, 'a group’s addresses').map(mailboxText).join(', ');
          if (group.name === null || group.name === undefined) return members;
          if (typeof group.name !== 'string') throw new HeaderValueError('a group name is a string or null');
          return `${phrase(group.name)}: ${members};`;
        })
        .filter((g) => g)
        .join(', ');
    case 'MessageIds':
      return listOf(value, 'MessageIds')
        .map((id) => {
          if (typeof id !== 'string' || !/^[^\s<>]+@?[^\s<>]*$/.test(id) || id.length > 998)
            throw new HeaderValueError('a message id is a string without spaces or angle brackets');
          return `<${id}>`;
        })
        .join(' ');
    case 'Date': {
      if (typeof value !== 'string' || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(value))
        throw new HeaderValueError('a Date value is an RFC 3339 date-time');
      const ms = Date.parse(value);
      if (!Number.isFinite(ms)) throw new HeaderValueError('a Date value is an RFC 3339 date-time');
      return rfc5322Date(ms);
    }
    case 'URLs':
      return listOf(value, 'URLs')
        .map((url) => {
          if (typeof url !== 'string' || /[\s<>]/.test(url))
            throw new HeaderValueError('a URL is a string without spaces');
          return `<${url}>`;
        })
        .join(', ');
  }
}
