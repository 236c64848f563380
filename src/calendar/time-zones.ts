// Time zones of an iCalendar object. A TZID is resolved from the object's own VTIMEZONE when it has
// one (RFC 5545); otherwise, if it names an IANA zone, from the zone database Node carries (many
// clients leave VTIMEZONE out, RFC 7809). A TZID that is neither is refused by the caller.
import ICAL from 'ical.js';

const dayMs = 86_400_000;
/** Days remembered per zone: some 270 years of daily events; beyond, the memory starts again. */
const steadyDaysKept = 100_000;

/**
 * A zone that knows its offset at each instant, shaped as the ical.js Timezone that Time.toUnixTime
 * asks for the offset at a wall-clock time. RFC 5545 §3.3.5: a wall time that occurs twice is the
 * first of them, and one skipped by a change (spring forward) is read with the offset before the
 * change. ical.js's own VTIMEZONE zones answer the later offset for both.
 */
abstract class WallClockZone extends ICAL.Timezone {
  /** Seconds east of UTC at an instant (epoch ms). */
  protected abstract offsetAt(instant: number): number;

  /**
   * Offsets of whole wall-clock days with no change inside them, by day number. Asking Intl costs
   * about 30 µs, and a recurring event asks for every instance; zones change offset a few times a year.
   */
  private readonly steadyDays = new Map<number, number>();

  override utcOffset(tt: ICAL.Time): number {
    const wall = Date.UTC(tt.year, tt.month - 1, tt.day, tt.hour, tt.minute, tt.second);
    const day = Math.floor(wall / dayMs);
    const steady = this.steadyDays.get(day);
    if (steady !== undefined) return steady;
    // Offsets lie within a day of UTC, so the instants a day before and after the wall day bracket it.
    const before = this.offsetAt(day * dayMs - dayMs);
    const after = this.offsetAt(day * dayMs + 2 * dayMs);
    if (before === after) {
      if (this.steadyDays.size >= steadyDaysKept) this.steadyDays.clear();
      this.steadyDays.set(day, before);
      return before;
    }
    // The offset changes near this day. Read with the earlier offset, the wall time is either still
    // before the change (the first of a repeated time too), or after it: then it is either a real time
    // of the later offset, or none at all (in the gap) and keeps the earlier offset.
    if (this.offsetAt(wall - before * 1000) === before) return before;
    return this.offsetAt(wall - after * 1000) === after ? after : before;
  }
}

/** An IANA zone answered from Intl. */
class IanaTimezone extends WallClockZone {
  private readonly format: Intl.DateTimeFormat;

  constructor(tzid: string) {
    super({ tzid });
    this.format = new Intl.DateTimeFormat('en-US', {
      timeZone: tzid,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  }

  protected offsetAt(instant: number): number {
    const parts = Object.fromEntries(this.format.formatToParts(new Date(instant)).map((p) => [p.type, p.value]));
    const asUtc = Date.UTC(
      Number(parts.year),
      Number(parts.month) - 1,
      Number(parts.day),
      Number(parts.hour),
      Number(parts.minute),
      Number(parts.second),
    );
    return Math.round((asUtc - Math.floor(instant / 1000) * 1000) / 1000);
  }
}

/** What ical.js 2.2.1 keeps of a VTIMEZONE: its changes of offset, at UTC times, in order. */
interface ZoneChanges {
  changes: {
    year: number;
    month: number;
    day: number;
    hour: number;
    minute: number;
    second: number;
    utcOffset: number;
    prevUtcOffset: number;
  }[];
  _ensureCoverage(year: number): void;
}

/** A zone the object defines (VTIMEZONE), its changes computed by ical.js. */
class DefinedTimezone extends WallClockZone {
  protected offsetAt(instant: number): number {
    const zone = this as unknown as ZoneChanges;
    zone._ensureCoverage(new Date(instant).getUTCFullYear() + 1);
    const { changes } = zone;
    const at = (i: number) => {
      const c = changes[i]!;
      return Date.UTC(c.year, c.month - 1, c.day, c.hour, c.minute, c.second);
    };
    // The first change after the instant; the one before it is in effect.
    let low = 0;
    let high = changes.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (at(middle) <= instant) low = middle + 1;
      else high = middle;
    }
    return low > 0 ? changes[low - 1]!.utcOffset : (changes[0]?.prevUtcOffset ?? 0);
  }
}

const ianaZones = new Map<string, IanaTimezone | null>();

/** The IANA zone of that name, or undefined if Node's zone database does not know it. */
export function ianaZone(tzid: string): ICAL.Timezone | undefined {
  if (!ianaZones.has(tzid)) {
    let zone: IanaTimezone | null = null;
    try {
      zone = new IanaTimezone(tzid);
    } catch {
      zone = null; // RangeError: not a zone Intl knows
    }
    ianaZones.set(tzid, zone);
  }
  return ianaZones.get(tzid) ?? undefined;
}

interface ZoneCache {
  _timezoneCache: Map<string, ICAL.Timezone> | null;
}

/**
 * Makes every TZID the object uses resolvable before its times are read. Returns the TZIDs that are
 * neither defined in the object nor IANA names.
 */
export function resolveTimezones(root: ICAL.Component): string[] {
  const defined = new Map(
    root.getAllSubcomponents('vtimezone').map((z) => [String(z.getFirstPropertyValue('tzid')), z]),
  );
  const unknown: string[] = [];
  const cache = root as unknown as ZoneCache;
  cache._timezoneCache ??= new Map();
  for (const tzid of usedTzids(root)) {
    if (cache._timezoneCache.has(tzid)) continue;
    const definition = defined.get(tzid);
    if (definition) {
      cache._timezoneCache.set(tzid, new DefinedTimezone({ component: definition, tzid }));
      continue;
    }
    const zone = ianaZone(tzid);
    if (zone) cache._timezoneCache.set(tzid, zone);
    else unknown.push(tzid);
  }
  return unknown;
}

function usedTzids(component: ICAL.Component, found = new Set<string>()): Set<string> {
  if (component.name === 'vtimezone') return found;
  for (const property of component.getAllProperties()) {
    const tzid = property.getParameter('tzid');
    if (typeof tzid === 'string') found.add(tzid);
  }
  for (const child of component.getAllSubcomponents()) usedTzids(child, found);
  return found;
}
