// The calendar (docs/webmail.md): day, week and month views of every calendar the user has (their
// own and those shared with them, in their colours), placed by time in the chosen time zone (the
// browser's unless the user picked another), all-day events in their own row. Loaded as its own
// chunk when first opened, so the mail app's first load does not carry it (or ical.js). The view
// and day live in the address's fragment (#calendar/week/2026-12-07). Events come from CalDAV
// (caldav.ts: calendar-query with expand for the range shown) and open in the editor (editor.tsx).
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { type Me, SignedOut } from '../jmap.ts';
import { CalDav, type Calendar } from './caldav.ts';
import { EventEditor, type EditorTarget } from './editor.tsx';
import { type Occurrence, occurrencesOf } from './ics.ts';
import {
  addDays,
  allZones,
  browserZone,
  clockOf,
  dayKey,
  dayStart,
  isZone,
  longDay,
  monthTitle,
  parseDay,
  shortDay,
  wallOf,
  weekdayOf,
} from './zoned-time.ts';

export type CalendarMode = 'day' | 'week' | 'month';
export interface CalendarRoute {
  mode: CalendarMode;
  day: string;
}

/** '#calendar/week/2026-12-07' into a route (today's week when the fragment says less). */
export function routeOf(hash: string, zone: string): CalendarRoute {
  const [, mode, day] = hash.replace(/^#/, '').split('/');
  return {
    mode: mode === 'day' || mode === 'month' ? mode : 'week',
    day: day && /^\d{4}-\d{2}-\d{2}$/.test(day) ? day : dayKey(wallOf(Date.now(), zone)),
  };
}
export const hashOf = (route: CalendarRoute) => `#calendar/${route.mode}/${route.day}`;

const zoneKey = 'holdfast.calendar.timeZone';
const hiddenKey = 'holdfast.calendar.hidden';
export function chosenZone(): string {
  const saved = localStorage.getItem(zoneKey);
  return saved && isZone(saved) ? saved : browserZone();
}

/** The days a view shows. */
function daysOf(route: CalendarRoute): string[] {
  if (route.mode === 'day') return [route.day];
  if (route.mode === 'week') {
    const monday = addDays(route.day, -weekdayOf(route.day));
    return Array.from({ length: 7 }, (_, i) => addDays(monday, i));
  }
  const d = parseDay(route.day);
  const first = dayKey({ ...d, day: 1 });
  const start = addDays(first, -weekdayOf(first));
  return Array.from({ length: 42 }, (_, i) => addDays(start, i));
}

function step(route: CalendarRoute, direction: 1 | -1): string {
  if (route.mode === 'day') return addDays(route.day, direction);
  if (route.mode === 'week') return addDays(route.day, 7 * direction);
  const d = parseDay(route.day);
  const month = d.month - 1 + direction;
  return dayKey({ year: d.year + Math.floor(month / 12), month: (((month % 12) + 12) % 12) + 1, day: 1 });
}

function titleOf(route: CalendarRoute, days: string[]): string {
  if (route.mode === 'day') return longDay(route.day);
  if (route.mode === 'month') return monthTitle(route.day);
  return `${longDay(days[0]!)} – ${longDay(days[6]!)}`;
}

export function CalendarView(props: {
  me: Me;
  route: CalendarRoute;
  onNavigate(route: CalendarRoute): void;
  onSignedOut(): void;
}) {
  const dav = useMemo(() => new CalDav(props.me), [props.me]);
  const { route } = props;
  const [zone, setZone] = useState(chosenZone);
  const [calendars, setCalendars] = useState<Calendar[]>([]);
  const [calendarsRead, setCalendarsRead] = useState(false);
  const [hidden, setHidden] = useState<string[]>(() => {
    try {
      return JSON.parse(localStorage.getItem(hiddenKey) ?? '[]');
    } catch {
      return [];
    }
  });
  const [occurrences, setOccurrences] = useState<Occurrence[]>([]);
  const [status, setStatus] = useState('');
  const [loading, setLoading] = useState(true);
  /** Which range the events shown were read for: the view is busy until it is the one shown. */
  const [loadedKey, setLoadedKey] = useState('');
  const [editing, setEditing] = useState<EditorTarget | null>(null);
  const [generation, setGeneration] = useState(0);
  const days = useMemo(() => daysOf(route), [route.mode, route.day]);
  const rangeKey = `${days[0]}/${days.length}/${zone}/${generation}/${calendars.length}`;

  const guard = useCallback(
    async <T,>(action: () => Promise<T>): Promise<T | undefined> => {
      try {
        return await action();
      } catch (e) {
        if (e instanceof SignedOut) props.onSignedOut();
        else setStatus((e as Error).message);
        return undefined;
      }
    },
    [props.onSignedOut],
  );

  useEffect(() => {
    guard(async () => {
      setCalendars(await dav.calendars());
      setCalendarsRead(true);
    });
  }, [dav]);

  // The instances of the days shown (a day more on each side: all-day events are dates, not instants).
  useEffect(() => {
    if (!calendars.length) {
      if (calendarsRead) {
        setLoading(false);
        setLoadedKey(rangeKey);
      }
      return;
    }
    let current = true;
    setLoading(true);
    const start = dayStart(addDays(days[0]!, -1), zone);
    const end = dayStart(addDays(days[days.length - 1]!, 2), zone);
    guard(async () => {
      const found = await Promise.all(
        calendars.map(async (c) =>
          (await dav.expanded(c.href, start, end)).flatMap((r) => occurrencesOf(r, c.href, props.me.address)),
        ),
      );
      if (!current) return;
      setOccurrences(found.flat().sort((a, b) => a.start - b.start || a.title.localeCompare(b.title)));
      setLoadedKey(rangeKey);
    }).finally(() => current && setLoading(false));
    return () => {
      current = false;
    };
  }, [calendars, calendarsRead, days, zone, generation]);

  const colorOf = (href: string) => calendars.find((c) => c.href === href)?.color ?? '#1f5fbf';
  const shown = occurrences.filter((o) => !hidden.includes(o.calendarHref));
  const today = dayKey(wallOf(Date.now(), zone));
  const writable = calendars.filter((c) => c.writable);

  const newEvent = (day: string, hour?: number) => {
    if (!writable.length) return setStatus('You have no calendar you can add events to');
    setEditing({ kind: 'new', day, hour, calendars: writable });
  };
  const open = (o: Occurrence) => {
    const calendar = calendars.find((c) => c.href === o.calendarHref);
    if (calendar) setEditing({ kind: 'existing', occurrence: o, calendar });
  };

  // Keyboard: t today, n / p next and previous, d / w / m the views (outside text fields).
  const keys = useRef<(e: KeyboardEvent) => void>(() => {});
  keys.current = (e: KeyboardEvent) => {
    const target = e.target as HTMLElement | null;
    if (editing || e.ctrlKey || e.metaKey || e.altKey) return;
    if (target && (/^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName) || target.isContentEditable)) return;
    const go = (next: Partial<CalendarRoute>) => {
      e.preventDefault();
      props.onNavigate({ ...route, ...next });
    };
    if (e.key === 't') go({ day: today });
    else if (e.key === 'n') go({ day: step(route, 1) });
    else if (e.key === 'p') go({ day: step(route, -1) });
    else if (e.key === 'd') go({ mode: 'day' });
    else if (e.key === 'w') go({ mode: 'week' });
    else if (e.key === 'm') go({ mode: 'month' });
  };
  useEffect(() => {
    const listener = (e: KeyboardEvent) => keys.current(e);
    document.addEventListener('keydown', listener);
    return () => document.removeEventListener('keydown', listener);
  }, []);

  return (
    <div class="calendar">
      <header class="top calendar-top">
        <span class="brand">Calendar</span>
        <button type="button" class="primary" onClick={() => newEvent(route.mode === 'month' ? today : route.day)}>
          New event
        </button>
        <button type="button" aria-keyshortcuts="t" onClick={() => props.onNavigate({ ...route, day: today })}>
          Today
        </button>
        <button
          type="button"
          aria-label="Previous"
          aria-keyshortcuts="p"
          onClick={() => props.onNavigate({ ...route, day: step(route, -1) })}
        >
          ‹
        </button>
        <button
          type="button"
          aria-label="Next"
          aria-keyshortcuts="n"
          onClick={() => props.onNavigate({ ...route, day: step(route, 1) })}
        >
          ›
        </button>
        <h1 class="range-title">{titleOf(route, days)}</h1>
        <fieldset class="modes">
          <legend class="visually-hidden">View</legend>
          {(['day', 'week', 'month'] as const).map((mode) => (
            <button
              key={mode}
              type="button"
              aria-pressed={route.mode === mode}
              aria-keyshortcuts={mode[0]}
              onClick={() => props.onNavigate({ ...route, mode })}
            >
              {mode[0]!.toUpperCase() + mode.slice(1)}
            </button>
          ))}
        </fieldset>
        <p class="status" role="status">
          {status || (loading ? 'Loading…' : '')}
        </p>
      </header>
      <aside class="calendars" aria-label="Calendars">
        <h2>Calendars</h2>
        <ul>
          {calendars.map((c) => (
            <li key={c.href}>
              <label>
                <input
                  type="checkbox"
                  checked={!hidden.includes(c.href)}
                  onChange={(e) => {
                    const next = (e.target as HTMLInputElement).checked
                      ? hidden.filter((h) => h !== c.href)
                      : [...hidden, c.href];
                    setHidden(next);
                    localStorage.setItem(hiddenKey, JSON.stringify(next));
                  }}
                />
                <span class="swatch" style={{ backgroundColor: c.color }} />
                <span class="calendar-name">{c.name}</span>
              </label>
            </li>
          ))}
        </ul>
        <label class="zone-setting">
          Time zone
          <select
            value={zone}
            onChange={(e) => {
              const value = (e.target as HTMLSelectElement).value;
              localStorage.setItem(zoneKey, value);
              setZone(value);
            }}
          >
            {allZones().map((z) => (
              <option key={z} value={z}>
                {z}
                {z === browserZone() ? ' (this device)' : ''}
              </option>
            ))}
          </select>
        </label>
      </aside>
      <main class="calendar-main" aria-busy={loading || loadedKey !== rangeKey}>
        {route.mode === 'month' ? (
          <MonthGrid
            days={days}
            month={parseDay(route.day).month}
            today={today}
            occurrences={shown}
            zone={zone}
            colorOf={colorOf}
            onOpen={open}
            onDay={(day) => props.onNavigate({ mode: 'day', day })}
          />
        ) : (
          <TimeGrid
            days={days}
            today={today}
            occurrences={shown}
            zone={zone}
            colorOf={colorOf}
            onOpen={open}
            onNew={newEvent}
          />
        )}
      </main>
      {editing && (
        <EventEditor
          dav={dav}
          me={props.me}
          target={editing}
          zone={zone}
          guard={guard}
          onClose={(changed) => {
            setEditing(null);
            if (changed) {
              setStatus(changed);
              setGeneration((g) => g + 1);
            }
          }}
        />
      )}
    </div>
  );
}

