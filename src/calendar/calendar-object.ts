// One calendar object resource (RFC 4791 §4.1): a VCALENDAR holding one event, task or journal entry
// (a master and its overridden instances, all with one UID) and the time zones it uses. Parsing
// validates everything a calendar collection requires, so a stored object is always readable; the
// error codes are the CalDAV precondition each failure violates.
import ICAL from 'ical.js';
import { HoldfastError, invalid } from '../errors.ts';
import { defaultExpansionSteps, ExpansionBudget, ExpansionBudgetSpent } from './recurrence-budget.ts';
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

/**
 * What a recurrence too costly to evaluate does: a new object is refused; one read back from the store
 * (accepted before this bound existed) counts as open-ended.
 */
export type CostlyRecurrence = 'refuse' | 'open-ended';

export function parseCalendarObject(text: string, costlyRecurrence: CostlyRecurrence = 'refuse'): CalendarObject {
  const root = parseCalendar(text);
  // Only a new object is held to this: one stored before these checks existed must stay readable.
  if (costlyRecurrence === 'refuse') checkDateText(text);
  const unknownZones = resolveTimezones(root);
  if (unknownZones.length) {
    throw invalid(
      'valid-calendar-data',
      `TZID ${unknownZones.join(', ')} has no VTIMEZONE in the object and is not an IANA time zone name`,
    );
  }
  if (root.getFirstProperty('method')) {
    throw invalid(
      'valid-calendar-object-resource',
      'a stored calendar object must not have a METHOD property (that belongs to scheduling messages)',
    );
  }
  const items = root.getAllSubcomponents().filter((c) => c.name !== 'vtimezone');
  if (items.length === 0)
    throw invalid('valid-calendar-object-resource', 'the VCALENDAR holds no VEVENT, VTODO or VJOURNAL');
  const names = new Set(items.map((c) => c.name.toUpperCase()));
  if (names.size > 1)
    throw invalid(
      'valid-calendar-object-resource',
      `one object holds one kind of component, not ${[...names].join(' and ')}`,
    );
  const component = [...names][0] as string;
  if (!(calendarComponents as readonly string[]).includes(component)) {
    throw invalid(
      'supported-calendar-component',
      `${component} is not a calendar component Holdfast stores (expected VEVENT, VTODO or VJOURNAL)`,
    );
  }
  const uids = new Set(items.map((c) => c.getFirstPropertyValue('uid')));
  if (uids.has(null) || uids.has('')) throw invalid('valid-calendar-object-resource', `the ${component} has no UID`);
  if (uids.size > 1)
    throw invalid(
      'valid-calendar-object-resource',
      `every component of one object shares one UID; found ${[...uids].join(', ')}`,
    );
  const masters = items.filter((c) => !c.hasProperty('recurrence-id'));
  if (masters.length > 1)
    throw invalid(
      'valid-calendar-object-resource',
      `${masters.length} ${component}s with UID ${String([...uids][0])} and no RECURRENCE-ID; overridden instances need one`,
    );
  const overrides = items.filter((c) => c.hasProperty('recurrence-id'));
  for (const item of items) checkTimes(item, component);

  const master = masters[0];
  const recurring = Boolean(master && (master.hasProperty('rrule') || master.hasProperty('rdate')));
  const object: CalendarObject = {
    uid: String([...uids][0]),
    component: component as CalendarComponent,
    root,
    master,
    overrides,
    recurring,
    span: { start: 0, end: 0 },
  };
  try {
    object.span = spanOf(object, costlyRecurrence);
  } catch (error) {
    if (error instanceof HoldfastError) throw error;
    // ical.js reads rules lazily: a malformed RRULE shows when its instances are first computed.
    throw invalid(
      'valid-calendar-data',
      `the ${component}'s recurrence cannot be evaluated: ${(error as Error).message}`,
    );
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
  if (depth > maxNesting)
    throw invalid(
      'valid-calendar-data',
      `components are nested ${depth} levels deep; iCalendar needs at most ${maxNesting} (VCALENDAR > VEVENT > VALARM)`,
    );
  const root = new ICAL.Component(jcal as unknown[]);
  if (root.name !== 'vcalendar')
    throw invalid('valid-calendar-data', `expected BEGIN:VCALENDAR, found BEGIN:${root.name.toUpperCase()}`);
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

/** The properties whose values are dates or date-times an instance's time depends on. */
const datedProperties = new Set(['dtstart', 'dtend', 'due', 'recurrence-id', 'exdate', 'rdate', 'rrule']);
/** The components whose dates are checked: the calendar components and a VTIMEZONE's observances. */
const datedComponents = new Set(['vevent', 'vtodo', 'vjournal', 'standard', 'daylight']);
/** A design set that keeps every value as the text the client sent (ical.js rewrites date-times as it parses). */
const rawDesignSet = { ...ICAL.design.icalendar, value: {} } as typeof ICAL.design.icalendar;

/**
 * ical.js reads a date-time by slicing it into numbers and lets them overflow: month 13 becomes January
 * of the next year, 31 February becomes 3 March, hour 25 the next day. So the text of every DATE and
 * DATE-TIME (RFC 5545 §3.3.4, §3.3.5) of DTSTART, DTEND, DUE, RECURRENCE-ID, EXDATE, RDATE (and its
 * PERIODs, §3.3.9) and the RRULE's UNTIL is checked as written, before ical.js converts it; and DTEND
 * must have DTSTART's value type (§3.8.2.2). One more pass over the lines, no more.
 */
function checkDateText(text: string) {
  const root: unknown[] = [];
  const state = { component: root, stack: [root], designSet: rawDesignSet };
  ICAL.parse._eachLine(text, (_error, line) =>
    ICAL.parse._handleContentLine(line, state as unknown as Parameters<typeof ICAL.parse._handleContentLine>[1]),
  );
  const stack = [root[0] as RawComponent];
  while (stack.length) {
    const [name, properties, children] = stack.pop()!;
    for (const child of children) stack.push(child);
    if (!datedComponents.has(name)) continue;
    const where = `of the ${name.toUpperCase()}`;
    const types: Record<string, string> = {};
    for (const [property, , type, ...values] of properties) {
      if (!datedProperties.has(property)) continue;
      const label = `${property.toUpperCase()} ${where}`;
      types[property] ??= type;
      // Spaces before the line's end are no part of the value (ical.js reads past them too).
      for (const value of values) checkDatedValue(label, property, type, String(value).trimEnd());
    }
    // DUE may differ (RFC 5545 3.8.2.3 says it must not): tasks.org, 2Do and Evolution send all-day
    // tasks due at a time, and refusing them would fail every sync of those tasks.
    if (types.dtstart && types.dtend && types.dtend !== types.dtstart) {
      throw invalid(
        'valid-calendar-data',
        `DTEND ${where} is a ${types.dtend.toUpperCase()} but its DTSTART is a ${types.dtstart.toUpperCase()}; ` +
          'RFC 5545 §3.8.2.2 requires both to have the same value type',
      );
    }
  }
}

type RawComponent = [string, [string, unknown, string, ...unknown[]][], RawComponent[]];

function checkDatedValue(label: string, property: string, type: string, value: string) {
  if (property === 'rrule') {
    const until = value.split(';').find((part) => part.toUpperCase().startsWith('UNTIL='));
    if (until) {
      const date = until.slice('UNTIL='.length);
      checkDateOrDateTime(`UNTIL of the ${label}`, date.length === 8 ? 'date' : 'date-time', date);
    }
  } else if (type === 'period' && property === 'rdate') {
    const [start, end = ''] = value.split('/');
    checkDateOrDateTime(`${label} (period start)`, 'date-time', start!);
    if (!/^[+-]?P/.test(end)) checkDateOrDateTime(`${label} (period end)`, 'date-time', end);
  } else if (type === 'date' || type === 'date-time') {
    checkDateOrDateTime(label, type, value);
  } else {
    const allowed = property === 'rdate' ? 'DATE, DATE-TIME or PERIOD' : 'DATE or DATE-TIME';
    throw invalid('valid-calendar-data', `${label} has value type ${type.toUpperCase()}; it must be ${allowed}`);
  }
}

const dateText = /^(\d{4})(\d{2})(\d{2})$/;
const dateTimeText = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z?$/;

/** Checks one DATE (YYYYMMDD) or DATE-TIME (YYYYMMDDTHHMMSS[Z]) exactly as written. */
function checkDateOrDateTime(label: string, type: 'date' | 'date-time', value: string) {
  const match = (type === 'date' ? dateText : dateTimeText).exec(value);
  const shown = JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (!match) {
    const hint =
      type === 'date-time' && dateText.test(value)
        ? '; a DATE needs VALUE=DATE'
        : type === 'date' && dateTimeText.test(value)
          ? '; a DATE-TIME must not have VALUE=DATE'
          : '';
    throw invalid(
      'valid-calendar-data',
      `${label} is not a valid ${type}: ${shown} is not an RFC 5545 ${type === 'date' ? 'DATE (YYYYMMDD)' : 'DATE-TIME (YYYYMMDDTHHMMSS, with Z for UTC)'}${hint}`,
    );
  }
  const [year, month, day, hour = 0, minute = 0, second = 0] = match.slice(1).map(Number) as number[];
  const bad = (what: string) => {
    throw invalid('valid-calendar-data', `${label} is not a valid ${type}: ${shown} has ${what}`);
  };
  if (month! < 1 || month! > 12) bad(`month ${month}`);
  const days = new Date(Date.UTC(2000, month!, 0)).getUTCDate() - (month === 2 && !leapYear(year!) ? 1 : 0);
  if (day! < 1 || day! > days) bad(`day ${day} (month ${month} of ${year} has ${days} days)`);
  if (hour > 23) bad(`hour ${hour}`);
  if (minute > 59) bad(`minute ${minute}`);
  if (second > 60) bad(`second ${second}`); // 60 is a leap second (RFC 5545 §3.3.12)
}

function leapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/** Reads every date-time now, so that a malformed one fails the PUT instead of a later query. */
function checkTimes(item: ICAL.Component, component: string) {
  for (const name of ['dtstart', 'dtend', 'due', 'recurrence-id', 'duration', 'rrule', 'exdate', 'rdate']) {
    for (const property of item.getAllProperties(name)) {
      try {
        for (const value of property.getValues())
          if (value === null || (typeof value === 'number' && Number.isNaN(value))) throw new Error('empty value');
      } catch (error) {
        throw invalid(
          'valid-calendar-data',
          `${name.toUpperCase()} of the ${component} is not valid: ${(error as Error).message}`,
        );
      }
    }
  }
  if (component === 'VEVENT' && !item.hasProperty('dtstart'))
    throw invalid('valid-calendar-data', 'a VEVENT needs DTSTART');
  if (item.hasProperty('dtend') && item.hasProperty('duration'))
    throw invalid('valid-calendar-data', `a ${component} has DTEND or DURATION, not both`);
  for (const name of ['rrule', 'rdate']) {
    if (item.hasProperty(name) && !item.hasProperty('dtstart'))
      throw invalid('valid-calendar-data', `${name.toUpperCase()} needs DTSTART`);
  }
  checkDurationAndInterval(item, component);
  const start = item.getFirstPropertyValue('dtstart') as ICAL.Time | null;
  const end = (item.getFirstPropertyValue('dtend') ?? item.getFirstPropertyValue('due')) as ICAL.Time | null;
  if (start && end && end.compare(start) < 0)
    throw invalid(
      'valid-calendar-data',
      `the ${component} ends (${end.toString()}) before it starts (${start.toString()})`,
    );
}

/** The end of year 9999, the last instant iCalendar can write. */
const lastInstant = Date.UTC(10_000, 0, 1);
/** The longest period a rule may step by (INTERVAL times its frequency): four centuries. */
const longestRulePeriodSeconds = 400 * 366 * 86_400;
const frequencySeconds: Record<string, number> = {
  SECONDLY: 1,
  MINUTELY: 60,
  HOURLY: 3600,
  DAILY: 86_400,
  WEEKLY: 604_800,
  MONTHLY: 31 * 86_400,
  YEARLY: 366 * 86_400,
};

/**
 * ical.js adds days, and steps a rule, one year at a time: DURATION:P99999999999W (or an RDATE period
 * that long) or FREQ=DAILY;INTERVAL=2147483647 would keep it busy for hours. Both are checked with
 * plain arithmetic before ical.js is asked for an end or an instance.
 */
function checkDurationAndInterval(item: ICAL.Component, component: string) {
  const duration = item.getFirstPropertyValue('duration') as ICAL.Duration | null;
  const start = item.getFirstPropertyValue('dtstart') as ICAL.Time | null;
  if (duration) checkDuration(`DURATION ${duration.toString()} of the ${component}`, start, duration);
  for (const property of item.getAllProperties('rdate')) {
    for (const value of property.getValues()) {
      if (!(value instanceof ICAL.Period)) continue;
      const name = `RDATE period ${value.toString()} of the ${component}`;
      if (value.duration) checkDuration(name, value.start, value.duration);
      else if (value.end!.compare(value.start) < 0)
        throw invalid('valid-calendar-data', `${name} ends before it starts`);
    }
  }
  for (const property of item.getAllProperties('rrule')) {
    const rule = property.getFirstValue() as ICAL.Recur;
    const step = (rule.interval || 1) * (frequencySeconds[rule.freq] ?? 1);
    if (step > longestRulePeriodSeconds) {
      throw invalid(
        'valid-calendar-data',
        `RRULE FREQ=${rule.freq};INTERVAL=${rule.interval} of the ${component} steps by more than 400 years`,
      );
    }
  }
}

function checkDuration(name: string, start: ICAL.Time | null, duration: ICAL.Duration) {
  if (duration.isNegative) throw invalid('valid-calendar-data', `${name} is negative; it must not be`);
  const startMs = start ? start.toUnixTime() * 1000 : 0;
  if (startMs + duration.toSeconds() * 1000 >= lastInstant)
    throw invalid('valid-calendar-data', `${name} ends after the year 9999`);
}

function spanOf(object: CalendarObject, costlyRecurrence: CostlyRecurrence): { start: number; end: number } {
  let start = openEnd;
  let end = openStart;
  const widen = (instance: Instance) => {
    start = Math.min(start, instance.start);
    end = Math.max(end, instance.end);
  };
  const forever = openEnded(object);
  let count = 0;
  try {
    for (const instance of instances(object, openStart, openEnd, { fromStart: true, budget: acceptanceBudget() })) {
      widen(instance);
      if (++count > spanInstanceLimit || (count > 1 && forever)) {
        end = openEnd; // too many to follow, or no end at all: treat the series as open-ended
        break;
      }
    }
  } catch (error) {
    if (!(error instanceof ExpansionBudgetSpent)) throw error;
    // ical.js looks for the next instance until it finds one: a rule that cannot reach its second
    // within the budget names no real date, and would cost every later query its whole budget.
    if (count < 2) return costlyRule(object, costlyRecurrence);
    end = openEnd; // a live rule too costly to follow to its end counts as open-ended
  }
  // An override may move its instance anywhere; it counts wherever it went.
  for (const override of object.overrides) {
    for (const instance of instances(
      { ...object, master: override, overrides: [], recurring: false },
      openStart,
      openEnd,
    ))
      widen(instance);
  }
  // A set whose every instance is excluded keeps the empty span: no time range finds it.
  return { start, end };
}

/** A new object with such a rule is refused; one read back from the store counts as open-ended. */
function costlyRule(object: CalendarObject, costlyRecurrence: CostlyRecurrence): { start: number; end: number } {
  if (costlyRecurrence === 'refuse') {
    throw invalid(
      'valid-calendar-data',
      `the ${object.component}'s recurrence rule takes more than ${defaultExpansionSteps} iteration steps to find its second instance; ` +
        'Holdfast refuses rules this costly (they usually name dates that never occur, such as BYMONTHDAY=30 with BYMONTH=2)',
    );
  }
  return { start: openStart, end: openEnd };
}

/**
 * Whether an object is stored must not depend on how busy the machine is: its expansion is bounded by
 * steps alone, with the clock only as a far backstop (on a loaded machine a cold step costs 30 µs).
 */
function acceptanceBudget(): ExpansionBudget {
  return new ExpansionBudget(defaultExpansionSteps, 2000);
}

/** A master whose rule has neither COUNT nor UNTIL repeats for ever. */
function openEnded(object: CalendarObject): boolean {
  return (object.master?.getAllProperties('rrule') ?? []).some((property) => {
    const rule = property.getFirstValue() as ICAL.Recur;
    return !rule.count && !rule.until;
  });
}
