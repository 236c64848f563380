// iCalendar text for tests.

/** A VCALENDAR with one event; `extra` lines go inside the VEVENT. */
export function event(uid: string, start: string, end: string, summary: string, extra: string[] = []): string {
  return [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//Holdfast tests//EN',
    'BEGIN:VEVENT',
    `UID:${uid}`,
    'DTSTAMP:20261101T000000Z',
    start.includes('TZID') ? start : `DTSTART:${start}`,
    end.includes('TZID') ? end : `DTEND:${end}`,
    `SUMMARY:${summary}`,
    ...extra,
    'END:VEVENT',
    'END:VCALENDAR',
    '',
  ].join('\r\n');
}
