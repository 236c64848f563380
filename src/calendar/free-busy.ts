// Free/busy time (RFC 5545 VFREEBUSY): when a principal is busy in a range, from the events of its
// calendars, without saying what the events are. Transparent and cancelled events do not count;
// tentative ones are BUSY-TENTATIVE.
import ICAL from 'ical.js';
import type { CalendarObject } from './calendar-object.ts';
import type { ExpansionBudget } from './recurrence-budget.ts';
import { instancesWithinBudget, type TimeRange } from './recurrence.ts';

export type BusyType = 'BUSY' | 'BUSY-TENTATIVE' | 'BUSY-UNAVAILABLE';

export interface BusyPeriod {
  start: number;
  end: number;
  type: BusyType;
}

/**
 * Busy time of `objects` within `range`. With `owner` (the calendar's owner), meetings the owner has
 * declined do not count and those not yet accepted are tentative.
 */
export function busyPeriods(
  objects: CalendarObject[],
  range: TimeRange,
  owner?: string,
  budget?: ExpansionBudget,
): BusyPeriod[] {
  const periods: BusyPeriod[] = [];
  for (const object of objects) {
    if (object.component !== 'VEVENT') continue;
    for (const instance of instancesWithinBudget(object, range.start, range.end, { budget })) {
      const item = instance.item;
      if (String(item.getFirstPropertyValue('transp') ?? 'OPAQUE').toUpperCase() === 'TRANSPARENT') continue;
      const status = String(item.getFirstPropertyValue('status') ?? 'CONFIRMED').toUpperCase();
      if (status === 'CANCELLED') continue;
      if (instance.end <= instance.start) continue;
      const answer = owner ? ownerAnswer(item, owner) : undefined;
      if (answer === 'DECLINED') continue;
      const tentative = status === 'TENTATIVE' || answer === 'NEEDS-ACTION' || answer === 'TENTATIVE';
      periods.push({
        start: Math.max(instance.start, range.start),
        end: Math.min(instance.end, range.end),
        type: tentative ? 'BUSY-TENTATIVE' : 'BUSY',
      });
    }
  }
  return mergePeriods(periods);
}

function ownerAnswer(item: ICAL.Component, owner: string): string | undefined {
  const mine = item
    .getAllProperties('attendee')
    .find((p) => String(p.getFirstValue()).toLowerCase() === `mailto:${owner}`);
  return mine ? String(mine.getParameter('partstat') ?? 'NEEDS-ACTION').toUpperCase() : undefined;
}

/** Joins overlapping periods of the same type; a BUSY period wins over a tentative one. */
function mergePeriods(periods: BusyPeriod[]): BusyPeriod[] {
  const merged: BusyPeriod[] = [];
  for (const type of ['BUSY', 'BUSY-UNAVAILABLE', 'BUSY-TENTATIVE'] as BusyType[]) {
    const sorted = periods.filter((p) => p.type === type).sort((a, b) => a.start - b.start);
    for (const period of sorted) {
      const last = merged.at(-1);
      if (last && last.type === type && period.start <= last.end) last.end = Math.max(last.end, period.end);
      else merged.push({ ...period });
    }
  }
  return merged.sort((a, b) => a.start - b.start || a.type.localeCompare(b.type));
}

/** A VCALENDAR with one VFREEBUSY covering the range. */
export function freeBusyCalendar(
  periods: BusyPeriod[],
  range: TimeRange,
  extra: { method?: string; organizer?: string; attendee?: string; uid?: string } = {},
): string {
  const calendar = new ICAL.Component(['vcalendar', [], []]);
  calendar.addPropertyWithValue('version', '2.0');
  calendar.addPropertyWithValue('prodid', '-//Holdfast//Calendar//EN');
  if (extra.method) calendar.addPropertyWithValue('method', extra.method);
  const freeBusy = new ICAL.Component('vfreebusy');
  if (extra.uid) freeBusy.addPropertyWithValue('uid', extra.uid);
  freeBusy.addPropertyWithValue('dtstamp', utcTime(Date.now()));
  freeBusy.addPropertyWithValue('dtstart', utcTime(range.start));
  freeBusy.addPropertyWithValue('dtend', utcTime(range.end));
  if (extra.organizer) freeBusy.addPropertyWithValue('organizer', `mailto:${extra.organizer}`);
  if (extra.attendee) freeBusy.addPropertyWithValue('attendee', `mailto:${extra.attendee}`);
  for (const period of periods) {
    const property = new ICAL.Property('freebusy');
    property.setParameter('fbtype', period.type);
    property.setValue(ICAL.Period.fromData({ start: utcTime(period.start), end: utcTime(period.end) }));
    freeBusy.addProperty(property);
  }
  calendar.addSubcomponent(freeBusy);
  return `${calendar.toString().replace(/\r?\n/g, '\r\n')}\r\n`;
}

export function utcTime(ms: number): ICAL.Time {
  return ICAL.Time.fromJSDate(new Date(ms), true);
}
