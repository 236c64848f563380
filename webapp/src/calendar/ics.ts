// Events in iCalendar, with ical.js: the instances the server expanded (for the views), the stored
// object read into the editor's form, and the form written back — a new event, the whole series,
// one instance (an override with RECURRENCE-ID, or an EXDATE to delete it), attendees and the
// user's own answer (PARTSTAT). Times are written with the event's IANA zone as TZID (the server
// knows IANA names without a VTIMEZONE), all-day events as dates.
import ICAL from 'ical.js';
import { addDays, dayKey, instantOf, isZone, pad, parseDay, wallOf } from './zoned-time.ts';

/** A busy period of a free/busy answer. */
export interface Busy {
  start: number;
  end: number;
  /** BUSY, BUSY-TENTATIVE, BUSY-UNAVAILABLE. */
  type: string;
}

export interface Attendee {
  address: string;
  name: string | null;
  partstat: string;
  /** INDIVIDUAL, ROOM, RESOURCE, … */
  cutype: string;
}

/** One instance as the views show it. */
export interface Occurrence {
  key: string;
  href: string;
  etag: string;
  calendarHref: string;
  uid: string;
  title: string;
  location: string;
  description: string;
  allDay: boolean;
  /** Instants (all-day: the first instant of the dates in UTC, see startDay/endDay). */
  start: number;
  end: number;
  /** All-day: the first day and the day after the last. */
  startDay: string;
  endDay: string;
  /** The instance's RECURRENCE-ID as the server expanded it (UTC or a date), when the event recurs. */
  recurrenceId: string | null;
  organizer: string | null;
  attendees: Attendee[];
  /** The user's own answer when they are invited (not the organizer). */
  myPartstat: string | null;
  cancelled: boolean;
}

const mailto = (value: unknown) =>
  String(value ?? '')
    .replace(/^mailto:/i, '')
    .trim()
    .toLowerCase();

function attendeesOf(event: ICAL.Component): Attendee[] {
  return event.getAllProperties('attendee').map((p) => ({
    address: mailto(p.getFirstValue()),
    name: (p.getParameter('cn') as string | undefined) ?? null,
    partstat: String(p.getParameter('partstat') ?? 'NEEDS-ACTION').toUpperCase(),
    cutype: String(p.getParameter('cutype') ?? 'INDIVIDUAL').toUpperCase(),
  }));
}

const textOf = (event: ICAL.Component, name: string) => String(event.getFirstPropertyValue(name) ?? '');

/** The instances in an expanded object (calendar-query with `expand`). */
export function occurrencesOf(
  resource: { href: string; etag: string; data: string },
  calendarHref: string,
  me: string,
): Occurrence[] {
  const root = new ICAL.Component(ICAL.parse(resource.data) as unknown[]);
  return root.getAllSubcomponents('vevent').flatMap((event) => {
    const start = event.getFirstPropertyValue('dtstart') as ICAL.Time | null;
    if (!start) return [];
    const endValue = event.getFirstPropertyValue('dtend') as ICAL.Time | null;
    const allDay = start.isDate;
    const startMs = allDay ? Date.UTC(start.year, start.month - 1, start.day) : start.toJSDate().getTime();
    let endMs = endValue
      ? allDay
        ? Date.UTC(endValue.year, endValue.month - 1, endValue.day)
        : endValue.toJSDate().getTime()
      : startMs;
    if (allDay && endMs <= startMs) endMs = startMs + 86_400_000;
    const startDay = dayKey(start);
    const endDay = allDay && endValue ? dayKey(endValue) : addDays(startDay, 1);
    const recurrence = event.getFirstProperty('recurrence-id');
    const organizer = event.getFirstPropertyValue('organizer');
    const attendees = attendeesOf(event);
    const mine = attendees.find((a) => a.address === me.toLowerCase());
    const organizerAddress = organizer ? mailto(organizer) : null;
    return [
      {
        key: `${resource.href}#${recurrence ? String(recurrence.getFirstValue()) : ''}`,
        href: resource.href,
        etag: resource.etag,
        calendarHref,
        uid: textOf(event, 'uid'),
        title: textOf(event, 'summary'),
        location: textOf(event, 'location'),
        description: textOf(event, 'description'),
        allDay,
        start: startMs,
        end: Math.max(endMs, startMs),
        startDay,
        endDay: endDay > startDay ? endDay : addDays(startDay, 1),
        recurrenceId: recurrence ? String(recurrence.getFirstValue()) : null,
        organizer: organizerAddress,
        attendees,
        myPartstat: mine && organizerAddress !== me.toLowerCase() ? mine.partstat : null,
        cancelled: textOf(event, 'status').toUpperCase() === 'CANCELLED',
      },
    ];
  });
}

