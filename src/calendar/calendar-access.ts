// Who may use a calendar: its owner fully; other principals of the same tenant as far as a grant
// allows (read, or read and write). Full access to a shared mailbox (mailbox_grants) includes its
// calendars, as in Exchange. A principal of another tenant never learns a calendar exists.
import type { Kysely } from 'kysely';
import { forbidden, invalid, notFound } from '../errors.ts';
import type { CalendarAccess, Database } from '../store/schema.ts';
import { ensureDefaultCalendar, findCalendar, type CalendarRow } from './calendars.ts';

export type CalendarRight = 'owner' | CalendarAccess;

export interface Viewer {
  id: number;
  tenantId: number;
}

export async function rightOn(
  db: Kysely<Database>,
  viewer: Viewer,
  calendar: CalendarRow,
): Promise<CalendarRight | undefined> {
  if (calendar.tenant_id !== viewer.tenantId) return undefined;
  if (calendar.principal_id === viewer.id) return 'owner';
  const mailbox = await db
    .selectFrom('mailbox_grants')
    .select('full_access')
    .where('target_id', '=', calendar.principal_id)
    .where('grantee_id', '=', viewer.id)
    .executeTakeFirst();
  if (mailbox?.full_access) return 'write';
  const grant = await db
    .selectFrom('calendar_grants')
    .select('access')
    .where('calendar_id', '=', calendar.id)
    .where('grantee_id', '=', viewer.id)
    .executeTakeFirst();
  return grant?.access;
}

export const mayWrite = (right: CalendarRight | undefined) => right === 'owner' || right === 'write';

export interface SharedCalendar {
  calendar: CalendarRow;
  owner: string;
  ownerName: string | null;
  access: CalendarAccess;
}

/** Calendars other principals have shared with this one (by calendar grant or full mailbox access). */
export async function sharedWith(db: Kysely<Database>, viewer: Viewer): Promise<SharedCalendar[]> {
  const byGrant = await db
    .selectFrom('calendar_grants')
    .innerJoin('calendars', 'calendars.id', 'calendar_grants.calendar_id')
    .innerJoin('principals', 'principals.id', 'calendars.principal_id')
    .selectAll('calendars')
    .select(['principals.address as owner', 'principals.display_name as owner_name', 'calendar_grants.access'])
    .where('calendar_grants.grantee_id', '=', viewer.id)
    .where('calendars.tenant_id', '=', viewer.tenantId)
    .execute();
  const byMailbox = await db
    .selectFrom('mailbox_grants')
    .innerJoin('calendars', 'calendars.principal_id', 'mailbox_grants.target_id')
    .innerJoin('principals', 'principals.id', 'calendars.principal_id')
    .selectAll('calendars')
    .select(['principals.address as owner', 'principals.display_name as owner_name'])
    .where('mailbox_grants.grantee_id', '=', viewer.id)
    .where('mailbox_grants.full_access', '=', 1)
    .where('calendars.tenant_id', '=', viewer.tenantId)
    .execute();
  const shared = new Map<number, SharedCalendar>();
  for (const { owner, owner_name, access, ...calendar } of byGrant)
    shared.set(calendar.id, { calendar, owner, ownerName: owner_name, access });
  for (const { owner, owner_name, ...calendar } of byMailbox)
    shared.set(calendar.id, { calendar, owner, ownerName: owner_name, access: 'write' });
  return [...shared.values()].sort((a, b) => a.calendar.id - b.calendar.id);
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
  if (input.access !== 'read' && input.access !== 'write')
    throw invalid('bad-access', `--access ${input.access} is not allowed: expected read or write`);
  if (owner.tenantId !== grantee.tenantId)
    throw forbidden(
      'cross-tenant',
      `${grantee.address} is in another tenant; calendars are shared within a tenant only`,
    );
  if (owner.id === grantee.id) throw invalid('self-grant', `${owner.address} already owns the calendar`);
  await ensureDefaultCalendar(db, owner, now);
  const calendar = await findCalendar(db, owner.id, input.calendar);
  if (!calendar) throw notFound('no-such-calendar', `${owner.address} has no calendar named ${input.calendar}`);
  await db
    .insertInto('calendar_grants')
    .values({
      calendar_id: calendar.id,
      grantee_id: grantee.id,
      tenant_id: owner.tenantId,
      access: input.access,
      created_at: now,
    })
    .onConflict((oc) =>
      oc.columns(['calendar_id', 'grantee_id']).doUpdateSet({ access: input.access as CalendarAccess }),
    )
    .execute();
  return { owner: owner.address, calendar: calendar.uri, grantee: grantee.address, access: input.access };
}

export async function revokeCalendar(
  db: Kysely<Database>,
  input: { owner: Viewer & { address: string }; grantee: Viewer; calendar: string },
) {
  const calendar = await findCalendar(db, input.owner.id, input.calendar);
  if (!calendar) throw notFound('no-such-calendar', `${input.owner.address} has no calendar named ${input.calendar}`);
  await db
    .deleteFrom('calendar_grants')
    .where('calendar_id', '=', calendar.id)
    .where('grantee_id', '=', input.grantee.id)
    .execute();
}

export async function listCalendarGrants(
  db: Kysely<Database>,
  ownerId: number,
): Promise<{ calendar: string; grantee: string; access: CalendarAccess }[]> {
  return db
    .selectFrom('calendar_grants')
    .innerJoin('calendars', 'calendars.id', 'calendar_grants.calendar_id')
    .innerJoin('principals', 'principals.id', 'calendar_grants.grantee_id')
    .select(['calendars.uri as calendar', 'principals.address as grantee', 'calendar_grants.access'])
    .where('calendars.principal_id', '=', ownerId)
    .orderBy('calendars.uri')
    .orderBy('principals.address')
    .execute();
}
