// A stored vCard as a JSContact Card (RFC 9553), for JMAP for Contacts (RFC 9610), following the
// vCard mapping of RFC 9555 for the properties people's cards carry: names, nicknames, addresses
// for mail, phones, postal addresses, organisations and titles, notes, categories, links,
// birthdays and group members. It reads the properties stored with each card (vcard.ts), so no
// vCard is parsed again; what it does not map stays in the vCard, which CardDAV returns whole.
import ICAL from 'ical.js';
import type { CardProperty } from './vcard.ts';

export type Json = Record<string, unknown>;

const contextsOf = (params: Record<string, string[]>): Json | undefined => {
  const types = (params.TYPE ?? []).flatMap((t) => t.toLowerCase().split(','));
  const contexts: Json = {};
  if (types.includes('work')) contexts.work = true;
  if (types.includes('home')) contexts.private = true;
  return Object.keys(contexts).length ? contexts : undefined;
};

const prefOf = (params: Record<string, string[]>): number | undefined => {
  const pref = Number(params.PREF?.[0]);
  if (pref >= 1 && pref <= 100) return pref;
  return (params.TYPE ?? []).some((t) => t.toLowerCase().split(',').includes('pref')) ? 1 : undefined;
};

const phoneFeatures: Record<string, string> = {
  cell: 'mobile',
  voice: 'voice',
  fax: 'fax',
  pager: 'pager',
  text: 'text',
  video: 'video',
  textphone: 'textphone',
};

/** Drops undefined members, so the card holds only what the vCard has. */
const clean = (object: Json): Json => Object.fromEntries(Object.entries(object).filter(([, v]) => v !== undefined));

/** The card as JSContact. `fallbackUid` names a card whose vCard has no UID. */
export function toJsContact(properties: CardProperty[], fallbackUid: string): Json {
  const all = (name: string) => properties.filter(([n]) => n === name);
  const first = (name: string) => all(name)[0]?.[1];
  const numbered = (prefix: string, items: Json[]) =>
    items.length ? Object.fromEntries(items.map((item, i) => [`${prefix}${i + 1}`, clean(item)])) : undefined;

  const [surname = '', given = '', additional = '', prefix = '', suffix = ''] = (first('N') ?? '').split(';');
  const components = [
    ['title', prefix],
    ['given', given],
    ['given2', additional],
    ['surname', surname],
    ['credential', suffix],
  ]
    .filter(([, value]) => value)
    .map(([kind, value]) => ({ kind, value }));
  const kind = (first('KIND') ?? first('X-ADDRESSBOOKSERVER-KIND') ?? 'individual').toLowerCase();
  const members = [...all('MEMBER'), ...all('X-ADDRESSBOOKSERVER-MEMBER')].map(([, value]) => value);
  const birthday = /^(\d{4}|--)-?(\d{2})-?(\d{2})/.exec(first('BDAY') ?? '');
  const keywords = all('CATEGORIES').flatMap(([, value]) => value.split(',').filter(Boolean));
  return clean({
    '@type': 'Card',
    version: '1.0',
    uid: first('UID') ?? fallbackUid,
    kind: ['individual', 'group', 'org', 'location', 'device', 'application'].includes(kind) ? kind : 'individual',
    name: clean({ full: first('FN'), components: components.length ? components : undefined }),
    nicknames: numbered(
      'k',
      all('NICKNAME').flatMap(([, value]) => value.split(',').map((name) => ({ '@type': 'Nickname', name }))),
    ),
    emails: numbered(
      'e',
      all('EMAIL').map(([, address, params]) => ({
        '@type': 'EmailAddress',
        address,
        contexts: contextsOf(params),
        pref: prefOf(params),
      })),
    ),
    phones: numbered(
      'p',
      all('TEL').map(([, number, params]) => {
        const features = Object.fromEntries(
          (params.TYPE ?? [])
            .flatMap((t) => t.toLowerCase().split(','))
            .filter((t) => t in phoneFeatures)
            .map((t) => [phoneFeatures[t], true]),
        );
        return {
          '@type': 'Phone',
          number,
          features: Object.keys(features).length ? features : undefined,
          contexts: contextsOf(params),
          pref: prefOf(params),
        };
      }),
    ),
    addresses: numbered(
      'a',
      all('ADR').map(([, value, params]) => {
        const [postOfficeBox, apartment, name, locality, region, postcode, country] = value.split(';');
        const parts = Object.entries({ postOfficeBox, apartment, name, locality, region, postcode, country })
          .filter(([, v]) => v)
          .map(([kind, v]) => ({ '@type': 'AddressComponent', kind, value: v }));
        return { '@type': 'Address', components: parts, contexts: contextsOf(params), pref: prefOf(params) };
      }),
    ),
    organizations: numbered(
      'o',
      all('ORG').map(([, value]) => {
        const [name, ...units] = value.split(';');
        return {
          '@type': 'Organization',
          name: name || undefined,
          units: units.filter(Boolean).length ? units.filter(Boolean).map((unit) => ({ name: unit })) : undefined,
        };
      }),
    ),
    titles: numbered('t', [
      ...all('TITLE').map(([, name]) => ({ '@type': 'Title', name, kind: 'title' })),
      ...all('ROLE').map(([, name]) => ({ '@type': 'Title', name, kind: 'role' })),
    ]),
    notes: numbered(
      'n',
      all('NOTE').map(([, note]) => ({ '@type': 'Note', note })),
    ),
    links: numbered(
      'l',
      all('URL').map(([, uri]) => ({ '@type': 'Link', uri })),
    ),
    keywords: keywords.length ? Object.fromEntries(keywords.map((k) => [k, true])) : undefined,
    members: kind === 'group' && members.length ? Object.fromEntries(members.map((m) => [m, true])) : undefined,
    anniversaries: birthday
      ? {
          b1: {
            '@type': 'Anniversary',
            kind: 'birth',
            date: clean({
              '@type': 'PartialDate',
              year: birthday[1] === '--' ? undefined : Number(birthday[1]),
              month: Number(birthday[2]),
              day: Number(birthday[3]),
            }),
          },
        }
      : undefined,
  });
}

