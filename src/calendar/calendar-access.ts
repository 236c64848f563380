// Who may use a calendar: its owner fully; other principals of the same tenant as far as a grant
// allows (read, or read and write). Full access to a shared mailbox (mailbox_grants) includes its
// calendars, as in Exchange. A principal of another tenant never learns a calendar exists.
import type { Kysely } from 'kysely';
import { notFound } from '../errors.ts';
import type { CalendarAccess, Database } from '../store/schema.ts';
import { ensureDefaultCalendar, findCalendar, type CalendarRow } from './calendars.ts';
import {
  checkGrant,
  collectionRight,
  dropGrant,
  listGrants,
  sharedCollections,
  writeGrant,
  type CollectionRight,
  type SharedCollections,
  type Viewer,
} from './collection-sharing.ts';

export { mayWrite, type Viewer } from './collection-sharing.ts';

export type CalendarRight = CollectionRight;

const calendarGrants: SharedCollections = {
  collections: 'calendars',
  grants: 'calendar_grants',
  collectionColumn: 'calendar_id',
  noun: 'calendar',
};

export const rightOn = (db: Kysely<Database>, viewer: Viewer, calendar: CalendarRow) =>
  collectionRight(db, calendarGrants, viewer, calendar);

export interface SharedCalendar {
  calendar: CalendarRow;
  owner: string;
  ownerName: string | null;
  access: CalendarAccess;
}

/** Calendars other principals have shared with this one (by calendar grant or full mailbox access). */
export async function sharedWith(db: Kysely<Database>, viewer: Viewer): Promise<SharedCalendar[]> {
  const shared = await sharedCollections<CalendarRow>(db, calendarGrants, viewer);
  return shared.map(({ collection, ...rest }) => ({ calendar: collection, ...rest }));
}

/** The name a shared calendar has inside the grantee's calendar home. */
export const sharedCalendarUri = (calendarId: number) => `shared-${calendarId}`;

export interface CalendarGrant {
  owner: string;
  calendar: string;
  grantee: string;
  access: CalendarAccess;
}

/** Shares `owner`'s calendar with `grantee` (same tenant): read, or read and write. */
export async function grantCalendar(
  db: Kysely<Database>,
  input: {
    owner: Viewer & { address: string };
    grantee: Viewer & { address: string };
    calendar: string;
    access: string;
  },
  now: number,
): Promise<CalendarGrant> {
  const { owner, grantee } = input;
  const access = checkGrant(calendarGrants, owner, grantee, input.access);
  await ensureDefaultCalendar(db, owner, now);
  const calendar = await findCalendar(db, owner.id, input.calendar);
  if (!calendar) throw notFound('no-such-calendar', `${owner.address} has no calendar named ${input.calendar}`);
  await writeGrant(db, calendarGrants, calendar, grantee.id, access, now);
  return { owner: owner.address, calendar: calendar.uri, grantee: grantee.address, access };
}

export async function revokeCalendar(
  db: Kysely<Database>,
  input: { owner: Viewer & { address: string }; grantee: Viewer; calendar: string },
) {
  const calendar = await findCalendar(db, input.owner.id, input.calendar);
  if (!calendar) throw notFound('no-such-calendar', `${input.owner.address} has no calendar named ${input.calendar}`);
  await dropGrant(db, calendarGrants, calendar.id, input.grantee.id);
}

/** Removes one grant of a calendar; false when there was none. */
export const dropCalendarGrant = (db: Kysely<Database>, calendarId: number, granteeId: number) =>
  dropGrant(db, calendarGrants, calendarId, granteeId);

export async function listCalendarGrants(
  db: Kysely<Database>,
  ownerId: number,
): Promise<{ calendar: string; grantee: string; access: CalendarAccess }[]> {
  const grants = await listGrants(db, calendarGrants, ownerId);
  return grants.map(({ collection, ...grant }) => ({ calendar: collection, ...grant }));
}
