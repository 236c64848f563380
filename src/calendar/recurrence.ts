// The instances of a calendar object inside a time range: RRULE and RDATE expanded by ical.js, with
// EXDATE removed and overridden instances (RECURRENCE-ID) moved, across time zones and DST. Used for
// the stored time span, time-range queries, expand and free/busy.
import ICAL from 'ical.js';
import type { CalendarObject } from './calendar-object.ts';

/** The open ends of a time range: the limits of a JavaScript Date. */
export const openStart = -8_640_000_000_000_000;
export const openEnd = 8_640_000_000_000_000;

/** How many recurrences one query follows in one object; a rule producing more is cut short there. */
export const expansionLimit = 50_000;

export interface TimeRange {
  start: number;
  end: number;
}

export interface Instance {
  start: number;
  end: number;
  /** The component that describes this instance (the master or an override). */
  item: ICAL.Component;
  /** Set for instances of a recurring object: the RECURRENCE-ID that names the instance. */
  recurrenceId?: ICAL.Time;
  /** The instance's own start and end as ical.js times (for writing expanded data). */
  startTime?: ICAL.Time;
  endTime?: ICAL.Time;
}

type ObjectShape = Pick<CalendarObject, 'master' | 'overrides' | 'recurring' | 'component'>;

/** Instances overlapping [rangeStart, rangeEnd) as RFC 4791 §9.9 defines overlap. */
export function* instances(object: ObjectShape, rangeStart: number, rangeEnd: number): Generator<Instance> {
  const { master } = object;
  if (!master || !object.recurring) {
    for (const item of master ? [master] : object.overrides) {
      const instance = singleInstance(item);
      if (instance && overlaps(instance, rangeStart, rangeEnd)) yield instance;
    }
    return;
  }
  const event = new ICAL.Event(master, { strictExceptions: false });
  let latestShift = 0;
  for (const override of object.overrides) {
    event.relateException(override);
    const moved = singleInstance(override);
    const id = override.getFirstPropertyValue('recurrence-id') as ICAL.Time | null;
    if (moved && id) latestShift = Math.max(latestShift, moved.end - toMs(id));
  }
  const taskLength = object.component === 'VTODO' ? taskDuration(master) : undefined;
  const iterator = event.iterator();
  for (let count = 0; count < expansionLimit; count++) {
    const next = iterator.next();
    if (!next) return;
    // Occurrences come in RECURRENCE-ID order; once past the range by more than any override moves
    // an instance, no later one can fall inside it.
    if (toMs(next) >= rangeEnd + latestShift) return;
    const details = event.getOccurrenceDetails(next);
    const start = toMs(details.startDate);
    const end = taskLength !== undefined ? start + taskLength : toMs(details.endDate);
    const instance: Instance = { start, end, item: details.item.component, recurrenceId: next, startTime: details.startDate, endTime: details.endDate };
    if (overlaps(instance, rangeStart, rangeEnd)) yield instance;
  }
}

/** RFC 4791 §9.9: a zero-length instance overlaps when it starts inside the range. */
export function overlaps(instance: { start: number; end: number }, rangeStart: number, rangeEnd: number): boolean {
  if (instance.start === instance.end) return instance.start >= rangeStart && instance.start < rangeEnd;
  return instance.start < rangeEnd && instance.end > rangeStart;
}

export function toMs(time: ICAL.Time): number {
  return time.toUnixTime() * 1000;
}

/** The one instance a non-recurring component describes; tasks and journals without dates span all time. */
function singleInstance(item: ICAL.Component): Instance | undefined {
  const start = item.getFirstPropertyValue('dtstart') as ICAL.Time | null;
  if (item.name === 'vevent') {
    if (!start) return undefined;
    const event = new ICAL.Event(item);
    return { start: toMs(start), end: toMs(event.endDate), item, startTime: start, endTime: event.endDate };
  }
  if (item.name === 'vtodo') {
    const due = item.getFirstPropertyValue('due') as ICAL.Time | null;
    if (!start && !due) return { start: openStart, end: openEnd, item };
    if (!start) return { start: toMs(due!), end: toMs(due!), item };
    const length = taskDuration(item) ?? 0;
    return { start: toMs(start), end: toMs(start) + length, item, startTime: start };
  }
  // VJOURNAL: a day for a date, an instant for a date-time.
  if (!start) return { start: openStart, end: openEnd, item };
  return { start: toMs(start), end: toMs(start) + (start.isDate ? 86_400_000 : 0), item, startTime: start };
}

function taskDuration(item: ICAL.Component): number | undefined {
  const start = item.getFirstPropertyValue('dtstart') as ICAL.Time | null;
  const due = item.getFirstPropertyValue('due') as ICAL.Time | null;
  const duration = item.getFirstPropertyValue('duration') as ICAL.Duration | null;
  if (start && due) return toMs(due) - toMs(start);
  if (duration) return duration.toSeconds() * 1000;
  return undefined;
}
