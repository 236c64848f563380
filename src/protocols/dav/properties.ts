// The WebDAV properties of each kind of resource (RFC 4918, RFC 4791, RFC 6578, RFC 5397), and the
// propstat blocks a PROPFIND or REPORT answers with. Unknown properties are reported 404 per name.
import type { CalendarObjectRow, CalendarRow } from '../../calendar/calendars.ts';
import { mayWrite, type CalendarRight } from '../../calendar/calendar-access.ts';
import type { InboxItem } from '../../calendar/scheduling/schedule-inbox.ts';
import type { Principal } from '../../directory/directory.ts';
import {
  apple,
  caldav,
  calendarServer,
  carddav,
  dav,
  node,
  type PropStat,
  type XmlElement,
  type XmlNode,
} from './xml/dav-xml.ts';
import { syncToken } from './collection-reports.ts';
import {
  addressBookHomeHref,
  calendarHref,
  davRoot,
  homeHref,
  principalHref,
  type DavResource,
} from './dav-resources.ts';

export type PropertyValue = XmlNode[] | string;
export type PropertyGetters = Map<string, () => PropertyValue | undefined>;

export interface PropertyContext {
  viewer: Principal;
  maxResourceSize: number;
}

/** A calendar object as a resource, with its stored row. */
export interface ObjectEntry {
  href: string;
  row: CalendarObjectRow;
}

const href = (value: string) => [node(dav('href'), value)];

export type PropertySetter = (name: string, get: () => PropertyValue | undefined) => void;

/** The getters every resource has (who is asking, where principals are, its reports), and a setter for more. */
export function baseProperties(
  context: PropertyContext,
  reports: () => XmlNode[],
): { getters: PropertyGetters; set: PropertySetter } {
  const getters: PropertyGetters = new Map();
  const set: PropertySetter = (name, get) => getters.set(name, get);
  set(dav('current-user-principal'), () => href(principalHref(context.viewer.address)));
  set(dav('principal-collection-set'), () => href(`${davRoot}principals/`));
  set(dav('supported-report-set'), reports);
  return { getters, set };
}

/** A principal's calendar or address book home: a collection they own, readable by the tenant. */
export function homeProperties(set: PropertySetter, owner: Principal, context: PropertyContext, calendar: boolean) {
  set(dav('resourcetype'), () => [node(dav('collection'))]);
  set(dav('owner'), () => href(principalHref(owner.address)));
  set(dav('current-user-privilege-set'), () => privileges(owner.id === context.viewer.id ? 'owner' : 'read', calendar));
}

export function resourceProperties(resource: DavResource, context: PropertyContext): PropertyGetters {
  const { getters, set } = baseProperties(context, () => reports(resource.kind));

  switch (resource.kind) {
    case 'root':
    case 'principals':
      set(dav('resourcetype'), () => [node(dav('collection'))]);
      break;
    case 'principal':
      principalProperties(set, resource.principal);
      break;
    case 'home':
      homeProperties(set, resource.principal, context, true);
      break;
    case 'calendar':
      calendarProperties(set, resource, context);
      break;
    case 'schedule-inbox':
    case 'schedule-outbox':
      set(dav('resourcetype'), () => [node(dav('collection')), node(caldav(resource.kind))]);
      set(dav('owner'), () => href(principalHref(resource.principal.address)));
      set(dav('current-user-privilege-set'), () => privileges('owner'));
      break;
    default:
      break;
  }
  return getters;
}

function principalProperties(set: (name: string, get: () => PropertyValue | undefined) => void, principal: Principal) {
  set(dav('resourcetype'), () => [node(dav('principal'))]);
  set(dav('displayname'), () => principal.displayName ?? principal.address);
  set(dav('principal-URL'), () => href(principalHref(principal.address)));
  set(caldav('calendar-home-set'), () => href(homeHref(principal.address)));
  set(carddav('addressbook-home-set'), () => href(addressBookHomeHref(principal.address)));
  set(caldav('calendar-user-address-set'), () => [
    node(dav('href'), `mailto:${principal.address}`),
    node(dav('href'), principalHref(principal.address)),
  ]);
  // Apple clients read the addresses from here.
  set(calendarServer('email-address-set'), () => [node(calendarServer('email-address'), principal.address)]);
  set(caldav('schedule-inbox-URL'), () => href(calendarHref(principal.address, 'inbox')));
  set(caldav('schedule-outbox-URL'), () => href(calendarHref(principal.address, 'outbox')));
  set(
    caldav('calendar-user-type'),
    () =>
      ({ room: 'ROOM', equipment: 'RESOURCE', shared: 'INDIVIDUAL', user: 'INDIVIDUAL', group: 'GROUP' })[
        principal.kind
      ],
  );
}

function calendarProperties(
  set: (name: string, get: () => PropertyValue | undefined) => void,
  resource: Extract<DavResource, { kind: 'calendar' }>,
  context: PropertyContext,
) {
  const { calendar, principal, right } = resource;
  const dead = deadProperties(calendar);
  for (const [name, value] of Object.entries(dead)) set(name, () => value);
  set(dav('resourcetype'), () => [node(dav('collection')), node(caldav('calendar'))]);
  set(dav('displayname'), () => calendarDisplayName(resource));
  set(dav('owner'), () => href(principalHref(principal.address)));
  set(dav('current-user-privilege-set'), () => privileges(right === 'owner' ? 'owner' : right));
  set(dav('sync-token'), () => syncToken(calendar));
  set(calendarServer('getctag'), () => String(calendar.sync_seq));
  set(caldav('calendar-description'), () => calendar.description ?? undefined);
  set(caldav('calendar-timezone'), () => calendar.timezone ?? undefined);
  set(caldav('supported-calendar-component-set'), () =>
    calendar.components.split(',').map((name) => node(caldav('comp'), undefined, { name })),
  );
  set(caldav('supported-calendar-data'), () => [
    node(caldav('calendar-data'), undefined, { 'content-type': 'text/calendar', version: '2.0' }),
  ]);
  set(caldav('max-resource-size'), () => String(context.maxResourceSize));
  set(apple('calendar-color'), () => calendar.color ?? undefined);
}

