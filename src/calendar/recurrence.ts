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
  /** The instance's own start as an ical.js time (for writing expanded data). */
  startTime?: ICAL.Time;
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
export function* instances(
  object: ObjectShape,
  rangeStart: number,
  rangeEnd: number,
  options: ExpansionOptions = {},
): Generator<Instance> {
  const { master } = object;
  if (!master || !object.recurring) {
    for (const item of master ? [master] : object.overrides) {
      const instance = singleInstance(item);
      if (instance && overlaps(instance, rangeStart, rangeEnd)) yield instance;
    }
    return;
  }
  const budget = options.budget ?? new ExpansionBudget();
  let latestShift = 0;
  const overridden = new Set<number>();
  for (const override of object.overrides) {
    const moved = singleInstance(override);
    const id = override.getFirstPropertyValue('recurrence-id') as ICAL.Time | null;
    if (moved && id) latestShift = Math.max(latestShift, moved.end - toMs(id));
    if (id) overridden.add(toMs(id));
  }
  // A THISANDFUTURE override moves every later instance: then ical.js places each one.
  const rangeOverride = object.overrides.some((o) => o.getFirstProperty('recurrence-id')?.getParameter('range'));
  const masterLength = lengthOf(master);
  const ruleStart = options.fromStart
    ? undefined
    : seriesNear(master, rangeStart - latestShift - longest(masterLength));
  const event = new ICAL.Event(master, { strictExceptions: false });
  for (const override of object.overrides) event.relateException(override);
  const occurrences = recurrenceSet(master, ruleStart);
  const movedStart = ruleStart && toMs(ruleStart);
  for (let count = 0; count < expansionLimit; count++) {
    const next = budget.run(() => occurrences.next());
    if (next.done || next.value.time.year > lastYear) return;
    // Occurrences come in RECURRENCE-ID order; once past the range by more than any override moves
    // an instance, no later one can fall inside it.
    const { time, at, length } = next.value;
    if (at >= rangeEnd + latestShift) return;
    // A series moved forward starts at a time that need not be an instance: skip it (it lies before the range).
    if (movedStart !== undefined && at <= movedStart) continue;
    let instance: Instance = {
      start: at,
      end: endOf(time, length ?? masterLength),
      item: master,
      recurrenceId: time,
      startTime: time,
    };
    if (rangeOverride || overridden.has(at)) {
      const details = event.getOccurrenceDetails(time);
      const item = details.item.component;
      if (item !== master)
        instance = {
          start: toMs(details.startDate),
          end: endOf(details.startDate, lengthOf(item)),
          item,
          recurrenceId: time,
          startTime: details.startDate,
        };
    }
    if (overlaps(instance, rangeStart, rangeEnd)) yield instance;
  }
}

/** One member of a recurrence set: its start (the RECURRENCE-ID naming it) and, for an RDATE period, its own length. */
interface Occurrence {
  time: ICAL.Time;
  at: number;
  length?: Length;
}

/**
 * The recurrence set of a master (RFC 5545 §3.8.5.2): DTSTART, the instances of its RRULEs and its
 * RDATEs, in order and each once, less its EXDATEs. ical.js's RecurExpansion leaves DTSTART out when
 * there is RDATE but no RRULE, gives an instance both RRULE and RDATE name twice (and then misses an
 * EXDATE on it), and fails on RDATE periods: only its rule iterators are used here. `ruleStart`
 * replaces DTSTART for the rules (see seriesNear), which only happens without RDATE.
 */
function* recurrenceSet(master: ICAL.Component, ruleStart: ICAL.Time | undefined): Generator<Occurrence> {
  const { dates, excludedTimes, excludedDays } = recurrenceDates(master);
  const start = ruleStart ?? (master.getFirstPropertyValue('dtstart') as ICAL.Time);
  const sources = [
    ...master.getAllProperties('rrule').map((rule) => ruleOccurrences(rule.getFirstValue() as ICAL.Recur, start)),
    dates.values(),
  ];
  const heads = sources.map((source) => source.next().value);
  let previous: number | undefined;
  for (;;) {
    // The earliest head; a rule's instance wins over an RDATE at the same time (it is listed first).
    let first = -1;
    heads.forEach((head, i) => {
      if (head && (first < 0 || head.at < heads[first]!.at)) first = i;
    });
    if (first < 0) return;
    const occurrence = heads[first]!;
    heads[first] = sources[first]!.next().value;
    if (occurrence.at === previous || excludedTimes.has(occurrence.at) || excludedDays.has(dayOf(occurrence.time)))
      continue;
    previous = occurrence.at;
    yield occurrence;
  }
}

function* ruleOccurrences(rule: ICAL.Recur, start: ICAL.Time): Generator<Occurrence> {
  const iterator = rule.iterator(start);
  // The iterator reuses its time object: each occurrence is a copy.
  for (let next = iterator.next(); next; next = iterator.next()) {
    const time = next.clone();
    yield { time, at: toMs(time) };
  }
}

interface RecurrenceDates {
  /** RDATEs in order, and DTSTART when no RRULE starts the set with it. */
  dates: Occurrence[];
  excludedTimes: Set<number>;
  /** EXDATEs given as dates (VALUE=DATE) exclude every instance on that day, as ical.js does. */
  excludedDays: Set<string>;
}