/** Busy periods in a free/busy answer (VFREEBUSY with FREEBUSY properties). */
export function busyPeriods(data: string): Busy[] {
  const root = new ICAL.Component(ICAL.parse(data) as unknown[]);
  const busy: Busy[] = [];
  for (const fb of root.getAllSubcomponents('vfreebusy'))
    for (const property of fb.getAllProperties('freebusy')) {
      const type = String(property.getParameter('fbtype') ?? 'BUSY').toUpperCase();
      if (type === 'FREE') continue;
      for (const value of property.getValues() as ICAL.Period[])
        busy.push({ start: value.start.toJSDate().getTime(), end: value.getEnd().toJSDate().getTime(), type });
    }
  return busy;
}

// The editor's form ------------------------------------------------------------------------------

export type Repeat = 'none' | 'daily' | 'weekly' | 'monthly' | 'yearly';
export const weekdayCodes = ['MO', 'TU', 'WE', 'TH', 'FR', 'SA', 'SU'];

export interface EventForm {
  title: string;
  allDay: boolean;
  startDay: string;
  startTime: string;
  endDay: string;
  endTime: string;
  timeZone: string;
  location: string;
  description: string;
  repeat: Repeat;
  weekdays: string[];
  ends: 'never' | 'until' | 'count';
  until: string;
  count: number;
  attendees: Attendee[];
  /** The repeat fields as read from a stored series: while they are unchanged its own RRULE is kept as it is. */
  readRepeat?: string;
}

/** The repeat fields of a form, to tell whether the user changed them. */
const repeatOf = (form: EventForm) =>
  JSON.stringify([
    form.repeat,
    form.weekdays.slice().sort(),
    form.ends,
    form.until,
    form.count,
    form.allDay,
    form.timeZone,
  ]);

/** How a stored time is written: a date, a wall time in an IANA zone, UTC, or floating. */
type TimeForm = { kind: 'date' } | { kind: 'zone'; zone: string } | { kind: 'utc' } | { kind: 'floating' };

function formOfTime(property: ICAL.Property | null): TimeForm {
  const value = property?.getFirstValue() as ICAL.Time | undefined;
  if (!value || value.isDate) return { kind: 'date' };
  const tzid = property!.getParameter('tzid') as string | undefined;
  if (tzid && isZone(tzid)) return { kind: 'zone', zone: tzid };
  if (value.zone === ICAL.Timezone.utcTimezone || String(value).endsWith('Z')) return { kind: 'utc' };
  return { kind: 'floating' };
}

/** A property line for an instant (or a date) in a given form. */
function timeLine(name: string, ms: number, form: TimeForm, extra = ''): string {
  if (form.kind === 'date') {
    const d = new Date(ms);
    return `${name}${extra};VALUE=DATE:${pad(d.getUTCFullYear(), 4)}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}`;
  }
  const zone = form.kind === 'zone' ? form.zone : 'UTC';
  const w = wallOf(ms, zone);
  const stamp = `${pad(w.year, 4)}${pad(w.month)}${pad(w.day)}T${pad(w.hour)}${pad(w.minute)}${pad(w.second)}`;
  if (form.kind === 'zone') return `${name}${extra};TZID=${form.zone}:${stamp}`;
  return `${name}${extra}:${stamp}${form.kind === 'utc' ? 'Z' : ''}`;
}

const setLine = (event: ICAL.Component, line: string) => {
  const property = ICAL.Property.fromString(line);
  event.removeAllProperties(property.name);
  event.addProperty(property);
};

function setText(event: ICAL.Component, name: string, value: string) {
  event.removeAllProperties(name);
  if (value) event.addPropertyWithValue(name, value);
}

/** The form's start and end as instants (all-day: UTC midnights of the dates, end exclusive). */
export function formSpan(form: EventForm): { start: number; end: number } {
  if (form.allDay) {
    const s = parseDay(form.startDay);
    const e = parseDay(addDays(form.endDay, 1));
    return { start: Date.UTC(s.year, s.month - 1, s.day), end: Date.UTC(e.year, e.month - 1, e.day) };
  }
  const at = (day: string, time: string) => {
    const [hour, minute] = time.split(':').map(Number);
    return instantOf({ ...parseDay(day), hour: hour ?? 0, minute: minute ?? 0, second: 0 }, form.timeZone);
  };
  return { start: at(form.startDay, form.startTime), end: at(form.endDay, form.endTime) };
}