/** The text of an event's button: its time (timed events) and title. */
function EventLabel(props: { o: Occurrence; zone: string; time: boolean }) {
  const { o } = props;
  return (
    <>
      {props.time && !o.allDay && <span class="event-time">{clockOf(o.start, props.zone)}</span>}
      <span class="event-title">{o.title || '(no title)'}</span>
      {o.myPartstat === 'NEEDS-ACTION' && <span class="event-flag"> (invitation)</span>}
      {o.cancelled && <span class="event-flag"> (cancelled)</span>}
    </>
  );
}

const eventClass = (o: Occurrence) =>
  `event${o.myPartstat === 'NEEDS-ACTION' ? ' invitation' : ''}${o.myPartstat === 'DECLINED' || o.cancelled ? ' declined' : ''}`;

function TimeGrid(props: {
  days: string[];
  today: string;
  occurrences: Occurrence[];
  zone: string;
  colorOf(href: string): string;
  onOpen(o: Occurrence): void;
  onNew(day: string, hour?: number): void;
}) {
  const { days, zone } = props;
  const scroller = useRef<HTMLDivElement>(null);
  useEffect(() => {
    // Start at 07:00.
    if (scroller.current) scroller.current.scrollTop = (scroller.current.scrollHeight / 24) * 7;
  }, [days.length]);
  const allDay = props.occurrences.filter((o) => o.allDay);
  const timed = props.occurrences.filter((o) => !o.allDay);
  return (
    <div class={`time-grid days-${days.length}`}>
      <div class="grid-head">
        <span class="gutter" />
        {days.map((day) => (
          <div key={day} class={`day-head${day === props.today ? ' today' : ''}`} data-day={day}>
            {shortDay(day)}
          </div>
        ))}
      </div>
      <div class="all-day-row">
        <span class="gutter">All day</span>
        {days.map((day) => (
          <ul key={day} class="all-day" data-day={day}>
            {allDay
              .filter((o) => o.startDay <= day && day < o.endDay)
              .map((o) => (
                <li key={o.key}>
                  <button
                    type="button"
                    class={eventClass(o)}
                    data-uid={o.uid}
                    style={{ borderLeftColor: props.colorOf(o.calendarHref) }}
                    onClick={() => props.onOpen(o)}
                  >
                    <EventLabel o={o} zone={zone} time={false} />
                  </button>
                </li>
              ))}
          </ul>
        ))}
      </div>
      <div class="grid-body" ref={scroller}>
        <div class="hours gutter" aria-hidden="true">
          {Array.from({ length: 24 }, (_, h) => (
            <span key={h} class="hour-label">
              {String(h).padStart(2, '0')}:00
            </span>
          ))}
        </div>
        {days.map((day) => {
          const from = dayStart(day, zone);
          const to = dayStart(addDays(day, 1), zone);
          const segments = timed
            .filter((o) => o.start < to && (o.end > from || (o.end === o.start && o.start >= from)))
            .map((o) => ({
              o,
              start: Math.max(o.start, from),
              end: Math.min(Math.max(o.end, o.start + 15 * 60_000), to),
            }));
          // Overlapping events side by side: each takes the first free lane.
          const lanes: number[] = [];
          const placed = segments.map((s) => {
            let lane = lanes.findIndex((busyUntil) => busyUntil <= s.start);
            if (lane < 0) lane = lanes.length;
            lanes[lane] = s.end;
            return { ...s, lane };
          });
          const width = 100 / Math.max(1, lanes.length);
          return (
            <div key={day} class={`day-column${day === props.today ? ' today' : ''}`} data-day={day}>
              {Array.from({ length: 24 }, (_, h) => (
                <button
                  key={h}
                  type="button"
                  class="slot"
                  tabIndex={-1}
                  aria-label={`New event ${longDay(day)} ${String(h).padStart(2, '0')}:00`}
                  onClick={() => props.onNew(day, h)}
                />
              ))}
              {placed.map(({ o, start, end, lane }) => (
                <button
                  key={o.key}
                  type="button"
                  class={`${eventClass(o)} timed`}
                  data-uid={o.uid}
                  data-start={clockOf(o.start, zone)}
                  style={{
                    top: `${((start - from) / (to - from)) * 100}%`,
                    height: `${Math.max(((end - start) / (to - from)) * 100, 1.5)}%`,
                    left: `${lane * width}%`,
                    width: `${width}%`,
                    borderLeftColor: props.colorOf(o.calendarHref),
                  }}
                  onClick={() => props.onOpen(o)}
                >
                  <EventLabel o={o} zone={zone} time />
                  {o.location && <span class="event-location">{o.location}</span>}
                </button>
              ))}
            </div>
          );
        })}
      </div>
    </div>
  );
}

