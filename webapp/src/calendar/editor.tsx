// The event editor: a new event, or one that exists — the whole series or one instance of it.
// Writes go through CalDAV with the ETag read when the event was opened (If-Match), so a change made
// elsewhere meanwhile is reported, never overwritten. Meetings: attendees typed with completion from
// the tenant's directory (/mail/api/directory), each one's free/busy for the day (the scheduling
// outbox), a room finder (/mail/api/rooms with the rooms' free/busy for the chosen time), the
// attendees' answers as the organizer's copy records them, and Accept / Tentative / Decline for
// the user's own invitations (their copy stored with the new PARTSTAT; the server tells the organizer).
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { mailApi, type Me, SignedOut } from '../jmap.ts';
import type { Busy, CalDav, Calendar, Resource } from './caldav.ts';
import {
  type Attendee,
  type EventForm,
  formOf,
  formProblem,
  formSpan,
  newEventData,
  type Occurrence,
  type Repeat,
  updateInstance,
  updateSeries,
  weekdayCodes,
  withAnswer,
  withoutInstance,
} from './ics.ts';
import { addDays, allZones, clockOf, dayStart, pad, weekdayOf } from './zoned-time.ts';

export type EditorTarget =
  | { kind: 'new'; day: string; hour?: number; calendars: Calendar[] }
  | { kind: 'existing'; occurrence: Occurrence; calendar: Calendar };

const answerNames: Record<string, string> = {
  ACCEPTED: 'Accepted',
  DECLINED: 'Declined',
  TENTATIVE: 'Tentative',
  'NEEDS-ACTION': 'No answer yet',
  DELEGATED: 'Delegated',
};

function blankForm(day: string, hour: number | undefined, zone: string): EventForm {
  const h = hour ?? 9;
  const endHour = Math.min(h + 1, 23);
  return {
    title: '',
    allDay: false,
    startDay: day,
    startTime: `${pad(h)}:00`,
    endDay: day,
    endTime: endHour === h ? '23:59' : `${pad(endHour)}:00`,
    timeZone: zone,
    location: '',
    description: '',
    repeat: 'none',
    weekdays: [weekdayCodes[weekdayOf(day)]!],
    ends: 'never',
    until: addDays(day, 30),
    count: 10,
    attendees: [],
  };
}

