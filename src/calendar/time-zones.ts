// Time zones of an iCalendar object. A TZID is resolved from the object's own VTIMEZONE when it has
// one (RFC 5545); otherwise, if it names an IANA zone, from the zone database Node carries (many
// clients leave VTIMEZONE out, RFC 7809). A TZID that is neither is refused by the caller.
import ICAL from 'ical.js';

const dayMs = 86_400_000;
/** Days remembered per zone: some 270 years of daily events; beyond, the memory starts again. */
const steadyDaysKept = 100_000;

/** An IANA zone answered from Intl, shaped as the ical.js Timezone that Time.toUnixTime asks. */
class IanaTimezone extends ICAL.Timezone {
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

  /**
   * Offsets of whole wall-clock days with no change inside them, by day number. Asking Intl costs
   * about 30 µs, and a recurring event asks for every instance; zones change offset a few times a year.
   */
  private readonly steadyDays = new Map<number, number>();

  /** Seconds east of UTC in effect at the given wall-clock time of this zone. */
  override utcOffset(tt: ICAL.Time): number {
    const wall = Date.UTC(tt.year, tt.month - 1, tt.day, tt.hour, tt.minute, tt.second);
    const day = Math.floor(wall / dayMs);
    const steady = this.steadyDays.get(day);
    if (steady !== undefined) return steady;
    // The offset at an instant is known; the instant of a wall time is not. Two rounds settle it,
    // also across a DST change (a skipped wall time takes the offset before the change).
    let offset = this.offsetAt(wall);
    offset = this.offsetAt(wall - offset * 1000);
    // Offsets lie within a day of UTC, so the instants a day before and after the wall day bracket it.
    if (this.offsetAt(day * dayMs - dayMs) === offset && this.offsetAt(day * dayMs + 2 * dayMs) === offset) {
      if (this.steadyDays.size >= steadyDaysKept) this.steadyDays.clear();
      this.steadyDays.set(day, offset);
    }
    return offset;
  }

  private offsetAt(instant: number): number {
    const parts = Object.fromEntries(this.format.formatToParts(new Date(instant)).map((p) => [p.type, p.value]));
    const asUtc = Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute), Number(parts.second));
    return Math.round((asUtc - Math.floor(instant / 1000) * 1000) / 1000);
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
  const defined = new Set(root.getAllSubcomponents('vtimezone').map((z) => String(z.getFirstPropertyValue('tzid'))));
  const unknown: string[] = [];
  const cache = root as unknown as ZoneCache;
  cache._timezoneCache ??= new Map();
  for (const tzid of usedTzids(root)) {
    if (defined.has(tzid) || cache._timezoneCache.has(tzid)) continue;
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