/** By master component: a parsed object is cached, and its dates need sorting once. */
const datesOfMasters = new WeakMap<ICAL.Component, RecurrenceDates>();

function recurrenceDates(master: ICAL.Component): RecurrenceDates {
  let found = datesOfMasters.get(master);
  if (found) return found;
  const dates: Occurrence[] = [];
  if (!master.hasProperty('rrule')) {
    const start = master.getFirstPropertyValue('dtstart') as ICAL.Time;
    dates.push({ time: start, at: toMs(start) });
  }
  for (const property of master.getAllProperties('rdate')) {
    for (const value of property.getValues() as (ICAL.Time | ICAL.Period)[]) {
      if (value instanceof ICAL.Period)
        dates.push({ time: value.start, at: toMs(value.start), length: periodLength(value) });
      else dates.push({ time: value, at: toMs(value) });
    }
  }
  dates.sort((a, b) => a.at - b.at);
  const excludedTimes = new Set<number>();
  const excludedDays = new Set<string>();
  for (const property of master.getAllProperties('exdate')) {
    for (const value of property.getValues() as ICAL.Time[]) {
      if (value.isDate) excludedDays.add(dayOf(value));
      else excludedTimes.add(toMs(value));
    }
  }
  found = { dates, excludedTimes, excludedDays };
  datesOfMasters.set(master, found);
  return found;
}

/** The calendar day of a time, on its own wall clock. */
function dayOf(time: ICAL.Time): string {
  return `${time.year}-${time.month}-${time.day}`;
}

/**
 * How long an instance lasts (RFC 5545 §3.3.6): whole days and weeks are nominal (the same wall-clock
 * time so many days later, 23 or 25 hours across a DST change), hours, minutes and seconds exact.
 */
export interface Length {
  days: number;
  ms: number;
}

/** The length of a component's instances: DTEND or DUE minus DTSTART is exact (RFC 5545 §3.8.5.3), a DURATION nominal in its days. */
export function lengthOf(item: ICAL.Component): Length {
  const start = item.getFirstPropertyValue('dtstart') as ICAL.Time | null;
  const end = item.getFirstPropertyValue(item.name === 'vtodo' ? 'due' : 'dtend') as ICAL.Time | null;
  const duration = item.getFirstPropertyValue('duration') as ICAL.Duration | null;
  if (start && end) return { days: 0, ms: toMs(end) - toMs(start) };
  if (duration) return durationLength(duration);
  // An event or journal entry on a date without an end lasts that day (RFC 5545 §3.6.1); otherwise an instant.
  return { days: start?.isDate && item.name !== 'vtodo' ? 1 : 0, ms: 0 };
}

function durationLength(duration: ICAL.Duration): Length {
  const sign = duration.isNegative ? -1 : 1;
  return {
    days: sign * (duration.weeks * 7 + duration.days),
    ms: sign * (duration.hours * 3600 + duration.minutes * 60 + duration.seconds) * 1000,
  };
}

function periodLength(period: ICAL.Period): Length {
  return period.duration ? durationLength(period.duration) : { days: 0, ms: toMs(period.end!) - toMs(period.start) };
}

/** Where an instance starting at `start` ends. ical.js's Time.addDuration would add hours on the wall clock too. */
export function endOf(start: ICAL.Time, length: Length): number {
  if (!length.days) return toMs(start) + length.ms;
  const day = start.clone();
  day.day += length.days;
  return toMs(day) + length.ms;
}

/**
 * Like instances(), for reading objects already stored: an expansion that spends its budget ends
 * there instead of failing the request (a rule accepted before the budget existed, or one that only
 * gets costly far from its start).
 */
export function* instancesWithinBudget(
  object: ObjectShape,
  rangeStart: number,
  rangeEnd: number,
  options: ExpansionOptions = {},
): Generator<Instance> {
  try {
    yield* instances(object, rangeStart, rangeEnd, options);
  } catch (error) {
    if (!(error instanceof ExpansionBudgetSpent)) throw error;
  }
}

/** An upper bound of an instance's length in ms, with a day to spare for DST changes in between. */
function longest(length: Length): number {
  return Math.max(length.days, 0) * 86_400_000 + length.ms + 86_400_000;
}

/**
 * The period of each frequency in units of ical.js's Time, with a length in ms that is never shorter
 * than the real one (so the moved start stays before the range). A month or year moved from a day
 * after the 28th could land on a day that does not exist: such series are not moved.
 */
const frequencyPeriods: Record<
  string,
  { unit: 'second' | 'minute' | 'hour' | 'day' | 'month' | 'year'; units: number; unitMs: number }
> = {
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
 * the same instances after its first, so the query can start there: the rule is followed from a whole
 * number of periods before `notBefore` (with a day and a period to spare), and that start is skipped.
 * COUNT rules are followed from DTSTART.
 */
function seriesNear(master: ICAL.Component, notBefore: number): ICAL.Time | undefined {
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
  const moved = start.clone();
  moved[period.unit] += periods * unitsPerPeriod;
  return moved;
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
  if (start) return { start: toMs(start), end: endOf(start, lengthOf(item)), item, startTime: start };
  if (item.name === 'vevent') return undefined;
  const due = item.name === 'vtodo' ? (item.getFirstPropertyValue('due') as ICAL.Time | null) : null;
  if (due) return { start: toMs(due), end: toMs(due), item };
  return { start: openStart, end: openEnd, item };
}
