// Calendars and the objects in them. Every write bumps the calendar's change number (its sync token
// and CTag) and records which object changed, in the same transaction as the write, so that a
// client syncing by token never misses a change. Every query is scoped by calendar id, and calendar
// ids are only handed out after the access check in calendar-access.ts.
import { createHash } from 'node:crypto';
import type { Kysely, Selectable, Transaction } from 'kysely';
import { conflict, invalid, notFound, ResourceConflict } from '../errors.ts';
import { changesSince as changesLoggedSince, recordChange, type ChangeLog } from '../store/change-log.ts';
import { groupCommit } from '../store/commit-modes.ts';
import type { CalendarObjectTable, CalendarTable, Database } from '../store/schema.ts';
import { calendarComponents, parseCalendar, parseCalendarObject, type CalendarObject } from './calendar-object.ts';

type Db = Kysely<Database> | Transaction<Database>;
export type CalendarRow = Selectable<CalendarTable>;
export type CalendarObjectRow = Selectable<CalendarObjectTable>;

export const defaultCalendar = { uri: 'calendar', displayName: 'Calendar' };

/** Names under a calendar home that are not calendars (RFC 6638 scheduling collections). */
export const reservedCalendarNames = ['inbox', 'outbox'];

/** Gives a principal its default calendar the first time it has none. */
export async function ensureDefaultCalendar(db: Db, principal: { id: number; tenantId: number }, now: number) {
  const existing = await db
    .selectFrom('calendars')
    .select('id')
    .where('principal_id', '=', principal.id)
    .executeTakeFirst();
  if (existing) return;
  await db
    .insertInto('calendars')
    .values({
      tenant_id: principal.tenantId,
      principal_id: principal.id,
      uri: defaultCalendar.uri,
      display_name: defaultCalendar.displayName,
      components: 'VEVENT,VTODO',
      dead_properties: null,
      sync_seq: 0,
      created_at: now,
    })
    .onConflict((oc) => oc.columns(['principal_id', 'uri']).doNothing())
    .execute();
}

export async function listCalendars(db: Db, principalId: number): Promise<CalendarRow[]> {
  return db.selectFrom('calendars').selectAll().where('principal_id', '=', principalId).orderBy('id').execute();
}

export async function findCalendar(db: Db, principalId: number, uri: string): Promise<CalendarRow | undefined> {
  return db
    .selectFrom('calendars')
    .selectAll()
    .where('principal_id', '=', principalId)
    .where('uri', '=', uri)
    .executeTakeFirst();
}

export interface CalendarProperties {
  displayName?: string | null;
  description?: string | null;
  color?: string | null;
  timezone?: string | null;
  components?: string[];
  /** JSON of the properties clients set that Holdfast only keeps (PROPPATCH dead properties). */
  deadProperties?: string | null;
}

