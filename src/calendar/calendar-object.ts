// One calendar object resource (RFC 4791 §4.1): a VCALENDAR holding one event, task or journal entry
// (a master and its overridden instances, all with one UID) and the time zones it uses. Parsing
// validates everything a calendar collection requires, so a stored object is always readable; the
// error codes are the CalDAV precondition each failure violates.
import ICAL from 'ical.js';
import { invalid } from '../errors.ts';
import { instances, openEnd, openStart, type Instance } from './recurrence.ts';
import { resolveTimezones } from './time-zones.ts';

export const calendarComponents = ['VEVENT', 'VTODO', 'VJOURNAL'] as const;
export type CalendarComponent = (typeof calendarComponents)[number];

export interface CalendarObject {
  uid: string;
  component: CalendarComponent;
  root: ICAL.Component;
  /** The component without RECURRENCE-ID (absent when only overridden instances were sent). */
  master: ICAL.Component | undefined;
  overrides: ICAL.Component[];
  recurring: boolean;
  /** First instant covered and last instant covered, over every instance (epoch ms). */
  span: { start: number; end: number };
}

/** Recurrences are followed this far to find where a bounded series ends; beyond, it counts as open. */
const spanInstanceLimit = 5000;

export function parseCalendarObject(text: string): CalendarObject {
  const root = parseCalendar(text);
  const unknownZones = resolveTimezones(root);
  if (unknownZones.length) {
    throw invalid('valid-calendar-data', `TZID ${unknownZones.join(', ')} has no VTIMEZONE in the object and is not an IANA time zone name`);
  }
  if (root.getFirstProperty('method')) {
    throw invalid('valid-calendar-object-resource', 'a stored calendar object must not have a METHOD property (that belongs to scheduling messages)');
  }
  const items = root.getAllSubcomponents().filter((c) => c.name !== 'vtimezone');
  if (items.length === 0) throw invalid('valid-calendar-object-resource', 'the VCALENDAR holds no VEVENT, VTODO or VJOURNAL');
  const names = new Set(items.map((c) => c.name.toUpperCase()));
  if (names.size > 1) throw invalid('valid-calendar-object-resource', `one object holds one kind of component, not ${[...names].join(' and ')}`);
  const component = [...names][0] as string;
  if (!(calendarComponents as readonly string[]).includes(component)) {
    throw invalid('supported-calendar-component', `${component} is not a calendar component Holdfast stores (expected VEVENT, VTODO or VJOURNAL)`);
  }
  const uids = new Set(items.map((c) => c.getFirstPropertyValue('uid')));
  if (uids.has(null) || uids.has('')) throw invalid('valid-calendar-object-resource', `the ${component} has no UID`);
  if (uids.size > 1) throw invalid('valid-calendar-object-resource', `every component of one object shares one UID; found ${[...uids].join(', ')}`);
  const masters = items.filter((c) => !c.hasProperty('recurrence-id'));
  if (masters.length > 1) throw invalid('valid-calendar-object-resource', `${masters.length} ${component}s with UID ${String([...uids][0])} and no RECURRENCE-ID; overridden instances need one`);
  const overrides = items.filter((c) => c.hasProperty('recurrence-id'));
  for (const item of items) checkTimes(item, component);

  const master = masters[0];
  const recurring = Boolean(master && (master.hasProperty('rrule') || master.hasProperty('rdate')));
  const object: CalendarObject = { uid: String([...uids][0]), component: component as CalendarComponent, root, master, overrides, recurring, span: { start: 0, end: 0 } };
  try {
    object.span = spanOf(object);
  } catch (error) {
    // ical.js reads rules lazily: a malformed RRULE shows when its instances are first computed.
    throw invalid('valid-calendar-data', `the ${component}'s recurrence cannot be evaluated: ${(error as Error).message}`);
  }
  return object;
}

