// `holdfast import ics`: an iCalendar file (an export from another server or client) into one of a
// principal's calendars. The file is split by UID: each event or task, with its overridden
// instances and the VTIMEZONEs it names, becomes one calendar object, stored through the same
// validation and write as a CalDAV PUT. An object that does not validate is refused whole (with
// its UID and the reason) and the others still go in; a file that is not iCalendar at all imports
// nothing. A re-run finds each UID's object and replaces it only if it differs.
import ICAL from 'ical.js';
import type { Kysely } from 'kysely';
import {
  createCalendar,
  defaultCalendar,
  ensureDefaultCalendar,
  findCalendar,
  listObjects,
  objectEtag,
  objectUriForUid,
  putObject,
  type CalendarRow,
} from '../calendar/calendars.ts';
import { invalid } from '../errors.ts';
import type { Database } from '../store/schema.ts';
import { failureReason } from './failure-reason.ts';

export interface IcsImportReport {
  calendar: string;
  found: number;
  created: number;
  updated: number;
  unchanged: number;
  failed: number;
  failures: { uid: string; reason: string }[];
}

/** The components of an iCalendar text grouped into calendar objects by UID, each as its own text. */
export function splitCalendar(
  text: string,
  name: string,
): { uid: string; component: string; data?: string; error?: string }[] {
  let parsed: unknown;
  try {
    parsed = ICAL.parse(text);
  } catch (error) {
    throw invalid('valid-calendar-data', `${name} is not valid iCalendar: ${(error as Error).message}`);
  }
  const roots = (Array.isArray(parsed) && typeof parsed[0] === 'string' ? [parsed] : (parsed as unknown[])).map(
    (jcal) => new ICAL.Component(jcal as unknown[]),
  );
  const objects: { uid: string; component: string; data?: string; error?: string }[] = [];
  for (const root of roots) {
    if (root.name !== 'vcalendar')
      throw invalid('valid-calendar-data', `${name}: expected BEGIN:VCALENDAR, found BEGIN:${root.name.toUpperCase()}`);
    const zones = new Map(
      root.getAllSubcomponents('vtimezone').map((zone) => [String(zone.getFirstPropertyValue('tzid')), zone]),
    );
    const groups = new Map<string, ICAL.Component[]>();
    let anonymous = 0;
    for (const item of root.getAllSubcomponents()) {
      if (item.name === 'vtimezone') continue;
      const uid = item.getFirstPropertyValue('uid');
      if (typeof uid !== 'string' || uid === '') {
        objects.push({
          uid: `(no UID, ${item.name.toUpperCase()} ${++anonymous})`,
          component: item.name.toUpperCase(),
          error: `the ${item.name.toUpperCase()} has no UID`,
        });
        continue;
      }
      groups.set(uid, [...(groups.get(uid) ?? []), item]);
    }
    for (const [uid, items] of groups) {
      const out = new ICAL.Component(['vcalendar', [], []]);
      out.addPropertyWithValue('version', '2.0');
      out.addPropertyWithValue('prodid', String(root.getFirstPropertyValue('prodid') ?? '-//Holdfast//Import//EN'));
      const calscale = root.getFirstPropertyValue('calscale');
      if (calscale) out.addPropertyWithValue('calscale', String(calscale));
      for (const tzid of usedZones(items)) {
        const zone = zones.get(tzid);
        if (zone) out.addSubcomponent(new ICAL.Component(ICAL.helpers.clone(zone.jCal, true) as unknown[]));
      }
      for (const item of items)
        out.addSubcomponent(new ICAL.Component(ICAL.helpers.clone(item.jCal, true) as unknown[]));
      objects.push({
        uid,
        component: items[0]!.name.toUpperCase(),
        data: `${out.toString().replace(/\r?\n/g, '\r\n')}\r\n`,
      });
    }
  }
  return objects;
}

/** The TZIDs the components' properties name (their VALARMs' too). */
function usedZones(items: ICAL.Component[]): Set<string> {
  const found = new Set<string>();
  const walk = (component: ICAL.Component) => {
    for (const property of component.getAllProperties()) {
      const tzid = property.getParameter('tzid');
      if (typeof tzid === 'string') found.add(tzid);
    }
    for (const child of component.getAllSubcomponents()) walk(child);
  };
  for (const item of items) walk(item);
  return found;
}

export async function importIcs(
  db: Kysely<Database>,
  owner: { id: number; tenantId: number },
  text: string,
  options: { name: string; calendar?: string; now?: () => number },
): Promise<IcsImportReport> {
  const now = options.now ?? Date.now;
  const objects = splitCalendar(text, options.name);
  const calendar = await targetCalendar(db, owner, options.calendar, text, objects, now());
  const existing = new Map((await listObjects(db, calendar.id)).map((row) => [row.uid, row]));
  const report: IcsImportReport = {
    calendar: calendar.uri,
    found: objects.length,
    created: 0,
    updated: 0,
    unchanged: 0,
    failed: 0,
    failures: [],
  };
  const usedUris = new Set([...existing.values()].map((row) => row.uri));
  for (const object of objects) {
    try {
      if (object.error) throw invalid('valid-calendar-object-resource', object.error);
      const data = object.data!;
      const current = existing.get(object.uid);
      if (current?.etag === objectEtag(data)) {
        report.unchanged++;
        continue;
      }
      let uri = current?.uri ?? objectUriForUid(object.uid);
      for (let n = 2; !current && usedUris.has(uri); n++) uri = objectUriForUid(`${object.uid}-${n}`);
      await putObject(db, calendar, uri, data, current ? { ifMatch: current.etag } : { ifNoneMatch: '*' }, now());
      usedUris.add(uri);
      if (current) report.updated++;
      else report.created++;
    } catch (error) {
      report.failed++;
      report.failures.push({ uid: object.uid, reason: `${object.component} ${object.uid}: ${failureReason(error)}` });
    }
  }
  return report;
}

async function targetCalendar(
  db: Kysely<Database>,
  owner: { id: number; tenantId: number },
  name: string | undefined,
  text: string,
  objects: { component: string }[],
  now: number,
): Promise<CalendarRow> {
  await ensureDefaultCalendar(db, owner, now);
  const uri = name ?? defaultCalendar.uri;
  const found = await findCalendar(db, owner.id, uri);
  if (found) return found;
  const components = new Set(['VEVENT', 'VTODO']);
  for (const object of objects) if (object.component === 'VJOURNAL') components.add('VJOURNAL');
  const calname = /^X-WR-CALNAME:(.*)$/m.exec(text)?.[1]?.trim();
  return createCalendar(db, owner, uri, { displayName: calname || uri, components: [...components] }, now);
}