/** A shared calendar is named after its owner in the grantee's home, so two "Calendar"s differ. */
function calendarDisplayName(resource: Extract<DavResource, { kind: 'calendar' }>): string {
  const name = resource.calendar.display_name ?? resource.calendar.uri;
  return resource.sharedBy ? `${name} (${resource.sharedBy})` : name;
}

export function objectProperties(entry: ObjectEntry, context: PropertyContext, right: CalendarRight): PropertyGetters {
  const { row } = entry;
  return new Map<string, () => PropertyValue | undefined>([
    [dav('resourcetype'), () => []],
    [dav('getetag'), () => row.etag],
    [dav('getcontenttype'), () => `text/calendar; charset=utf-8; component=${row.component.toLowerCase()}`],
    [dav('getcontentlength'), () => String(row.size)],
    [dav('getlastmodified'), () => new Date(row.updated_at).toUTCString()],
    [dav('current-user-principal'), () => href(principalHref(context.viewer.address))],
    [dav('current-user-privilege-set'), () => privileges(right === 'owner' ? 'owner' : right)],
    [caldav('calendar-data'), () => row.data],
  ]);
}

/** A scheduling inbox message as a resource (RFC 6638 §2.2). */
export function inboxItemProperties(item: InboxItem, context: PropertyContext): PropertyGetters {
  return new Map<string, () => PropertyValue | undefined>([
    [dav('resourcetype'), () => []],
    [dav('getetag'), () => item.etag],
    [dav('getcontenttype'), () => `text/calendar; charset=utf-8; component=vevent; method=${item.method}`],
    [dav('getcontentlength'), () => String(Buffer.byteLength(item.data))],
    [dav('current-user-principal'), () => href(principalHref(context.viewer.address))],
    [caldav('calendar-data'), () => item.data],
  ]);
}

/** Properties a client may set on a calendar (PROPPATCH, MKCALENDAR); others are protected or dead. */
export const writableCalendarProperties = new Set([
  dav('displayname'),
  caldav('calendar-description'),
  caldav('calendar-timezone'),
  apple('calendar-color'),
  caldav('supported-calendar-component-set'),
]);

/** Live properties that only the server sets. */
export const protectedProperties = new Set([
  dav('resourcetype'),
  dav('getetag'),
  dav('getcontenttype'),
  dav('getcontentlength'),
  dav('getlastmodified'),
  dav('sync-token'),
  dav('current-user-principal'),
  dav('current-user-privilege-set'),
  dav('owner'),
  dav('supported-report-set'),
  calendarServer('getctag'),
  caldav('supported-calendar-data'),
  caldav('max-resource-size'),
]);

export function deadProperties(calendar: CalendarRow): Record<string, string> {
  return calendar.dead_properties ? (JSON.parse(calendar.dead_properties) as Record<string, string>) : {};
}

/** The privileges of a right; calendar ones (RFC 4791 §6.1.1, RFC 6638) unless `calendar` is false. */
export function privileges(right: 'owner' | 'write' | 'read', calendar = true): XmlNode[] {
  const names = ['read', 'read-current-user-privilege-set'];
  if (mayWrite(right)) names.push('write', 'write-content', 'write-properties', 'bind', 'unbind');
  if (right === 'owner') names.push('all');
  const calendarPrivileges = !calendar
    ? []
    : right === 'owner'
      ? ['read-free-busy', 'schedule-send', 'schedule-deliver']
      : ['read-free-busy'];
  return [
    ...names.map((name) => node(dav('privilege'), [node(dav(name))])),
    ...calendarPrivileges.map((name) => node(dav('privilege'), [node(caldav(name))])),
  ];
}

function reports(kind: DavResource['kind']): XmlNode[] {
  const names =
    kind === 'calendar'
      ? [caldav('calendar-query'), caldav('calendar-multiget'), caldav('free-busy-query'), dav('sync-collection')]
      : [];
  return names.map((name) => node(dav('supported-report'), [node(dav('report'), [node(name)])]));
}

/** The whole resource as a property: allprop leaves them out (RFC 4791 §9.6, RFC 6352 §10.4). */
const contentProperties = new Set([caldav('calendar-data'), carddav('address-data')]);

/**
 * Answers a property request: every requested name is either found (200) or not (404). `request`
 * is the list of requested property elements, or 'all' for allprop, or 'names' for propname.
 * `minimal` (the client sent `Prefer: return=minimal`, RFC 8144) leaves the 404s out.
 */
export function propstats(
  getters: PropertyGetters,
  request: XmlElement[] | 'all' | 'names',
  minimal = false,
): PropStat[] {
  const found: XmlNode[] = [];
  const missing: XmlNode[] = [];
  if (request === 'names') return [{ status: 200, properties: [...getters.keys()].map((name) => node(name)) }];
  const names =
    request === 'all' ? [...getters.keys()].filter((n) => !contentProperties.has(n)) : request.map((e) => e.name);
  for (const name of names) {
    const value = getters.get(name)?.();
    if (value === undefined) missing.push(node(name));
    else found.push(node(name, value));
  }
  return [
    { status: 200, properties: found },
    { status: 404, properties: minimal ? [] : missing },
  ];
}