export function EventEditor(props: {
  dav: CalDav;
  me: Me;
  target: EditorTarget;
  zone: string;
  guard<T>(action: () => Promise<T>): Promise<T | undefined>;
  /** Closed; `changed` says what was done (shown in the status line) when something was saved. */
  onClose(changed?: string): void;
}) {
  const { dav, target, me } = props;
  const existing = target.kind === 'existing' ? target : null;
  const [resource, setResource] = useState<Resource | null>(null);
  const [recurs, setRecurs] = useState(false);
  const [scope, setScope] = useState<'instance' | 'series'>('instance');
  const [form, setForm] = useState<EventForm | null>(
    target.kind === 'new' ? blankForm(target.day, target.hour, props.zone) : null,
  );
  const [calendarHref, setCalendarHref] = useState(
    target.kind === 'new' ? target.calendars[0]!.href : target.calendar.href,
  );
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const titleInput = useRef<HTMLInputElement>(null);
  const dialog = useRef<HTMLFormElement>(null);
  // Focus into the dialog (the title of a new event); Escape closes it wherever the focus is. A layout
  // effect, so the listener is there as soon as the dialog is shown, not a frame later.
  useLayoutEffect(() => {
    if (!existing) titleInput.current?.focus();
    const onEscape = (e: KeyboardEvent) => {
      if (e.key === 'Escape') props.onClose();
    };
    document.addEventListener('keydown', onEscape);
    return () => document.removeEventListener('keydown', onEscape);
  }, []);
  useEffect(() => {
    if (existing && form && !dialog.current?.contains(document.activeElement)) dialog.current?.focus();
  }, [!!form]);

  // An existing event: its stored object (and ETag) as it is now, the form from it.
  useEffect(() => {
    if (!existing) return;
    props.guard(async () => {
      const got = await dav.get(existing.occurrence.href);
      setResource(got);
      const read = formOf(got.data, existing.occurrence.recurrenceId ? existing.occurrence : null, props.zone);
      setRecurs(read.recurs);
      setForm(read.form);
    });
  }, []);
  useEffect(() => {
    if (!resource || !existing?.occurrence.recurrenceId) return;
    setForm(formOf(resource.data, scope === 'instance' ? existing.occurrence : null, props.zone).form);
  }, [scope]);

  const organizer = existing?.occurrence.organizer ?? null;
  const invited = !!existing?.occurrence.myPartstat;
  const readOnly = (existing && !existing.calendar.writable) || invited;
  const instanceOnly = !!existing && recurs && scope === 'instance';

  const run = async (action: () => Promise<string>) => {
    setBusy(true);
    setError('');
    try {
      props.onClose(await action());
    } catch (e) {
      if (e instanceof SignedOut) return props.guard(() => Promise.reject(e));
      setError((e as Error).message);
      setBusy(false);
    }
  };

  const save = (event: Event) => {
    event.preventDefault();
    if (!form) return;
    const problem = formProblem(form);
    if (problem) return setError(problem);
    run(async () => {
      if (!existing) {
        const uid = crypto.randomUUID();
        await dav.put(`${calendarHref}${uid}.ics`, newEventData(form, me.address, uid));
        return `Saved "${form.title.trim()}"`;
      }
      const data =
        instanceOnly && existing.occurrence.recurrenceId
          ? updateInstance(resource!.data, existing.occurrence.recurrenceId, form, me.address)
          : updateSeries(resource!.data, form, me.address);
      await dav.put(resource!.href, data, resource!.etag);
      return `Saved "${form.title.trim()}"`;
    });
  };

  const remove = () =>
    run(async () => {
      if (!existing || !resource) return '';
      if (instanceOnly && existing.occurrence.recurrenceId) {
        await dav.put(resource.href, withoutInstance(resource.data, existing.occurrence.recurrenceId), resource.etag);
        return 'Deleted this event of the series';
      }
      await dav.remove(resource.href, resource.etag);
      return invited ? 'Declined and removed the invitation' : 'Deleted the event';
    });

  const answer = (partstat: string) =>
    run(async () => {
      if (!resource) return '';
      await dav.put(resource.href, withAnswer(resource.data, me.address, partstat), resource.etag);
      return `Answered: ${answerNames[partstat]}`;
    });

  if (!form)
    return (
      <div class="editor-backdrop">
        <div class="editor" role="dialog" aria-modal="true" aria-label="Event">
          <p class="loading">Loading…</p>
        </div>
      </div>
    );
  const set = <K extends keyof EventForm>(key: K, value: EventForm[K]) => setForm({ ...form, [key]: value });
  const field = (key: 'title' | 'location' | 'startDay' | 'endDay' | 'startTime' | 'endTime' | 'until') => ({
    value: form[key],
    disabled: readOnly,
    onInput: (e: Event) => set(key, (e.target as HTMLInputElement).value),
  });
  const title = existing ? (readOnly ? 'Event' : 'Edit event') : 'New event';
  return (
    <div class="editor-backdrop" role="dialog" aria-modal="true" aria-labelledby="editor-title">
      <form class="editor" onSubmit={save} ref={dialog} tabIndex={-1}>
        <h2 id="editor-title">{title}</h2>
        {invited && (
          <fieldset class="answer">
            <legend class="visually-hidden">Your answer</legend>
            <p>
              {organizer ? `${organizer} invited you.` : 'You are invited.'} Your answer:{' '}
              <strong class="my-answer">
                {answerNames[existing!.occurrence.myPartstat!] ?? existing!.occurrence.myPartstat}
              </strong>
            </p>
            {existing!.calendar.writable && (
              <>
                <button type="button" class="primary" disabled={busy || !resource} onClick={() => answer('ACCEPTED')}>
                  Accept
                </button>
                <button type="button" disabled={busy || !resource} onClick={() => answer('TENTATIVE')}>
                  Tentative
                </button>
                <button type="button" disabled={busy || !resource} onClick={() => answer('DECLINED')}>
                  Decline
                </button>
              </>
            )}
          </fieldset>
        )}
        {existing && recurs && existing.occurrence.recurrenceId && (
          <fieldset class="scope">
            <legend>This event repeats. Change or delete</legend>
            <label>
              <input type="radio" name="scope" checked={scope === 'instance'} onChange={() => setScope('instance')} />{' '}
              This event only
            </label>
            <label>
              <input type="radio" name="scope" checked={scope === 'series'} onChange={() => setScope('series')} /> All
              events in the series
            </label>
          </fieldset>
        )}
        <label>
          Title
          <input name="title" required maxLength={500} {...field('title')} ref={titleInput} />
        </label>
        {!existing && target.kind === 'new' && target.calendars.length > 1 && (
          <label>
            Calendar
            <select value={calendarHref} onChange={(e) => setCalendarHref((e.target as HTMLSelectElement).value)}>
              {target.calendars.map((c) => (
                <option key={c.href} value={c.href}>
                  {c.name}
                </option>
              ))}
            </select>
          </label>
        )}
        <label class="inline">
          <input
            type="checkbox"
            checked={form.allDay}
            disabled={readOnly}
            onChange={(e) => set('allDay', (e.target as HTMLInputElement).checked)}
          />{' '}
          All day
        </label>
        <div class="when">
          <label>
            Starts
            <input type="date" name="start-day" {...field('startDay')} />
          </label>
          {!form.allDay && (
            <label>
              at
              <input type="time" name="start-time" {...field('startTime')} />
            </label>
          )}
          <label>
            Ends
            <input type="date" name="end-day" {...field('endDay')} />
          </label>
          {!form.allDay && (
            <label>
              at
              <input type="time" name="end-time" {...field('endTime')} />
            </label>
          )}
        </div>
        {!form.allDay && (
          <label>
            Time zone
            <select
              name="time-zone"
              value={form.timeZone}
              disabled={readOnly}
              onChange={(e) => set('timeZone', (e.target as HTMLSelectElement).value)}
            >
              {allZones().map((z) => (
                <option key={z} value={z}>
                  {z}
                </option>
              ))}
            </select>
          </label>
        )}
        <label>
          Location
          <input name="location" maxLength={500} {...field('location')} />
        </label>
        <label>
          Description
          <textarea
            name="description"
            rows={3}
            value={form.description}
            disabled={readOnly}
            onInput={(e) => set('description', (e.target as HTMLTextAreaElement).value)}
          />
        </label>
        {!instanceOnly && !readOnly && <RepeatFields form={form} set={set} />}
        {!instanceOnly && readOnly && form.repeat !== 'none' && <p class="repeat-summary">Repeats {form.repeat}</p>}
        <Attendees
          dav={dav}
          me={me}
          form={form}
          readOnly={!!readOnly || instanceOnly}
          organizer={organizer}
          set={set}
          zone={props.zone}
        />
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <div class="actions">
          {!readOnly && (
            <button type="submit" class="primary" disabled={busy}>
              Save
            </button>
          )}
          {existing && (existing.calendar.writable || invited) && (
            <button type="button" disabled={busy || !resource} onClick={remove}>
              {instanceOnly ? 'Delete this event' : 'Delete'}
            </button>
          )}
          <button type="button" onClick={() => props.onClose()}>
            {readOnly ? 'Close' : 'Cancel'}
          </button>
        </div>
      </form>
    </div>
  );
}

