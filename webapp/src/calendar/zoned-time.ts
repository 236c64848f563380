// Wall-clock times in an IANA time zone, with the browser's Intl (no time zone data of our own):
// what an instant reads on the clock there, and the instant a wall time there names. Days are
// 'YYYY-MM-DD' strings, counted with UTC dates so daylight-saving changes never shift them.

export interface Wall {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

const formats = new Map<string, Intl.DateTimeFormat>();
function formatOf(zone: string): Intl.DateTimeFormat {
  let format = formats.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formats.set(zone, format);
  }
  return format;
}

/** Whether the browser knows this IANA zone name. */
export function isZone(zone: string): boolean {
  try {
    formatOf(zone);
    return true;
  } catch {
    return false;
  }
}

/** The browser's own zone. */
export const browserZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

/** Every zone the browser knows, for the time zone setting. */
export function allZones(): string[] {
  const supported = (Intl as unknown as { supportedValuesOf?(key: string): string[] }).supportedValuesOf;
  const zones = supported ? supported('timeZone') : [];
  return zones.includes('UTC') ? zones : ['UTC', ...zones];
}

/** What the clock reads in `zone` at `ms`. */
export function wallOf(ms: number, zone: string): Wall {
  const parts: Record<string, number> = {};
  for (const part of formatOf(zone).formatToParts(new Date(ms)))
    if (part.type !== 'literal') parts[part.type] = Number(part.value);
  return {
    year: parts.year!,
    month: parts.month!,
    day: parts.day!,
    hour: parts.hour! % 24,
    minute: parts.minute!,
    second: parts.second!,
  };
}

const wallMs = (w: Wall) => Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);

/** The instant a wall time in `zone` names (a skipped time reads with the offset before the change). */
export function instantOf(wall: Wall, zone: string): number {
  const target = wallMs(wall);
  let guess = target;
  for (let i = 0; i < 3; i++) {
    const diff = wallMs(wallOf(guess, zone)) - target;
    if (diff === 0) return guess;
    guess -= diff;
  }
  return guess;
}

export const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** 'YYYY-MM-DD' of a wall time. */
export const dayKey = (w: { year: number; month: number; day: number }) =>
  `${pad(w.year, 4)}-${pad(w.month)}-${pad(w.day)}`;

export function parseDay(key: string): { year: number; month: number; day: number } {
  const [year, month, day] = key.split('-').map(Number);
  return { year: year!, month: month!, day: day! };
}

/** The day `n` days after `key`. */
export function addDays(key: string, n: number): string {
  const d = parseDay(key);
  const date = new Date(Date.UTC(d.year, d.month - 1, d.day + n));
  return dayKey({ year: date.getUTCFullYear(), month: date.getUTCMonth() + 1, day: date.getUTCDate() });
}

/** 0 for Monday … 6 for Sunday. */
export function weekdayOf(key: string): number {
  const d = parseDay(key);
  return (new Date(Date.UTC(d.year, d.month - 1, d.day)).getUTCDay() + 6) % 7;
}

/** The first instant of a day in `zone`. */
export const dayStart = (key: string, zone: string) =>
  instantOf({ ...parseDay(key), hour: 0, minute: 0, second: 0 }, zone);

/** 'HH:MM' of an instant in `zone`. */
export function clockOf(ms: number, zone: string): string {
  const w = wallOf(ms, zone);
  return `${pad(w.hour)}:${pad(w.minute)}`;
}

/** The day of an instant in `zone`. */
export const dayOf = (ms: number, zone: string) => dayKey(wallOf(ms, zone));

/** "Monday 7 December 2026" for a day key. */
export function longDay(key: string): string {
  const d = parseDay(key);
  return new Date(Date.UTC(d.year, d.month - 1, d.day)).toLocaleDateString('en-GB', {
    timeZone: 'UTC',
    weekday: 'long',
    day: 'numeric',
    month: 'long',
    year: 'numeric',
  });
}

/** "Mon 7" for a day key. */
export function shortDay(key: string): string {
  const d = parseDay(key);
  return new Date(Date.UTC(d.year, d.month - 1, d.day)).toLocaleDateString('en-GB', {
    timeZone: 'UTC',
    weekday: 'short',
    day: 'numeric',
  });
}

/** "December 2026" for a day key. */
export function monthTitle(key: string): string {
  const d = parseDay(key);
  return new Date(Date.UTC(d.year, d.month - 1, 1)).toLocaleDateString('en-GB', {
    timeZone: 'UTC',
    month: 'long',
    year: 'numeric',
  });
}