/** Why the form cannot be saved, or null. */
export function formProblem(form: EventForm): string | null {
  if (!form.title.trim()) return 'Give the event a title';
  if (form.title.length > 500) return 'The title is longer than 500 characters';
  if (form.description.length > 20_000) return 'The description is longer than 20,000 characters';
  if (!/^\d{4}-\d{2}-\d{2}$/.test(form.startDay) || !/^\d{4}-\d{2}-\d{2}$/.test(form.endDay))
    return 'Choose the start and end dates';
  if (!form.allDay && (!/^\d{2}:\d{2}$/.test(form.startTime) || !/^\d{2}:\d{2}$/.test(form.endTime)))
    return 'Choose the start and end times';
  if (!isZone(form.timeZone)) return `${form.timeZone} is not a time zone`;
  const { start, end } = formSpan(form);
  if (form.allDay ? end <= start : end < start) return 'The event ends before it starts';
  if (form.repeat === 'weekly' && !form.weekdays.length) return 'Choose the days of the week it repeats on';
  if (form.repeat !== 'none' && form.ends === 'count' && !(form.count >= 1 && form.count <= 1000))
    return 'Repeat between 1 and 1000 times';
  if (form.repeat !== 'none' && form.ends === 'until' && !/^\d{4}-\d{2}-\d{2}$/.test(form.until))
    return 'Choose the day it repeats until';
  if (form.repeat !== 'none' && form.ends === 'until' && form.until < form.startDay)
    return 'It repeats until a day before it starts';
  return null;
}

function ruleOf(form: EventForm): string | null {
  if (form.repeat === 'none') return null;
  const parts = [`FREQ=${form.repeat.toUpperCase()}`];
  if (form.repeat === 'weekly') parts.push(`BYDAY=${weekdayCodes.filter((d) => form.weekdays.includes(d)).join(',')}`);
  if (form.ends === 'count') parts.push(`COUNT=${Math.floor(form.count)}`);
  if (form.ends === 'until') {
    if (form.allDay) parts.push(`UNTIL=${form.until.replace(/-/g, '')}`);
    else {
      const last = instantOf({ ...parseDay(form.until), hour: 23, minute: 59, second: 59 }, form.timeZone);
      parts.push(
        `UNTIL=${new Date(last)
          .toISOString()
          .replace(/[-:]/g, '')
          .replace(/\.\d{3}/, '')}`,
      );
    }
  }
  return `RRULE:${parts.join(';')}`;
}

/** Writes the form's fields into a VEVENT (its times, text, attendees; the rule when `withRule`). */
function applyForm(event: ICAL.Component, form: EventForm, me: string, withRule: boolean) {
  const { start, end } = formSpan(form);
  const timeForm: TimeForm = form.allDay ? { kind: 'date' } : { kind: 'zone', zone: form.timeZone };
  event.removeAllProperties('duration');
  setLine(event, timeLine('DTSTART', start, timeForm));
  setLine(event, timeLine('DTEND', end, timeForm));
  setText(event, 'summary', form.title.trim());
  setText(event, 'location', form.location.trim());
  setText(event, 'description', form.description);
  // A rule the form cannot say (every second week, the last Friday…) stays as it is unless the repeat was changed.
  if (withRule && !(form.readRepeat !== undefined && form.readRepeat === repeatOf(form))) {
    event.removeAllProperties('rrule');
    const rule = ruleOf(form);
    if (rule) event.addProperty(ICAL.Property.fromString(rule));
  }
  // Attendees: kept with their answers when still invited; the user organizes when there are any.
  const previous = new Map(event.getAllProperties('attendee').map((p) => [mailto(p.getFirstValue()), p]));
  event.removeAllProperties('attendee');
  const invited = form.attendees.filter((a) => a.address !== me.toLowerCase());
  if (!invited.length) {
    event.removeAllProperties('organizer');
    return;
  }
  if (!event.getFirstProperty('organizer')) event.addProperty(ICAL.Property.fromString(`ORGANIZER:mailto:${me}`));
  const organizer = mailto(event.getFirstPropertyValue('organizer'));
  if (organizer === me.toLowerCase() && !invited.some((a) => a.address === organizer)) {
    const self =
      previous.get(organizer) ?? ICAL.Property.fromString(`ATTENDEE;PARTSTAT=ACCEPTED;ROLE=CHAIR:mailto:${me}`);
    event.addProperty(self);
  }
  for (const a of invited) {
    const kept = previous.get(a.address);
    if (kept) {
      event.addProperty(kept);
      continue;
    }
    const property = new ICAL.Property('attendee');
    property.setValue(`mailto:${a.address}`);
    property.setParameter('partstat', 'NEEDS-ACTION');
    property.setParameter('role', a.cutype === 'ROOM' ? 'NON-PARTICIPANT' : 'REQ-PARTICIPANT');
    property.setParameter('cutype', a.cutype);
    property.setParameter('rsvp', 'TRUE');
    if (a.name) property.setParameter('cn', a.name);
    event.addProperty(property);
  }
}