function RepeatFields(props: { form: EventForm; set<K extends keyof EventForm>(key: K, value: EventForm[K]): void }) {
  const { form, set } = props;
  return (
    <fieldset class="repeat">
      <legend>Repeat</legend>
      <select
        aria-label="Repeat"
        name="repeat"
        value={form.repeat}
        onChange={(e) => set('repeat', (e.target as HTMLSelectElement).value as Repeat)}
      >
        <option value="none">Does not repeat</option>
        <option value="daily">Every day</option>
        <option value="weekly">Every week</option>
        <option value="monthly">Every month</option>
        <option value="yearly">Every year</option>
      </select>
      {form.repeat === 'weekly' && (
        <fieldset class="weekdays">
          <legend>On days</legend>
          {weekdayCodes.map((code) => (
            <label key={code} class="inline">
              <input
                type="checkbox"
                checked={form.weekdays.includes(code)}
                onChange={(e) =>
                  set(
                    'weekdays',
                    (e.target as HTMLInputElement).checked
                      ? [...form.weekdays, code]
                      : form.weekdays.filter((d) => d !== code),
                  )
                }
              />
              {code}
            </label>
          ))}
        </fieldset>
      )}
      {form.repeat !== 'none' && (
        <div class="ends">
          <select
            aria-label="Repeat ends"
            name="ends"
            value={form.ends}
            onChange={(e) => set('ends', (e.target as HTMLSelectElement).value as EventForm['ends'])}
          >
            <option value="never">Forever</option>
            <option value="until">Until</option>
            <option value="count">A number of times</option>
          </select>
          {form.ends === 'until' && (
            <input
              type="date"
              aria-label="Until"
              name="until"
              value={form.until}
              onInput={(e) => set('until', (e.target as HTMLInputElement).value)}
            />
          )}
          {form.ends === 'count' && (
            <input
              type="number"
              aria-label="Times"
              name="count"
              min={1}
              max={1000}
              value={form.count}
              onInput={(e) => set('count', Number((e.target as HTMLInputElement).value))}
            />
          )}
        </div>
      )}
    </fieldset>
  );
}

