// Recurrence expansion for clients (CalDAV `expand`, RFC 4791 §9.6.5): the instances in a range as
// separate components with RECURRENCE-ID, times in UTC, no rules left to evaluate.
import ICAL from 'ical.js';
import type { CalendarObject } from './calendar-object.ts';
import type { ExpansionBudget } from './recurrence-budget.ts';
import { instances, type TimeRange } from './recurrence.ts';

/**
 * `onInstance` hears of each instance written, so a caller can bound a whole answer. A client asked for
 * every instance in the range: when the budget runs out first this throws ExpansionBudgetSpent rather
 * than answer with some of them.
 */
export function expandObject(
  object: CalendarObject,
  range: TimeRange,
  options: { budget?: ExpansionBudget; onInstance?: () => void } = {},
): string {
  const calendar = new ICAL.Component(['vcalendar', [], []]);
  for (const property of object.root.getAllProperties())
    calendar.addProperty(ICAL.Property.fromString(property.toICALString()));
  for (const instance of instances(object, range.start, range.end, { budget: options.budget })) {
    options.onInstance?.();
    const component = new ICAL.Component(ICAL.helpers.clone(instance.item.jCal, true) as unknown[]);
    for (const name of ['rrule', 'rdate', 'exdate', 'dtstart', 'duration', 'dtend', 'due', 'recurrence-id'])
      component.removeAllProperties(name);
    if (instance.startTime) {
      component.addPropertyWithValue('dtstart', utc(instance.startTime, instance.start));
      const endName = object.component === 'VTODO' ? 'due' : 'dtend';
      if (instance.end !== instance.start || instance.item.hasProperty(endName)) {
        component.addPropertyWithValue(endName, utc(instance.startTime, instance.end));
      }
    }
    if (instance.recurrenceId)
      component.addPropertyWithValue(
        'recurrence-id',
        utc(instance.recurrenceId, instance.recurrenceId.toUnixTime() * 1000),
      );
    calendar.addSubcomponent(component);
  }
  return `${calendar.toString().replace(/\r?\n/g, '\r\n')}\r\n`;
}

/** A time as UTC; all-day dates stay dates (they have no time to convert). */
function utc(template: ICAL.Time, ms: number): ICAL.Time {
  if (template.isDate) {
    const date = ICAL.Time.fromJSDate(new Date(ms), true);
    date.isDate = true;
    return date;
  }
  return ICAL.Time.fromJSDate(new Date(ms), true);
}