// From JSContact -------------------------------------------------------------------------------------

/** A JSContact value the card cannot take, with the property at fault (a JSON pointer). */
export class JsContactError extends Error {
  constructor(
    readonly property: string,
    message: string,
  ) {
    super(message);
  }
}

/** vCard properties a JSContact card speaks for: the rest of a card being replaced is kept as it was. */
const mappedProperties = new Set([
  'VERSION',
  'PRODID',
  'UID',
  'FN',
  'N',
  'KIND',
  'NICKNAME',
  'EMAIL',
  'TEL',
  'ADR',
  'ORG',
  'TITLE',
  'ROLE',
  'NOTE',
  'URL',
  'CATEGORIES',
  'BDAY',
  'MEMBER',
  'X-ADDRESSBOOKSERVER-KIND',
  'X-ADDRESSBOOKSERVER-MEMBER',
]);

const objectAt = (card: Json, property: string): Record<string, Json> => {
  const value = card[property];
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value))
    throw new JsContactError(property, `${property} must be an object of objects by id`);
  for (const [id, item] of Object.entries(value as Json))
    if (typeof item !== 'object' || item === null || Array.isArray(item))
      throw new JsContactError(`${property}/${id}`, `${property}/${id} must be an object`);
  return value as Record<string, Json>;
};

/** The keys set to true in a map such as keywords or members. */
const flags = (card: Json, property: string): string[] => {
  const value = card[property];
  if (value === undefined || value === null) return [];
  if (typeof value !== 'object' || Array.isArray(value))
    throw new JsContactError(property, `${property} must be an object of names set to true`);
  return Object.entries(value as Json)
    .filter(([, on]) => on === true)
    .map(([key]) => key);
};

const text = (item: Json, member: string, where: string, required = false): string | undefined => {
  const value = item[member];
  if (value === undefined || value === null) {
    if (required) throw new JsContactError(`${where}/${member}`, `${where}/${member} is required`);
    return undefined;
  }
  if (typeof value !== 'string') throw new JsContactError(`${where}/${member}`, `${where}/${member} must be a string`);
  return value;
};

/**
 * The vCard for a JSContact card, in `version`; `previous` (the vCard it replaces) gives the
 * properties JSContact does not speak for (photos, custom X- properties), which are kept.
 */
