// iTIP (RFC 5546) on iCalendar data: who organizes and who attends, and the REQUEST, REPLY and
// CANCEL messages and attendee-status changes that scheduling exchanges. Pure functions on text and
// parsed objects; who receives what is decided in scheduler.ts.
import ICAL from 'ical.js';
import { parseCalendar, type CalendarObject } from '../calendar-object.ts';

export type ItipMethod = 'REQUEST' | 'REPLY' | 'CANCEL' | 'COUNTER' | 'DECLINECOUNTER';
export type PartStat = 'NEEDS-ACTION' | 'ACCEPTED' | 'DECLINED' | 'TENTATIVE' | 'DELEGATED';

/** The email address of a calendar user address (`mailto:Alice@Example` → `alice@example`). */
export function calendarAddress(value: unknown): string | undefined {
  const text = String(value ?? '');
  const match = /^mailto:(.+)$/i.exec(text.trim());
  return match ? match[1]!.trim().toLowerCase() : undefined;
}

function items(root: ICAL.Component): ICAL.Component[] {
  return root.getAllSubcomponents().filter((c) => c.name !== 'vtimezone');
}

export function organizerOf(object: CalendarObject): string | undefined {
  for (const item of items(object.root)) {
    const organizer = calendarAddress(item.getFirstPropertyValue('organizer'));
    if (organizer) return organizer;
  }
  return undefined;
}

/** Every attendee of any instance, once each. */
export function attendeesOf(object: CalendarObject): string[] {
  const found = new Set<string>();
  for (const item of items(object.root)) {
    for (const property of item.getAllProperties('attendee')) {
      const address = calendarAddress(property.getFirstValue());
      if (address) found.add(address);
    }
  }
  return [...found];
}

/** An attendee's participation status in the master (or the first instance). */
export function partStatOf(object: CalendarObject, attendee: string): PartStat | undefined {
  const item = object.master ?? object.overrides[0];
  const property = item?.getAllProperties('attendee').find((p) => calendarAddress(p.getFirstValue()) === attendee);
  if (!property) return undefined;
  return String(property.getParameter('partstat') ?? 'NEEDS-ACTION').toUpperCase() as PartStat;
}

export function summaryOf(object: CalendarObject): string {
  return String((object.master ?? object.overrides[0])?.getFirstPropertyValue('summary') ?? '(no title)');
}

/** Whether the times of the meeting changed (which makes earlier answers stale). */
export function timesChanged(before: CalendarObject, after: CalendarObject): boolean {
  const times = (object: CalendarObject) =>
    items(object.root)
      .map((item) =>
        ['dtstart', 'dtend', 'duration', 'rrule', 'rdate', 'exdate', 'recurrence-id']
          .map((name) =>
            item
              .getAllProperties(name)
              .map((p) => p.toICALString())
              .join('|'),
          )
          .join(';'),
      )
      .sort()
      .join('\n');
  return times(before) !== times(after);
}

function serialize(root: ICAL.Component): string {
  return `${root.toString().replace(/\r?\n/g, '\r\n')}\r\n`;
}

/** A copy of the object's calendar with METHOD set (REQUEST, or CANCEL with STATUS:CANCELLED). */
export function itipMessage(data: string, method: 'REQUEST' | 'CANCEL'): string {
  const root = parseCalendar(data);
  root.removeAllProperties('method');
  root.addPropertyWithValue('method', method);
  if (method === 'CANCEL') {
    for (const item of items(root)) {
      item.updatePropertyWithValue('status', 'CANCELLED');
      item.updatePropertyWithValue('sequence', Number(item.getFirstPropertyValue('sequence') ?? 0) + 1);
    }
  }
  return serialize(root);
}

/** An iTIP REPLY from one attendee: each component with only that attendee, at the given status. */
export function replyMessage(data: string, attendee: string, partStat: PartStat, comment?: string): string {
  const root = parseCalendar(data);
  root.removeAllProperties('method');
  root.addPropertyWithValue('method', 'REPLY');
  for (const item of items(root)) {
    const mine = item.getAllProperties('attendee').find((p) => calendarAddress(p.getFirstValue()) === attendee);
    for (const property of item.getAllProperties('attendee')) item.removeProperty(property);
    const reply = mine ?? new ICAL.Property('attendee');
    if (!mine) reply.setValue(`mailto:${attendee}`);
    reply.setParameter('partstat', partStat);
    reply.removeParameter('rsvp');
    item.addProperty(reply);
    for (const name of ['description', 'location', 'comment']) item.removeAllProperties(name);
    for (const alarm of item.getAllSubcomponents('valarm')) item.removeSubcomponent(alarm);
    if (comment) item.addPropertyWithValue('comment', comment);
    item.updatePropertyWithValue('dtstamp', ICAL.Time.fromJSDate(new Date(), true));
  }
  return serialize(root);
}

/** The stored object with one attendee's status changed (and its SCHEDULE-STATUS, if given). */
export function withPartStat(data: string, attendee: string, partStat: PartStat, scheduleStatus?: string): string {
  const root = parseCalendar(data);
  for (const item of items(root)) {
    for (const property of item.getAllProperties('attendee')) {
      if (calendarAddress(property.getFirstValue()) !== attendee) continue;
      property.setParameter('partstat', partStat);
      if (scheduleStatus) property.setParameter('schedule-status', scheduleStatus);
    }
  }
  return serialize(root);
}

export interface DeliveryResult {
  /** SCHEDULE-STATUS (RFC 6638 §3.2.9): 1.1 sent by mail, 1.2 delivered, 3.7 invalid address. */
  status: string;
  /** The answer that came back at once (rooms and equipment). */
  partStat?: PartStat;
}

/**
 * The organizer's object with each attendee's SCHEDULE-STATUS (and immediate answer) recorded, or
 * undefined if nothing differs from what is stored.
 */
export function withDeliveryResults(data: string, results: Map<string, DeliveryResult>): string | undefined {
  const root = parseCalendar(data);
  let changed = false;
  for (const item of items(root)) {
    for (const property of item.getAllProperties('attendee')) {
      const result = results.get(calendarAddress(property.getFirstValue()) ?? '');
      if (!result) continue;
      if (property.getParameter('schedule-status') !== result.status) {
        property.setParameter('schedule-status', result.status);
        changed = true;
      }
      if (result.partStat && String(property.getParameter('partstat') ?? '').toUpperCase() !== result.partStat) {
        property.setParameter('partstat', result.partStat);
        changed = true;
      }
    }
  }
  return changed ? serialize(root) : undefined;
}

/** Copies one attendee's status from an older version of the object into a newer one. */
export function keepPartStat(data: string, attendee: string, previous: CalendarObject | undefined): string {
  const status = previous && partStatOf(previous, attendee);
  return status && status !== 'NEEDS-ACTION' ? withPartStat(data, attendee, status) : data;
}

/** The calendar data of an iTIP message as a stored object: METHOD removed. */
export function withoutMethod(data: string): string {
  const root = parseCalendar(data);
  root.removeAllProperties('method');
  return serialize(root);
}

/** The object marked cancelled (what an attendee keeps after the organizer cancels). */
export function cancelled(data: string): string {
  const root = parseCalendar(data);
  for (const item of items(root)) item.updatePropertyWithValue('status', 'CANCELLED');
  return serialize(root);
}

/** METHOD of iTIP calendar text, upper case. */
export function methodOf(root: ICAL.Component): string {
  return String(root.getFirstPropertyValue('method') ?? '').toUpperCase();
}
