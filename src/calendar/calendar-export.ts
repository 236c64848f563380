// A whole calendar as one iCalendar file (GET on the collection): what "export" and read-only
// subscriptions by URL expect. Time zones used by several objects appear once.
import ICAL from 'ical.js';
import type { CalendarObjectRow, CalendarRow } from './calendars.ts';
import { parsedObject } from './calendars.ts';

export function exportCalendar(calendar: CalendarRow, rows: CalendarObjectRow[]): string {
  const out = new ICAL.Component(['vcalendar', [], []]);
  out.addPropertyWithValue('version', '2.0');
  out.addPropertyWithValue('prodid', '-//Holdfast//Calendar//EN');
  out.addPropertyWithValue('x-wr-calname', calendar.display_name ?? calendar.uri);
  const zones = new Set<string>();
  for (const row of rows) {
    for (const component of parsedObject(row).root.getAllSubcomponents()) {
      if (component.name === 'vtimezone') {
        const tzid = String(component.getFirstPropertyValue('tzid'));
        if (zones.has(tzid)) continue;
        zones.add(tzid);
      }
      out.addSubcomponent(new ICAL.Component(ICAL.helpers.clone(component.jCal, true) as unknown[]));
    }
  }
  return `${out.toString().replace(/\r?\n/g, '\r\n')}\r\n`;
}
