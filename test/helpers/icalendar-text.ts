// iCalendar text built from its lines, for tests that need components calendar-data.ts's event() does
// not write (several components, DURATION instead of DTEND, tasks, METHOD).

/** One component: BEGIN, UID and DTSTAMP, the lines given, END. */
export function component(lines: string[], name = 'VEVENT', uid = 'u-1'): string[] {
  return [`BEGIN:${name}`, `UID:${uid}`, 'DTSTAMP:20260101T000000Z', ...lines, `END:${name}`];
}

/** A VCALENDAR holding the components; `properties` go before them (e.g. METHOD:REQUEST). */
export function calendar(components: string[][], properties: string[] = []): string {
  return [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//Holdfast tests//EN',
    ...properties,
    ...components.flat(),
    'END:VCALENDAR',
    '',
  ].join('\r\n');
}