export function fromJsContact(card: Json, version: '3.0' | '4.0', uid: string, previous?: unknown[]): string {
  const v4 = version === '4.0';
  const props: unknown[][] = [['version', {}, 'text', version]];
  props.push(['prodid', {}, 'text', '-//Holdfast//JMAP Contacts//EN']);
  props.push(['uid', {}, 'text', uid]);
  const name = (card.name ?? {}) as Json;
  if (typeof name !== 'object' || Array.isArray(name)) throw new JsContactError('name', 'name must be an object');
  const components = Array.isArray(name.components) ? (name.components as Json[]) : [];
  const part = (kind: string) =>
    components
      .filter((c) => c?.kind === kind && typeof c.value === 'string')
      .map((c) => c.value as string)
      .join(' ');
  const emails = Object.entries(objectAt(card, 'emails'));
  const composed = [part('title'), part('given'), part('given2'), part('surname'), part('credential')]
    .filter(Boolean)
    .join(' ');
  const full = text(name, 'full', 'name') || composed || (emails[0] ? String(emails[0][1].address ?? '') : '');
  if (!full)
    throw new JsContactError('name', 'the card needs a name (name/full or name/components) or an email address');
  props.push(['fn', {}, 'text', full]);
  if (components.length)
    props.push(['n', {}, 'text', [part('surname'), part('given'), part('given2'), part('title'), part('credential')]]);
  const kind = text(card, 'kind', '') ?? 'individual';
  if (kind !== 'individual')
    props.push(v4 ? ['kind', {}, 'text', kind] : ['x-addressbookserver-kind', {}, 'unknown', kind]);
  const typeParams = (item: Json, extra: string[] = []) => {
    const contexts = (item.contexts ?? {}) as Json;
    const types = [...(contexts.work ? ['work'] : []), ...(contexts.private ? ['home'] : []), ...extra];
    if (!v4 && item.pref !== undefined) types.push('pref');
    const params: Json = types.length ? { type: types } : {};
    if (v4 && typeof item.pref === 'number') params.pref = String(item.pref);
    return params;
  };
  for (const [id, nick] of Object.entries(objectAt(card, 'nicknames')))
    props.push(['nickname', {}, 'text', text(nick, 'name', `nicknames/${id}`, true)]);
  for (const [id, email] of emails)
    props.push(['email', typeParams(email), 'text', text(email, 'address', `emails/${id}`, true)]);
  const featureTypes = Object.fromEntries(Object.entries(phoneFeatures).map(([vcard, js]) => [js, vcard]));
  for (const [id, phone] of Object.entries(objectAt(card, 'phones'))) {
    const features = Object.keys((phone.features ?? {}) as Json).map((f) => featureTypes[f] ?? f);
    props.push(['tel', typeParams(phone, features), 'text', text(phone, 'number', `phones/${id}`, true)]);
  }
  for (const [, address] of Object.entries(objectAt(card, 'addresses'))) {
    const parts = Array.isArray(address.components) ? (address.components as Json[]) : [];
    const of = (k: string) =>
      parts
        .filter((c) => c?.kind === k)
        .map((c) => String(c.value ?? ''))
        .join(' ');
    const street = ['number', 'name'].map(of).filter(Boolean).join(' ');
    props.push([
      'adr',
      typeParams(address),
      'text',
      [of('postOfficeBox'), of('apartment'), street, of('locality'), of('region'), of('postcode'), of('country')],
    ]);
  }
  for (const [, org] of Object.entries(objectAt(card, 'organizations'))) {
    const units = Array.isArray(org.units) ? (org.units as Json[]).map((u) => String(u?.name ?? '')) : [];
    props.push(['org', {}, 'text', [String(org.name ?? ''), ...units]]);
  }
  for (const [id, title] of Object.entries(objectAt(card, 'titles')))
    props.push([title.kind === 'role' ? 'role' : 'title', {}, 'text', text(title, 'name', `titles/${id}`, true)]);
  for (const [id, note] of Object.entries(objectAt(card, 'notes')))
    props.push(['note', {}, 'text', text(note, 'note', `notes/${id}`, true)]);
  for (const [id, link] of Object.entries(objectAt(card, 'links')))
    props.push(['url', {}, 'uri', text(link, 'uri', `links/${id}`, true)]);
  const keywords = flags(card, 'keywords');
  if (keywords.length) props.push(['categories', {}, 'text', ...keywords]);
  const birth = Object.values(objectAt(card, 'anniversaries')).find((a) => a.kind === 'birth');
  const date = birth?.date as Json | undefined;
  if (date && typeof date.month === 'number' && typeof date.day === 'number') {
    const pad = (n: number) => String(n).padStart(2, '0');
    const year = typeof date.year === 'number' ? String(date.year).padStart(4, '0') : '--';
    props.push(['bday', {}, 'text', `${year}${year === '--' ? '' : '-'}${pad(date.month)}-${pad(date.day)}`]);
  }
  for (const member of flags(card, 'members'))
    props.push(v4 ? ['member', {}, 'uri', member] : ['x-addressbookserver-member', {}, 'unknown', member]);
  for (const kept of previous ?? [])
    if (!mappedProperties.has(String((kept as unknown[])[0]).toUpperCase())) props.push(kept as unknown[]);
  return ICAL.stringify(['vcard', props, []]);
}