function MonthGrid(props: {
  days: string[];
  month: number;
  today: string;
  occurrences: Occurrence[];
  zone: string;
  colorOf(href: string): string;
  onOpen(o: Occurrence): void;
  onDay(day: string): void;
}) {
  const { zone } = props;
  const weekdays = props.days.slice(0, 7);
  return (
    <div class="month-grid">
      {weekdays.map((d) => (
        <div key={d} class="weekday">
          {shortDay(d).split(' ')[0]}
        </div>
      ))}
      {props.days.map((day) => {
        const from = dayStart(day, zone);
        const to = dayStart(addDays(day, 1), zone);
        const here = props.occurrences.filter((o) =>
          o.allDay ? o.startDay <= day && day < o.endDay : o.start < to && (o.end > from || o.start >= from),
        );
        const visible = here.slice(0, 4);
        return (
          <div
            key={day}
            class={`month-day${parseDay(day).month === props.month ? '' : ' other-month'}${day === props.today ? ' today' : ''}`}
            data-day={day}
          >
            <button type="button" class="day-number" aria-label={longDay(day)} onClick={() => props.onDay(day)}>
              {parseDay(day).day}
            </button>
            <ul>
              {visible.map((o) => (
                <li key={o.key}>
                  <button
                    type="button"
                    class={eventClass(o)}
                    data-uid={o.uid}
                    style={{ borderLeftColor: props.colorOf(o.calendarHref) }}
                    onClick={() => props.onOpen(o)}
                  >
                    <EventLabel o={o} zone={zone} time />
                  </button>
                </li>
              ))}
            </ul>
            {here.length > visible.length && (
              <button type="button" class="more" onClick={() => props.onDay(day)}>
                {here.length - visible.length} more
              </button>
            )}
          </div>
        );
      })}
    </div>
  );
}
