// The readable part of a scheduling message: what people see in the mail before their client shows
// the invitation — when (date, time and zone), where, and who organizes it — as Exchange writes it.
import type ICAL from 'ical.js';
import type { CalendarObject } from '../calendar-object.ts';
import { endOf, lengthOf, toMs } from '../recurrence.ts';

/** "When / Where / Organizer" lines for the meeting (its first instance, and the rule if it repeats). */
export function meetingDetails(
  object: CalendarObject,
  organizer: { address: string; displayName: string | null },
): string {
  const item = object.master ?? object.overrides[0];
  if (!item) return '';
  const lines: string[] = [];
  const start = item.getFirstPropertyValue('dtstart') as ICAL.Time | null;
  if (start) lines.push(`When: ${when(item, start)}`);
  const rule = item.getFirstPropertyValue('rrule') as ICAL.Recur | null;
  if (rule) lines.push(`Repeats: ${rule.toString()}`);
  const location = item.getFirstPropertyValue('location');
  if (location) lines.push(`Where: ${String(location)}`);
  lines.push(
    `Organizer: ${organizer.displayName ? `${organizer.displayName} <${organizer.address}>` : organizer.address}`,
  );
  return lines.join('\n');
}

function when(item: ICAL.Component, start: ICAL.Time): string {
  const startMs = toMs(start);
  const endMs = endOf(start, lengthOf(item));
  if (start.isDate) {
    // Dates are floating, read as UTC; the end is the day after the last.
    const day = (ms: number) => new Date(ms).toLocaleDateString('en-GB', { timeZone: 'UTC', dateStyle: 'full' });
    const lastDay = endMs - 86_400_000;
    return lastDay > startMs ? `${day(startMs)} to ${day(lastDay)} (all day)` : `${day(startMs)} (all day)`;
  }
  const zone = zoneName(start);
  const format = (ms: number, style: Intl.DateTimeFormatOptions) =>
    new Date(ms).toLocaleString('en-GB', { timeZone: zone, ...style });
  const sameDay = format(startMs, { dateStyle: 'full' }) === format(endMs, { dateStyle: 'full' });
  const to = sameDay ? format(endMs, { timeStyle: 'short' }) : format(endMs, { dateStyle: 'full', timeStyle: 'short' });
  return `${format(startMs, { dateStyle: 'full', timeStyle: 'short' })} to ${to} (${zone})`;
}

/** The IANA zone of a time, or UTC for UTC and floating times and zones Intl does not know. */
function zoneName(time: ICAL.Time): string {
  const tzid = time.zone?.tzid;
  if (!tzid || tzid === 'UTC' || tzid === 'floating' || tzid === 'Z') return 'UTC';
  try {
    new Intl.DateTimeFormat('en-GB', { timeZone: tzid });
    return tzid;
  } catch {
    return 'UTC';
  }
}