const stampLine = () =>
  `DTSTAMP:${new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '')}`;

function serialize(root: ICAL.Component): string {
  return `${root.toString().replace(/\r?\n/g, '\r\n')}\r\n`;
}

/** A new event's object. */
export function newEventData(form: EventForm, me: string, uid: string): string {
  const root = new ICAL.Component(['vcalendar', [], []]);
  root.addPropertyWithValue('version', '2.0');
  root.addPropertyWithValue('prodid', '-//Holdfast//Web app//EN');
  const event = new ICAL.Component('vevent');
  event.addPropertyWithValue('uid', uid);
  event.addProperty(ICAL.Property.fromString(stampLine()));
  applyForm(event, form, me, true);
  root.addSubcomponent(event);
  return serialize(root);
}

const parseRoot = (data: string) => new ICAL.Component(ICAL.parse(data) as unknown[]);
const masterOf = (root: ICAL.Component) =>
  root.getAllSubcomponents('vevent').find((e) => !e.hasProperty('recurrence-id')) ??
  root.getFirstSubcomponent('vevent')!;

/** The instant (or date) a RECURRENCE-ID names, as the server expanded it. */
function recurrenceMs(value: string): number {
  const t = ICAL.Time.fromString(value, null);
  return t.isDate ? Date.UTC(t.year, t.month - 1, t.day) : t.toJSDate().getTime();
}

/** The override VEVENT for an instance, if the object has one. */
function overrideOf(root: ICAL.Component, ms: number): ICAL.Component | undefined {
  return root.getAllSubcomponents('vevent').find((e) => {
    const id = e.getFirstPropertyValue('recurrence-id') as ICAL.Time | null;
    return id && (id.isDate ? Date.UTC(id.year, id.month - 1, id.day) : id.toJSDate().getTime()) === ms;
  });
}

/** The form for a stored object: its series (`recurrenceId` null) or one of its instances. */
export function formOf(
  data: string,
  occurrence: Occurrence | null,
  displayZone: string,
): { form: EventForm; recurs: boolean } {
  const root = parseRoot(data);
  const master = masterOf(root);
  const id = occurrence?.recurrenceId ? recurrenceMs(occurrence.recurrenceId) : null;
  const event = (id !== null && overrideOf(root, id)) || master;
  const startProperty = master.getFirstProperty('dtstart');
  const timeForm = formOfTime(startProperty);
  const zone = timeForm.kind === 'zone' ? timeForm.zone : displayZone;
  const start = event.getFirstPropertyValue('dtstart') as ICAL.Time;
  const endValue = event.getFirstPropertyValue('dtend') as ICAL.Time | null;
  const allDay = start.isDate;
  let startMs = allDay ? Date.UTC(start.year, start.month - 1, start.day) : start.toJSDate().getTime();
  let endMs = endValue
    ? allDay
      ? Date.UTC(endValue.year, endValue.month - 1, endValue.day)
      : endValue.toJSDate().getTime()
    : startMs + (allDay ? 86_400_000 : 3_600_000);
  if (occurrence && event === master && occurrence.recurrenceId) {
    // An instance of the series: its own times.
    const length = endMs - startMs;
    startMs = occurrence.start;
    endMs = startMs + length;
  }
  const dayOfMs = (ms: number) =>
    allDay
      ? dayKey({
          year: new Date(ms).getUTCFullYear(),
          month: new Date(ms).getUTCMonth() + 1,
          day: new Date(ms).getUTCDate(),
        })
      : dayKey(wallOf(ms, zone));
  const clock = (ms: number) => {
    const w = wallOf(ms, zone);
    return `${pad(w.hour)}:${pad(w.minute)}`;
  };
  const rule = master.getFirstPropertyValue('rrule') as ICAL.Recur | null;
  const freq = String(rule?.freq ?? '').toLowerCase();
  const repeat: Repeat = (['daily', 'weekly', 'monthly', 'yearly'] as const).find((f) => f === freq) ?? 'none';
  const byDay = ((rule?.parts?.BYDAY as string[] | undefined) ?? []).map((d) => d.slice(-2).toUpperCase());
  const until = rule?.until
    ? dayKey(rule.until.isDate ? rule.until : wallOf(rule.until.toJSDate().getTime(), zone))
    : '';
  const form: EventForm = {
    title: textOf(event, 'summary'),
    allDay,
    startDay: dayOfMs(startMs),
    startTime: allDay ? '09:00' : clock(startMs),
    endDay: allDay ? addDays(dayOfMs(endMs), -1) : dayOfMs(endMs),
    endTime: allDay ? '10:00' : clock(endMs),
    timeZone: zone,
    location: textOf(event, 'location'),
    description: textOf(event, 'description'),
    repeat,
    weekdays: byDay.length ? byDay : [weekdayCodes[(new Date(startMs).getUTCDay() + 6) % 7]!],
    ends: rule?.count ? 'count' : rule?.until ? 'until' : 'never',
    until,
    count: rule?.count ?? 10,
    attendees: attendeesOf(event),
  };
  if (rule) form.readRepeat = repeatOf(form);
  return { recurs: !!rule || master.hasProperty('rdate'), form };
}

