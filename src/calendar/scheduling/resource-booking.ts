// The booking policy of rooms and equipment, as Exchange's resource booking assistant applies it:
// requests are accepted automatically unless they conflict with an existing booking, start beyond the
// booking window, or last longer than the maximum duration; each decline says why.
import type { Kysely } from 'kysely';
import type { Database } from '../../store/schema.ts';
import type { CalendarObject } from '../calendar-object.ts';
import { busyTimeOf } from '../availability.ts';
import { instancesWithinBudget, openEnd, openStart } from '../recurrence.ts';

export const bookingPolicy = {
  windowDays: 180,
  maxDurationHours: 24,
  allowConflicts: false,
  allowRecurring: true,
};

export interface BookingDecision {
  accept: boolean;
  reason: string;
}

const day = 86_400_000;

export async function decideBooking(
  db: Kysely<Database>,
  resource: { id: number; address: string; displayName: string | null },
  request: CalendarObject,
  now: number,
): Promise<BookingDecision> {
  const name = resource.displayName ?? resource.address;
  const windowEnd = now + bookingPolicy.windowDays * day;
  if (request.recurring && !bookingPolicy.allowRecurring)
    return { accept: false, reason: `${name} does not accept recurring meetings` };
  const wanted = [...instancesWithinBudget(request, openStart, windowEnd + 1)];
  if (request.span.end === openEnd || request.span.start >= windowEnd || wanted.some((i) => i.start >= windowEnd)) {
    return {
      accept: false,
      reason: `${name} can be booked at most ${bookingPolicy.windowDays} days ahead (until ${new Date(windowEnd).toISOString().slice(0, 10)})`,
    };
  }
  const tooLong = wanted.find((i) => i.end - i.start > bookingPolicy.maxDurationHours * 3_600_000);
  if (tooLong)
    return {
      accept: false,
      reason: `${name} can be booked for at most ${bookingPolicy.maxDurationHours} hours at a time`,
    };
  if (bookingPolicy.allowConflicts || wanted.length === 0) return { accept: true, reason: `${name} is booked` };

  const range = { start: Math.min(...wanted.map((i) => i.start)), end: Math.max(...wanted.map((i) => i.end)) };
  const busy = await busyTimeOf(db, resource, range, { ignoreUid: request.uid });
  for (const instance of wanted) {
    const clash = busy.find((b) => b.start < instance.end && b.end > instance.start);
    if (clash) {
      return {
        accept: false,
        reason: `${name} is already booked from ${formatUtc(clash.start)} to ${formatUtc(clash.end)}`,
      };
    }
  }
  return { accept: true, reason: `${name} is booked` };
}

function formatUtc(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}