/** Parses iCalendar text into its VCALENDAR, with a precise error for anything else. */
export function parseCalendar(text: string): ICAL.Component {
  let jcal: unknown;
  try {
    jcal = ICAL.parse(text);
  } catch (error) {
    throw invalid('valid-calendar-data', `not valid iCalendar: ${(error as Error).message}`);
  }
  if (Array.isArray(jcal) && typeof jcal[0] !== 'string') {
    throw invalid('valid-calendar-data', `expected one VCALENDAR, found ${jcal.length}`);
  }
  const depth = nesting(jcal);
  if (depth > maxNesting) throw invalid('valid-calendar-data', `components are nested ${depth} levels deep; iCalendar needs at most ${maxNesting} (VCALENDAR > VEVENT > VALARM)`);
  const root = new ICAL.Component(jcal as unknown[]);
  if (root.name !== 'vcalendar') throw invalid('valid-calendar-data', `expected BEGIN:VCALENDAR, found BEGIN:${root.name.toUpperCase()}`);
  return root;
}

/** Deepest nesting of components a calendar may have (VCALENDAR > VEVENT > VALARM, with room to spare). */
const maxNesting = 5;

/** How deeply the components of a jCal array nest, measured without recursion. */
function nesting(jcal: unknown): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[jcal, 1]];
  while (stack.length) {
    const [component, depth] = stack.pop()!;
    deepest = Math.max(deepest, depth);
    if (depth > maxNesting) break;
    const children = Array.isArray(component) ? component[2] : undefined;
    if (Array.isArray(children)) for (const child of children) stack.push([child, depth + 1]);
  }
  return deepest;
}

/** Reads every date-time now, so that a malformed one fails the PUT instead of a later query. */
function checkTimes(item: ICAL.Component, component: string) {
  for (const name of ['dtstart', 'dtend', 'due', 'recurrence-id', 'duration', 'rrule', 'exdate', 'rdate']) {
    for (const property of item.getAllProperties(name)) {
      try {
        for (const value of property.getValues()) if (value === null || (typeof value === 'number' && Number.isNaN(value))) throw new Error('empty value');
      } catch (error) {
        throw invalid('valid-calendar-data', `${name.toUpperCase()} of the ${component} is not valid: ${(error as Error).message}`);
      }
    }
  }
  if (component === 'VEVENT' && !item.hasProperty('dtstart')) throw invalid('valid-calendar-data', 'a VEVENT needs DTSTART');
  if (item.hasProperty('dtend') && item.hasProperty('duration')) throw invalid('valid-calendar-data', `a ${component} has DTEND or DURATION, not both`);
  if (item.hasProperty('rrule') && !item.hasProperty('dtstart')) throw invalid('valid-calendar-data', 'RRULE needs DTSTART');
  const start = item.getFirstPropertyValue('dtstart') as ICAL.Time | null;
  const end = (item.getFirstPropertyValue('dtend') ?? item.getFirstPropertyValue('due')) as ICAL.Time | null;
  if (start && end && end.compare(start) < 0) throw invalid('valid-calendar-data', `the ${component} ends (${end.toString()}) before it starts (${start.toString()})`);
}

function spanOf(object: CalendarObject): { start: number; end: number } {
  let start = openEnd;
  let end = openStart;
  const widen = (instance: Instance) => {
    start = Math.min(start, instance.start);
    end = Math.max(end, instance.end);
  };
  let count = 0;
  for (const instance of instances(object, openStart, openEnd)) {
    widen(instance);
    if (++count > spanInstanceLimit) {
      end = openEnd; // too many to follow: treat the series as open-ended
      break;
    }
  }
  // An override may move its instance anywhere; it counts wherever it went.
  for (const override of object.overrides) {
    for (const instance of instances({ ...object, master: override, overrides: [], recurring: false }, openStart, openEnd)) widen(instance);
  }
  if (start > end) return { start: openStart, end: openEnd };
  return { start, end };
}