interface Person {
  address: string;
  name: string | null;
  kind: string;
}
interface Room {
  address: string;
  name: string | null;
  /** Seats, when the room's administrators said. */
  capacity: number | null;
  /** False: the room's managers answer invitations themselves. */
  autoAccept: boolean;
}

function Attendees(props: {
  dav: CalDav;
  me: Me;
  form: EventForm;
  readOnly: boolean;
  organizer: string | null;
  zone: string;
  set<K extends keyof EventForm>(key: K, value: EventForm[K]): void;
}) {
  const { form, dav } = props;
  const [typed, setTyped] = useState('');
  const [suggestions, setSuggestions] = useState<Person[]>([]);
  const [freeBusy, setFreeBusy] = useState<Map<string, Busy[] | undefined>>(new Map());
  const [rooms, setRooms] = useState<(Room & { free: boolean | undefined })[] | null>(null);
  const [problem, setProblem] = useState('');
  const [seats, setSeats] = useState('');
  const others = form.attendees.filter((a) => a.address !== props.me.address.toLowerCase());
  const { start, end } = useMemo(
    () => formSpan(form),
    [form.startDay, form.startTime, form.endDay, form.endTime, form.allDay, form.timeZone],
  );
  // The day shown in the free/busy rows: the event's first day, in the calendar's time zone.
  const dayFrom = dayStart(form.startDay, props.zone);
  const dayTo = dayStart(addDays(form.startDay, 1), props.zone);

  useEffect(() => {
    const text = typed.trim();
    if (!text || text.includes(',')) return setSuggestions([]);
    const timer = setTimeout(() => {
      mailApi(props.me, 'GET', `directory?q=${encodeURIComponent(text.slice(0, 100))}`)
        .then((answer: { people: Person[] }) => setSuggestions(answer.people))
        .catch(() => setSuggestions([]));
    }, 150);
    return () => clearTimeout(timer);
  }, [typed]);

  const addresses = [props.me.address.toLowerCase(), ...others.map((a) => a.address)];
  useEffect(() => {
    if (!others.length) return setFreeBusy(new Map());
    let current = true;
    dav
      .freeBusy(addresses, dayFrom, dayTo)
      .then((found) => current && setFreeBusy(found))
      .catch((e: Error) => current && setProblem(e.message));
    return () => {
      current = false;
    };
  }, [addresses.join(','), dayFrom]);

  const add = (person: { address: string; name: string | null; kind?: string }) => {
    const address = person.address.trim().toLowerCase();
    if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(address)) return setProblem(`"${person.address}" is not an email address`);
    setProblem('');
    setTyped('');
    setSuggestions([]);
    if (form.attendees.some((a) => a.address === address)) return;
    const cutype = person.kind === 'room' ? 'ROOM' : person.kind === 'equipment' ? 'RESOURCE' : 'INDIVIDUAL';
    props.set('attendees', [...form.attendees, { address, name: person.name, partstat: 'NEEDS-ACTION', cutype }]);
  };
  const addTyped = () => {
    const text = typed.trim();
    if (!text) return;
    const match = suggestions.find(
      (s) => s.address === text.toLowerCase() || s.name?.toLowerCase() === text.toLowerCase(),
    );
    add(match ?? { address: text, name: null });
  };

  const findRooms = async () => {
    setProblem('');
    try {
      const wanted = seats.trim();
      const answer: { rooms: Room[] } = await mailApi(
        props.me,
        'GET',
        wanted ? `rooms?seats=${encodeURIComponent(wanted)}` : 'rooms',
      );
      const busy = await dav.freeBusy(
        answer.rooms.map((r) => r.address),
        start,
        Math.max(end, start + 60_000),
      );
      setRooms(
        answer.rooms.map((r) => {
          const periods = busy.get(r.address.toLowerCase());
          return { ...r, free: periods ? !periods.some((b) => b.start < end && b.end > start) : undefined };
        }),
      );
    } catch (e) {
      setProblem((e as Error).message);
    }
  };

  if (props.readOnly && !others.length) return null;
  return (
    <section class="attendees" aria-label="Attendees">
      <h3>Attendees</h3>
      {props.organizer && <p class="organizer">Organizer: {props.organizer}</p>}
      {others.length > 0 && (
        <ul class="attendee-list">
          {others.map((a: Attendee) => (
            <li key={a.address} class="attendee" data-address={a.address}>
              <span class="attendee-name">
                {a.name ? `${a.name} <${a.address}>` : a.address}
                {a.cutype === 'ROOM' ? ' (room)' : ''}
              </span>{' '}
              <span class="partstat" data-partstat={a.partstat}>
                {answerNames[a.partstat] ?? a.partstat}
              </span>
              {!props.readOnly && (
                <button
                  type="button"
                  aria-label={`Remove ${a.address}`}
                  onClick={() =>
                    props.set(
                      'attendees',
                      form.attendees.filter((x) => x.address !== a.address),
                    )
                  }
                >
                  Remove
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      {!props.readOnly && (
        <div class="add-attendee">
          <input
            type="text"
            aria-label="Invite people"
            placeholder="Invite people: name or address"
            list="directory-suggestions"
            autocomplete="off"
            value={typed}
            onInput={(e) => setTyped((e.target as HTMLInputElement).value)}
            onKeyDown={(e) => {
              if (e.key === 'Enter') {
                e.preventDefault();
                addTyped();
              }
            }}
          />
          <datalist id="directory-suggestions">
            {suggestions.map((s) => (
              <option key={s.address} value={s.address}>
                {s.name ?? s.address}
              </option>
            ))}
          </datalist>
          <button type="button" onClick={addTyped}>
            Add
          </button>
          {suggestions.length > 0 && (
            <ul class="suggestions" aria-label="Suggestions">
              {suggestions.slice(0, 6).map((s) => (
                <li key={s.address}>
                  <button type="button" class="suggestion" onClick={() => add(s)}>
                    {s.name ? `${s.name} <${s.address}>` : s.address}
                    {s.kind === 'room' ? ' (room)' : ''}
                  </button>
                </li>
              ))}
            </ul>
          )}
          <label class="inline seats">
            Seats
            <input
              type="number"
              min={1}
              max={100000}
              value={seats}
              onInput={(e) => setSeats((e.target as HTMLInputElement).value)}
            />
          </label>
          <button type="button" class="find-rooms" onClick={findRooms}>
            Find a room
          </button>
        </div>
      )}
      {problem && (
        <p class="error" role="alert">
          {problem}
        </p>
      )}
      {rooms && (
        <ul class="rooms" aria-label="Rooms">
          {rooms.length === 0 && (
            <li>{seats.trim() ? `No room is known to seat ${seats.trim()}` : 'This organisation has no rooms'}</li>
          )}
          {rooms.map((r) => (
            <li key={r.address} class="room" data-address={r.address}>
              <span>{r.name ?? r.address}</span>
              {r.capacity !== null && <span class="capacity"> {r.capacity} seats</span>}
              {!r.autoAccept && <span class="approval"> (its managers answer)</span>}
              <span class={`availability ${r.free ? 'free' : 'busy'}`}>
                {r.free === undefined ? ' unknown' : r.free ? ' Free' : ' Busy'}
              </span>
              {!form.attendees.some((a) => a.address === r.address.toLowerCase()) && (
                <button type="button" onClick={() => add({ address: r.address, name: r.name, kind: 'room' })}>
                  Add {r.name ?? r.address}
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      {others.length > 0 && (
        <section class="freebusy" aria-label={`Availability on ${form.startDay}`}>
          <p class="freebusy-title">Availability on {form.startDay}</p>
          {addresses.map((address) => {
            const periods = freeBusy.get(address);
            return (
              <div key={address} class="freebusy-row" data-address={address}>
                <span class="who">{address === props.me.address.toLowerCase() ? 'You' : address}</span>
                <div class="bar">
                  {!form.allDay && start < dayTo && end > dayFrom && (
                    <span
                      class="proposed"
                      style={{
                        left: `${((Math.max(start, dayFrom) - dayFrom) / (dayTo - dayFrom)) * 100}%`,
                        width: `${((Math.min(end, dayTo) - Math.max(start, dayFrom)) / (dayTo - dayFrom)) * 100}%`,
                      }}
                    />
                  )}
                  {(periods ?? []).map((b) => (
                    <span
                      key={`${b.start}`}
                      class={`busy ${b.type.toLowerCase()}`}
                      title={`Busy ${clockOf(b.start, props.zone)}–${clockOf(b.end, props.zone)}`}
                      style={{
                        left: `${((Math.max(b.start, dayFrom) - dayFrom) / (dayTo - dayFrom)) * 100}%`,
                        width: `${((Math.min(b.end, dayTo) - Math.max(b.start, dayFrom)) / (dayTo - dayFrom)) * 100}%`,
                      }}
                    >
                      <span class="visually-hidden">
                        Busy {clockOf(b.start, props.zone)}–{clockOf(b.end, props.zone)}
                      </span>
                    </span>
                  ))}
                </div>
                {freeBusy.size > 0 && periods === undefined && <span class="unknown"> no calendar here</span>}
                {periods && periods.length === 0 && <span class="free-all-day"> free all day</span>}
              </div>
            );
          })}
        </section>
      )}
    </section>
  );
}