/** The object with the whole series changed as the form says. */
export function updateSeries(data: string, form: EventForm, me: string): string {
  const root = parseRoot(data);
  const master = masterOf(root);
  const before = (master.getFirstPropertyValue('dtstart') as ICAL.Time).toJSDate().getTime();
  applyForm(master, form, me, true);
  const after = formSpan(form).start;
  setLine(master, stampLine());
  bumpSequence(master);
  // Overrides of instances that no longer exist at their old times are dropped when the start moves.
  if (before !== after) {
    for (const e of root.getAllSubcomponents('vevent')) if (e !== master) root.removeSubcomponent(e);
    master.removeAllProperties('exdate');
  }
  return serialize(root);
}

/** The object with one instance changed: an override (RECURRENCE-ID in the series' own form). */
export function updateInstance(data: string, recurrenceId: string, form: EventForm, me: string): string {
  const root = parseRoot(data);
  const master = masterOf(root);
  const ms = recurrenceMs(recurrenceId);
  let event = overrideOf(root, ms);
  if (!event) {
    event = new ICAL.Component(ICAL.helpers.clone(master.jCal, true) as unknown[]);
    for (const name of ['rrule', 'rdate', 'exdate', 'recurrence-id']) event.removeAllProperties(name);
    event.addProperty(
      ICAL.Property.fromString(timeLine('RECURRENCE-ID', ms, formOfTime(master.getFirstProperty('dtstart')))),
    );
    root.addSubcomponent(event);
  }
  applyForm(event, form, me, false);
  setLine(event, stampLine());
  bumpSequence(event);
  return serialize(root);
}

/** The object without one instance: an EXDATE on the series, its override (if any) removed. */
export function withoutInstance(data: string, recurrenceId: string): string {
  const root = parseRoot(data);
  const master = masterOf(root);
  const ms = recurrenceMs(recurrenceId);
  const override = overrideOf(root, ms);
  if (override) root.removeSubcomponent(override);
  master.addProperty(ICAL.Property.fromString(timeLine('EXDATE', ms, formOfTime(master.getFirstProperty('dtstart')))));
  setLine(master, stampLine());
  bumpSequence(master);
  return serialize(root);
}

/** The user's own copy with their answer (PARTSTAT) on every instance they are invited to. */
export function withAnswer(data: string, me: string, partstat: string): string {
  const root = parseRoot(data);
  let found = false;
  for (const event of root.getAllSubcomponents('vevent'))
    for (const attendee of event.getAllProperties('attendee'))
      if (mailto(attendee.getFirstValue()) === me.toLowerCase()) {
        attendee.setParameter('partstat', partstat);
        attendee.removeParameter('rsvp');
        found = true;
      }
  if (!found) throw new Error('You are not among the attendees of this event');
  return serialize(root);
}

function bumpSequence(event: ICAL.Component) {
  const sequence = Number(event.getFirstPropertyValue('sequence') ?? 0);
  event.updatePropertyWithValue('sequence', sequence + 1);
}

/** The UID and METHOD of an iTIP message (an invitation mail's text/calendar part). */
export function itipOf(data: string): { uid: string; method: string } | null {
  try {
    const root = parseRoot(data);
    const event = root.getFirstSubcomponent('vevent');
    if (!event) return null;
    return { uid: textOf(event, 'uid'), method: String(root.getFirstPropertyValue('method') ?? '').toUpperCase() };
  } catch {
    return null;
  }
}
