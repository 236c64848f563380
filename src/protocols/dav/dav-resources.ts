// The URL space of CalDAV and what each URL names, with the requester's rights on it:
//
//   /dav/                                     root (discovery: current-user-principal)
//   /dav/principals/{address}/                a principal
//   /dav/calendars/{address}/                 its calendar home: own calendars and shared-{id} ones
//   /dav/calendars/{address}/{calendar}/      a calendar collection
//   /dav/calendars/{address}/{calendar}/{name} one calendar object (an .ics resource)
//   /dav/calendars/{address}/inbox/ and outbox/  scheduling collections (RFC 6638), owner only
//   /dav/addressbooks/...                     CardDAV: carddav/card-resources.ts
//
// Principals of another tenant do not exist as far as a requester can tell (404).
import type { Kysely } from 'kysely';
import { principalById, principalInTenant, type Principal } from '../../directory/principal.ts';
import { rightOn, sharedCalendarUri, type CalendarRight } from '../../calendar/calendar-access.ts';
import { ensureDefaultCalendar, findCalendar, type CalendarRow } from '../../calendar/calendars.ts';
import type { Database } from '../../store/schema.ts';

export const davRoot = '/dav/';

export const principalHref = (address: string) => `${davRoot}principals/${segment(address)}/`;
export const homeHref = (address: string) => `${davRoot}calendars/${segment(address)}/`;
export const calendarHref = (address: string, uri: string) => `${homeHref(address)}${segment(uri)}/`;
export const objectHref = (collection: string, uri: string) => `${collection}${segment(uri)}`;
export const addressBookHomeHref = (address: string) => `${davRoot}addressbooks/${segment(address)}/`;

/** Percent-encodes a path segment, leaving @ readable (it is allowed in a path, RFC 3986). */
export function segment(value: string): string {
  return encodeURIComponent(value).replace(/%40/g, '@');
}

export type DavResource =
  | { kind: 'root'; href: string }
  | { kind: 'principals'; href: string }
  | { kind: 'principal'; href: string; principal: Principal }
  | { kind: 'home'; href: string; principal: Principal }
  | ({ kind: 'calendar'; href: string; principal: Principal } & CalendarInHome)
  | ({ kind: 'object'; href: string; principal: Principal; collectionHref: string; uri: string } & CalendarInHome)
  | { kind: 'schedule-inbox' | 'schedule-outbox'; href: string; principal: Principal }
  /** A message in the principal's scheduling inbox (a proposed new time or its refusal). */
  | { kind: 'inbox-item'; href: string; principal: Principal; uri: string }
  /** A name in a calendar home that does not exist yet (MKCALENDAR creates it). */
  | { kind: 'new-calendar'; href: string; principal: Principal; uri: string }
  | { kind: 'missing'; href: string };

export interface ResolveContext {
  db: Kysely<Database>;
  viewer: Principal;
  now: number;
}

/** What a request path names. Paths outside /dav/ are the root (clients probe `/` too). */
export async function resolve(context: ResolveContext, path: string): Promise<DavResource> {
  const decoded = path.split('/').filter(Boolean).map(decodeSegment);
  if (decoded.some((part) => part === undefined)) return { kind: 'missing', href: path };
  const parts = decoded as string[];
  if (parts[0] !== 'dav') return parts.length === 0 ? { kind: 'root', href: '/' } : { kind: 'missing', href: path };
  const [, area, address, calendarUri, objectUri, ...rest] = parts;
  if (!area) return { kind: 'root', href: davRoot };
  if (area !== 'principals' && area !== 'calendars') return { kind: 'missing', href: path };
  if (!address)
    return area === 'principals'
      ? { kind: 'principals', href: `${davRoot}principals/` }
      : { kind: 'missing', href: path };
  const principal = await homeOwner(context, address);
  if (!principal || rest.length) return { kind: 'missing', href: path };
  if (principal.id === context.viewer.id) await ensureDefaultCalendar(context.db, principal, context.now);
  if (area === 'principals')
    return calendarUri
      ? { kind: 'missing', href: path }
      : { kind: 'principal', href: principalHref(principal.address), principal };
  if (!calendarUri) return { kind: 'home', href: homeHref(principal.address), principal };
  if (calendarUri === 'inbox' || calendarUri === 'outbox') {
    if (principal.id !== context.viewer.id || (objectUri && calendarUri === 'outbox'))
      return { kind: 'missing', href: path };
    if (objectUri)
      return {
        kind: 'inbox-item',
        href: objectHref(calendarHref(principal.address, 'inbox'), objectUri),
        principal,
        uri: objectUri,
      };
    return {
      kind: calendarUri === 'inbox' ? 'schedule-inbox' : 'schedule-outbox',
      href: calendarHref(principal.address, calendarUri),
      principal,
    };
  }

  const found = await calendarInHome(context, principal, calendarUri);
  if (!found) {
    const own = principal.id === context.viewer.id;
    return !objectUri && own
      ? { kind: 'new-calendar', href: calendarHref(principal.address, calendarUri), principal, uri: calendarUri }
      : { kind: 'missing', href: path };
  }
  const href = calendarHref(principal.address, calendarUri);
  if (!objectUri) return { kind: 'calendar', href, principal, ...found };
  return {
    kind: 'object',
    href: objectHref(href, objectUri),
    principal,
    ...found,
    collectionHref: href,
    uri: objectUri,
  };
}

/** The principal whose home an address names: the viewer, or a principal of the viewer's tenant. */
export async function homeOwner(context: ResolveContext, address: string): Promise<Principal | undefined> {
  if (address.toLowerCase() === context.viewer.address) return context.viewer;
  return principalInTenant(context.db, context.viewer.tenantId, address);
}

export interface CalendarInHome {
  calendar: CalendarRow;
  right: CalendarRight;
  /** For a calendar shared into the viewer's home: who shared it (display name or address). */
  sharedBy?: string;
}

/** A calendar of the home's owner, or one shared into the viewer's own home, that the viewer may use. */
async function calendarInHome(
  context: ResolveContext,
  owner: Principal,
  uri: string,
): Promise<CalendarInHome | undefined> {
  const { db, viewer } = context;
  let calendar: CalendarRow | undefined;
  let sharedBy: string | undefined;
  const sharedId = /^shared-(\d+)$/.exec(uri);
  if (sharedId && owner.id === viewer.id) {
    calendar = await db.selectFrom('calendars').selectAll().where('id', '=', Number(sharedId[1])).executeTakeFirst();
    if (calendar && sharedCalendarUri(calendar.id) !== uri) calendar = undefined;
    if (calendar) {
      const sharer = await principalById(db, calendar.principal_id);
      sharedBy = sharer.displayName ?? sharer.address;
    }
  } else {
    calendar = await findCalendar(db, owner.id, uri);
  }
  if (!calendar) return undefined;
  const right = await rightOn(db, viewer, calendar);
  return right ? { calendar, right, sharedBy } : undefined;
}

export function decodeSegment(part: string): string | undefined {
  try {
    return decodeURIComponent(part);
  } catch {
    return undefined; // a malformed escape: the path names nothing
  }
}
