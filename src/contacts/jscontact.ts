// A stored vCard as a JSContact Card (RFC 9553), for JMAP for Contacts (RFC 9610), following the
// vCard mapping of RFC 9555 for the properties people's cards carry: names, nicknames, addresses
// for mail, phones, postal addresses, organisations and titles, notes, categories, links,
// birthdays and group members. It reads the properties stored with each card (vcard.ts), so no
// vCard is parsed again; what it does not map stays in the vCard, which CardDAV returns whole.
import type { CardProperty } from './vcard.ts';

type Json = Record<string, unknown>;

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
