// The instances of a calendar object inside a time range: RRULE and RDATE expanded by ical.js, with
// EXDATE removed and overridden instances (RECURRENCE-ID) moved, across time zones and DST. Used for
// the stored time span, time-range queries, expand and free/busy.
import ICAL from 'ical.js';
import type { CalendarObject } from './calendar-object.ts';
import { ExpansionBudget, ExpansionBudgetSpent } from './recurrence-budget.ts';

/** The open ends of a time range: the limits of a JavaScript Date. */
export const openStart = -8_640_000_000_000_000;
export const openEnd = 8_640_000_000_000_000;

/** How many recurrences one query follows in one object; a rule producing more is cut short there. */
export const expansionLimit = 50_000;

/** The last year iCalendar can write (four digits); a series is not followed beyond it. */
export const lastYear = 9999;

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

export interface ExpansionOptions {
  /** The work this expansion may do; a fresh default budget when absent. */
  budget?: ExpansionBudget;
  /** Follow the series from DTSTART even when the range starts much later (to check the rule itself). */
  fromStart?: boolean;
}

/**
 * Instances overlapping [rangeStart, rangeEnd) as RFC 4791 §9.9 defines overlap. Throws
 * ExpansionBudgetSpent when the budget runs out before the range is covered.
 */
export function* instances(object: ObjectShape, rangeStart: number, rangeEnd: number, options: ExpansionOptions = {}): Generator<Instance> {
  const { master } = object;
  if (!master || !object.recurring) {
    for (const item of master ? [master] : object.overrides) {
      const instance = singleInstance(item);
      if (instance && overlaps(instance, rangeStart, rangeEnd)) yield instance;
    }
    return;
  }
  const budget = options.budget ?? new ExpansionBudget();
  const taskLength = object.component === 'VTODO' ? taskDuration(master) : undefined;
  let latestShift = 0;
  const overridden = new Set<number>();
  for (const override of object.overrides) {
    const moved = singleInstance(override);
    const id = override.getFirstPropertyValue('recurrence-id') as ICAL.Time | null;
    if (moved && id) latestShift = Math.max(latestShift, moved.end - toMs(id));
    if (id) overridden.add(toMs(id));
  }
  // A THISANDFUTURE override moves every later instance: then each one is looked at in full.
  const rangeOverride = object.overrides.some((o) => o.getFirstProperty('recurrence-id')?.getParameter('range'));
  const masterLengthMs = rangeOverride ? openEnd : longestLength(master, taskLength);
  const series = options.fromStart ? undefined : seriesNear(master, rangeStart - latestShift - (taskLength ?? 0));
  const event = new ICAL.Event(series?.component ?? master, { strictExceptions: false });
  for (const override of object.overrides) event.relateException(override);
  const iterator = budget.run(() => event.iterator());
  // A series moved forward starts at a time that need not be an instance: skip it (it lies before the range).
  if (series) budget.run(() => iterator.next());
  for (let count = 0; count < expansionLimit; count++) {
    const next = budget.run(() => iterator.next());
    if (!next || next.year > lastYear) return;
    // Occurrences come in RECURRENCE-ID order; once past the range by more than any override moves
    // an instance, no later one can fall inside it.
    const at = toMs(next);
    if (at >= rangeEnd + latestShift) return;
    // Instances that end before the range need no details (the costly part), unless overridden.
    if (at + masterLengthMs < rangeStart && !overridden.has(at)) continue;
    const details = event.getOccurrenceDetails(next);
    const start = toMs(details.startDate);
    const end = taskLength !== undefined ? start + taskLength : toMs(details.endDate);
    const item = details.item.component === series?.component ? master : details.item.component;
    const instance: Instance = { start, end, item, recurrenceId: next, startTime: details.startDate, endTime: details.endDate };
    if (overlaps(instance, rangeStart, rangeEnd)) yield instance;
  }
}

/**
 * Like instances(), for reading objects already stored: an expansion that spends its budget ends
 * there instead of failing the request (a rule accepted before the budget existed, or one that only
 * gets costly far from its start).
 */
export function* instancesWithinBudget(object: ObjectShape, rangeStart: number, rangeEnd: number, options: ExpansionOptions = {}): Generator<Instance> {
  try {
    yield* instances(object, rangeStart, rangeEnd, options);
  } catch (error) {
    if (!(error instanceof ExpansionBudgetSpent)) throw error;
  }
}

/** An upper bound of the master's instance length, with a day to spare for DST changes in between. */
function longestLength(master: ICAL.Component, taskLength: number | undefined): number {
  if (taskLength !== undefined) return Math.max(taskLength, 0) + 86_400_000;
  const duration = new ICAL.Event(master).duration;
  return duration.toSeconds() * 1000 + 86_400_000;
}

/**
 * The period of each frequency in units of ical.js's Time, with a length in ms that is never shorter
 * than the real one (so the moved start stays before the range). A month or year moved from a day
 * after the 28th could land on a day that does not exist: such series are not moved.
 */
const frequencyPeriods: Record<string, { unit: 'second' | 'minute' | 'hour' | 'day' | 'month' | 'year'; units: number; unitMs: number }> = {
  SECONDLY: { unit: 'second', units: 1, unitMs: 1000 },
  MINUTELY: { unit: 'minute', units: 1, unitMs: 60_000 },
  HOURLY: { unit: 'hour', units: 1, unitMs: 3_600_000 },
  DAILY: { unit: 'day', units: 1, unitMs: 86_400_000 },
  WEEKLY: { unit: 'day', units: 7, unitMs: 86_400_000 },
  MONTHLY: { unit: 'month', units: 1, unitMs: 31 * 86_400_000 },
  YEARLY: { unit: 'year', units: 1, unitMs: 366 * 86_400_000 },
};

/**
 * ical.js follows a series from DTSTART, so a meeting started years ago costs thousands of steps
 * before a query reaches this week. For a rule without COUNT, the series from DTSTART + k periods has
 * the same instances after its first, so the query can start there: the copy of the master starts a
 * whole number of periods before `notBefore` (with a day and a period to spare), keeps the instance
 * length as DURATION, and its first instance is skipped. COUNT rules are followed from DTSTART.
 */
function seriesNear(master: ICAL.Component, notBefore: number): { component: ICAL.Component } | undefined {
  const rules = master.getAllProperties('rrule');
  if (rules.length !== 1 || master.hasProperty('rdate')) return undefined;
  const rule = rules[0]!.getFirstValue() as ICAL.Recur;
  const period = frequencyPeriods[rule.freq];
  if (!period || rule.count) return undefined;
  const start = master.getFirstPropertyValue('dtstart') as ICAL.Time | null;
  if (!start || (start.isDate && ['second', 'minute', 'hour'].includes(period.unit))) return undefined;
  if ((period.unit === 'month' || period.unit === 'year') && start.day > 28) return undefined;
  const unitsPerPeriod = period.units * (rule.interval || 1);
  const periodMs = period.unitMs * unitsPerPeriod;
  const periods = Math.floor((notBefore - toMs(start) - 86_400_000 - periodMs) / periodMs);
  if (periods < 2) return undefined;
  const duration = new ICAL.Event(master).duration;
  const moved = start.clone();
  moved[period.unit] += periods * unitsPerPeriod;
  const component = new ICAL.Component(ICAL.helpers.clone(master.jCal, true) as unknown[]);
  component.removeAllProperties('dtend');
  component.removeAllProperties('duration');
  component.updatePropertyWithValue('dtstart', moved);
  component.addPropertyWithValue('duration', duration);
  return { component };
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
