// The booking policy of rooms and equipment, as Exchange's resource booking assistant applies it,
// from each resource's settings (directory/resource-settings.ts; a resource never set has the
// defaults): requests are declined when their organizer is not among those who may book, when they
// recur and the resource takes no recurring meetings, start beyond the booking window, last longer
// than the maximum duration, or conflict with an existing booking (unless conflicts are allowed);
// each decline says why. The rest are accepted at once, or, for a resource that does not
// auto-accept, wait (NEEDS-ACTION) for a delegate with write access to its calendar to answer.
// A room's capacity is for people choosing a room: it never declines a meeting.
import type { Kysely } from 'kysely';
import { type ResourceSettings, durationText, resourceSettings } from '../../directory/resource-settings.ts';
import { TenantDirectory } from '../../directory/tenant-directory.ts';
import type { Database } from '../../store/schema.ts';
import type { CalendarObject } from '../calendar-object.ts';
import { busyTimeOf } from '../availability.ts';
import { instancesWithinBudget, openEnd, openStart } from '../recurrence.ts';

export interface BookingDecision {
  /** accept: booked now; decline: refused, `reason` says why; wait: within the policy, a delegate answers. */
  outcome: 'accept' | 'decline' | 'wait';
  reason: string;
}

const day = 86_400_000;

export async function decideBooking(
  db: Kysely<Database>,
  resource: { id: number; tenantId: number; address: string; displayName: string | null },
  organizer: string,
  request: CalendarObject,
  now: number,
): Promise<BookingDecision> {
  const policy = await resourceSettings(db, resource.id);
  const name = resource.displayName ?? resource.address;
  const decline = (reason: string): BookingDecision => ({ outcome: 'decline', reason });
  if (policy.bookInPolicy === 'list' && !(await mayBook(db, resource.tenantId, policy, organizer)))
    return decline(`${name} accepts bookings only from the people and groups its administrators list`);
  const windowEnd = now + policy.windowDays * day;
  if (request.recurring && !policy.allowRecurring) return decline(`${name} does not accept recurring meetings`);
  const wanted = [...instancesWithinBudget(request, openStart, windowEnd + 1)];
  if (request.span.end === openEnd || request.span.start >= windowEnd || wanted.some((i) => i.start >= windowEnd)) {
    return decline(
      `${name} can be booked at most ${policy.windowDays} days ahead (until ${new Date(windowEnd).toISOString().slice(0, 10)})`,
    );
  }
  const tooLong = wanted.find((i) => i.end - i.start > policy.maxDurationMinutes * 60_000);
  if (tooLong)
    return decline(`${name} can be booked for at most ${durationWords(policy.maxDurationMinutes)} at a time`);
  const within: BookingDecision = policy.autoAccept
    ? { outcome: 'accept', reason: `${name} is booked` }
    : { outcome: 'wait', reason: `${name} is booked only once one of its delegates accepts` };
  if (policy.allowConflicts || wanted.length === 0) return within;

  const range = { start: Math.min(...wanted.map((i) => i.start)), end: Math.max(...wanted.map((i) => i.end)) };
  const busy = await busyTimeOf(db, resource, range, { ignoreUid: request.uid });
  for (const instance of wanted) {
    const clash = busy.find((b) => b.start < instance.end && b.end > instance.start);
    if (clash) return decline(`${name} is already booked from ${formatUtc(clash.start)} to ${formatUtc(clash.end)}`);
  }
  return within;
}

/** Whether the organizer is on the list: by one of their addresses, or as a member of a listed group. */
async function mayBook(
  db: Kysely<Database>,
  tenantId: number,
  policy: ResourceSettings,
  organizer: string,
): Promise<boolean> {
  const scope = new TenantDirectory(db, tenantId);
  const who = await scope.getPrincipal(organizer).catch(() => undefined);
  if (!who) return false;
  for (const booker of policy.bookers) {
    const listed = await scope.getPrincipal(booker).catch(() => undefined);
    if (!listed) continue;
    if (listed.id === who.id) return true;
    if (listed.kind === 'group' && (await scope.expandGroup(listed.address)).includes(who.address)) return true;
  }
  return false;
}

function durationWords(minutes: number): string {
  if (minutes % 60 === 0) return `${minutes / 60} ${minutes === 60 ? 'hour' : 'hours'}`;
  return durationText(minutes);
}

function formatUtc(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}