export async function createCalendar(
  db: Db,
  principal: { id: number; tenantId: number },
  uri: string,
  properties: CalendarProperties,
  now: number,
): Promise<CalendarRow> {
  checkCalendarName(uri);
  const values = checkProperties(properties);
  if (await findCalendar(db, principal.id, uri))
    throw conflict('calendar-exists', `a calendar named ${uri} already exists`);
  return db
    .insertInto('calendars')
    .values({
      tenant_id: principal.tenantId,
      principal_id: principal.id,
      uri,
      display_name: values.display_name ?? uri,
      description: values.description ?? null,
      color: values.color ?? null,
      timezone: values.timezone ?? null,
      components: values.components ?? 'VEVENT,VTODO',
      dead_properties: values.dead_properties ?? null,
      sync_seq: 0,
      created_at: now,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function updateCalendar(db: Db, calendarId: number, properties: CalendarProperties) {
  const values = checkProperties(properties);
  if (Object.keys(values).length) await db.updateTable('calendars').set(values).where('id', '=', calendarId).execute();
}

export async function deleteCalendar(db: Db, calendarId: number) {
  await db.deleteFrom('calendars').where('id', '=', calendarId).execute();
}

function checkCalendarName(uri: string) {
  if (!/^[A-Za-z0-9][A-Za-z0-9._~@+-]{0,99}$/.test(uri)) {
    throw invalid(
      'bad-calendar-name',
      `calendar name ${JSON.stringify(uri)} is not allowed: use 1 to 100 letters, digits and . _ ~ @ + -, starting with a letter or digit`,
    );
  }
  if (reservedCalendarNames.includes(uri.toLowerCase()) || uri.startsWith('shared-')) {
    throw invalid(
      'bad-calendar-name',
      `calendar name ${uri} is reserved (inbox, outbox and shared-… name scheduling and shared collections)`,
    );
  }
}

function checkProperties(properties: CalendarProperties) {
  const values: Partial<
    Pick<CalendarRow, 'display_name' | 'description' | 'color' | 'timezone' | 'components' | 'dead_properties'>
  > = {};
  if (properties.deadProperties !== undefined) values.dead_properties = properties.deadProperties;
  if (properties.displayName !== undefined) values.display_name = properties.displayName;
  if (properties.description !== undefined) values.description = properties.description;
  if (properties.color !== undefined) {
    if (properties.color !== null && !/^#[0-9A-Fa-f]{6}([0-9A-Fa-f]{2})?$/.test(properties.color)) {
      throw invalid(
        'bad-calendar-color',
        `calendar colour ${JSON.stringify(properties.color)} is not allowed: expected #RRGGBB or #RRGGBBAA`,
      );
    }
    values.color = properties.color;
  }
  if (properties.timezone !== undefined) {
    if (properties.timezone !== null) {
      const zones = parseCalendar(properties.timezone).getAllSubcomponents('vtimezone').length;
      if (zones !== 1)
        throw invalid(
          'valid-calendar-data',
          `calendar-timezone must be a VCALENDAR with exactly one VTIMEZONE, found ${zones}`,
        );
    }
    values.timezone = properties.timezone;
  }
  if (properties.components !== undefined) {
    const unknown = properties.components.filter((c) => !(calendarComponents as readonly string[]).includes(c));
    if (unknown.length || properties.components.length === 0) {
      throw invalid(
        'supported-calendar-component',
        `supported-calendar-component-set ${properties.components.join(', ') || '(empty)'} is not allowed: expected some of VEVENT, VTODO, VJOURNAL`,
      );
    }
    values.components = properties.components.join(',');
  }
  return values;
}

/** Parsed objects by ETag: queries over a calendar parse each stored object once, not per query. */
const parsedCache = new Map<string, CalendarObject>();
const parsedCacheLimit = 5000;

export function parsedObject(row: Pick<CalendarObjectRow, 'etag' | 'data'>): CalendarObject {
  let object = parsedCache.get(row.etag);
  if (object) {
    parsedCache.delete(row.etag); // re-inserted below: most recently used last
  } else {
    object = parseCalendarObject(row.data, 'open-ended');
    if (parsedCache.size >= parsedCacheLimit) parsedCache.delete(parsedCache.keys().next().value!);
  }
  parsedCache.set(row.etag, object);
  return object;
}

// Objects -----------------------------------------------------------------------------------------

export function objectEtag(data: string): string {
  return `"${createHash('sha256').update(data).digest('hex').slice(0, 32)}"`;
}

export async function getObject(db: Db, calendarId: number, uri: string): Promise<CalendarObjectRow | undefined> {
  return db
    .selectFrom('calendar_objects')
    .selectAll()
    .where('calendar_id', '=', calendarId)
    .where('uri', '=', uri)
    .executeTakeFirst();
}

export async function getObjects(db: Db, calendarId: number, uris: string[]): Promise<CalendarObjectRow[]> {
  if (uris.length === 0) return [];
  return db
    .selectFrom('calendar_objects')
    .selectAll()
    .where('calendar_id', '=', calendarId)
    .where('uri', 'in', uris)
    .execute();
}

/** Objects of a calendar, narrowed to those whose span meets [start, end) when a range is given. */
export async function listObjects(
  db: Db,
  calendarId: number,
  options: { range?: { start: number; end: number }; component?: string } = {},
): Promise<CalendarObjectRow[]> {
  let query = db.selectFrom('calendar_objects').selectAll().where('calendar_id', '=', calendarId);
  if (options.component) query = query.where('component', '=', options.component);
  if (options.range)
    query = query.where('first_start', '<', options.range.end).where('last_end', '>=', options.range.start);
  return query.orderBy('id').execute();
}

export interface WriteConditions {
  /** The ETag the client last saw: the write happens only if the object still has it. */
  ifMatch?: string;
  /** `*`: the write happens only if no object has this name yet. */
  ifNoneMatch?: string;
}

export interface PutResult {
  etag: string;
  created: boolean;
  object: CalendarObject;
}

export const maxObjectUriLength = 255;

/** Creates or replaces one object. Validates first, so invalid data changes nothing. */
export async function putObject(
  db: Kysely<Database>,
  calendar: CalendarRow,
  uri: string,
  data: string,
  conditions: WriteConditions,
  now: number,
): Promise<PutResult> {
  if (uri.length > maxObjectUriLength || /[/\\]/.test(uri) || uri === '.' || uri === '..') {
    throw invalid(
      'bad-object-name',
      `object name ${JSON.stringify(uri.slice(0, 80))} is not allowed: at most ${maxObjectUriLength} characters, no slashes`,
    );
  }
  const object = parseCalendarObject(data);
  if (!calendar.components.split(',').includes(object.component)) {
    throw invalid(
      'supported-calendar-component',
      `calendar ${calendar.uri} holds ${calendar.components.replace(',', ' and ')} only, not ${object.component}`,
    );
  }
  const etag = objectEtag(data);
  const created = await groupCommit(db, async (trx) => {
    const existing = await trx
      .selectFrom('calendar_objects')
      .select(['id', 'etag', 'uid'])
      .where('calendar_id', '=', calendar.id)
      .where('uri', '=', uri)
      .executeTakeFirst();
    checkConditions(existing?.etag, conditions, uri);
    const clash = await trx
      .selectFrom('calendar_objects')
      .select('uri')
      .where('calendar_id', '=', calendar.id)
      .where('uid', '=', object.uid)
      .where('uri', '!=', uri)
      .executeTakeFirst();
    if (clash)
      throw new ResourceConflict(
        'no-uid-conflict',
        `UID ${object.uid} is already used by ${clash.uri} in this calendar`,
        clash.uri,
      );
    if (existing && existing.uid !== object.uid) {
      // RFC 4791 §5.3.2: replacing an object keeps its UID.
      throw new ResourceConflict(
        'no-uid-conflict',
        `${uri} holds UID ${existing.uid}; a replacement must keep it (found ${object.uid})`,
        uri,
      );
    }
    const seq = await nextChange(trx, calendar.id, uri, false);
    const values = {
      uid: object.uid,
      component: object.component,
      etag,
      data,
      size: Buffer.byteLength(data),
      first_start: object.span.start,
      last_end: object.span.end,
      recurring: object.recurring ? 1 : 0,
      seq,
      updated_at: now,
    };
    if (existing) await trx.updateTable('calendar_objects').set(values).where('id', '=', existing.id).execute();
    else
      await trx
        .insertInto('calendar_objects')
        .values({ ...values, calendar_id: calendar.id, tenant_id: calendar.tenant_id, uri, created_at: now })
        .execute();
    return !existing;
  });
  return { etag, created, object };
}

export async function deleteObject(
  db: Kysely<Database>,
  calendar: CalendarRow,
  uri: string,
  conditions: WriteConditions,
) {
  await groupCommit(db, async (trx) => {
    const existing = await trx
      .selectFrom('calendar_objects')
      .select(['id', 'etag'])
      .where('calendar_id', '=', calendar.id)
      .where('uri', '=', uri)
      .executeTakeFirst();
    if (!existing) throw notFound('no-such-object', `${uri} is not in calendar ${calendar.uri}`);
    checkConditions(existing.etag, conditions, uri);
    await nextChange(trx, calendar.id, uri, true);
    await trx.deleteFrom('calendar_objects').where('id', '=', existing.id).execute();
  });
}

export function checkConditions(currentEtag: string | undefined, conditions: WriteConditions, uri: string) {
  if (conditions.ifNoneMatch !== undefined && currentEtag !== undefined) {
    const tags = conditions.ifNoneMatch.split(',').map((t) => t.trim());
    if (tags.includes('*') || tags.includes(currentEtag))
      throw conflict('etag-mismatch', `${uri} already exists (If-None-Match: ${conditions.ifNoneMatch})`);
  }
  if (conditions.ifMatch !== undefined) {
    const tags = conditions.ifMatch.split(',').map((t) => t.trim());
    if (currentEtag === undefined || !(tags.includes('*') || tags.includes(currentEtag))) {
      throw conflict(
        'etag-mismatch',
        currentEtag
          ? `${uri} has changed since (ETag is now ${currentEtag}, If-Match: ${conditions.ifMatch})`
          : `${uri} does not exist (If-Match: ${conditions.ifMatch})`,
      );
    }
  }
}

/** Calendars' change log (calendar_changes, store/change-log.ts). */
const calendarChanges: ChangeLog = {
  collections: 'calendars',
  changes: 'calendar_changes',
  collectionColumn: 'calendar_id',
};

/** Takes the calendar's next change number and records that `uri` changed with it. */
const nextChange = (trx: Transaction<Database>, calendarId: number, uri: string, deleted: boolean) =>
  recordChange(trx, calendarChanges, calendarId, uri, deleted);

/** What changed after change number `since` (RFC 6578): names still present, and names deleted. */
export const changesSince = (db: Db, calendarId: number, since: number) =>
  changesLoggedSince(db, calendarChanges, calendarId, since);

/** The object with this UID in any of a principal's own calendars (where scheduling keeps its copy). */
export async function findObjectByUid(
  db: Db,
  principalId: number,
  uid: string,
): Promise<{ calendar: CalendarRow; row: CalendarObjectRow } | undefined> {
  const found = await db
    .selectFrom('calendar_objects')
    .innerJoin('calendars', 'calendars.id', 'calendar_objects.calendar_id')
    .select('calendar_objects.id as object_id')
    .selectAll('calendars')
    .where('calendars.principal_id', '=', principalId)
    .where('calendar_objects.uid', '=', uid)
    .orderBy('calendars.id')
    .executeTakeFirst();
  if (!found) return undefined;
  const { object_id, ...calendar } = found;
  const row = await db.selectFrom('calendar_objects').selectAll().where('id', '=', object_id).executeTakeFirstOrThrow();
  return { calendar, row };
}

/** A name for an object that arrives by scheduling rather than from a client: its UID, made safe. */
export function objectUriForUid(uid: string): string {
  const safe = uid.replace(/[^A-Za-z0-9._@+-]/g, '_').slice(0, 200);
  return `${safe || 'event'}.ics`;
}
