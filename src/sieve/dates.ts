// The date and currentdate tests (RFC 5260): a date header field read as RFC 5322 writes it, and the
// parts of a moment seen in a zone.

const months = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const obsoleteZones: Record<string, number> = {
  ut: 0,
  gmt: 0,
  z: 0,
  est: -300,
  edt: -240,
  cst: -360,
  cdt: -300,
  mst: -420,
  mdt: -360,
  pst: -480,
  pdt: -420,
};

/** A moment and the zone it was written in (minutes east of UTC). */
export interface ZonedTime {
  ms: number;
  zoneMinutes: number;
}

/** An RFC 5322 date-time ("Sat, 05 Dec 2026 10:00:00 +0100", comments and day name optional), or undefined. */
export function parseMailDate(value: string): ZonedTime | undefined {
  const text = value
    .replace(/\([^()]*\)/g, ' ')
    .trim()
    .toLowerCase();
  const m =
    /^(?:[a-z]{3},?\s*)?(\d{1,2})\s+([a-z]{3})\s+(\d{2,4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([+-]\d{4}|[a-z]{1,3})?/.exec(
      text,
    );
  if (!m) return undefined;
  const month = months.indexOf(m[2]!);
  if (month < 0) return undefined;
  let year = Number(m[3]);
  if (m[3]!.length === 2) year += year < 50 ? 2000 : 1900;
  else if (m[3]!.length === 3) year += 1900;
  const [day, hour, minute, second] = [m[1], m[4], m[5], m[6] ?? '0'].map(Number) as [number, number, number, number];
  if (day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return undefined;
  const zone = m[7] ?? '+0000';
  let zoneMinutes: number;
  if (/^[+-]\d{4}$/.test(zone)) {
    const sign = zone[0] === '-' ? -1 : 1;
    zoneMinutes = sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3)));
  } else zoneMinutes = obsoleteZones[zone] ?? 0;
  const ms = Date.UTC(year, month, day, hour, minute, Math.min(second, 59)) - zoneMinutes * 60_000;
  return { ms, zoneMinutes };
}

export function parseZone(zone: string): number {
  const sign = zone[0] === '-' ? -1 : 1;
  return sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3, 5)));
}

/** The server's own zone at that moment, minutes east of UTC. */
export function localZone(ms: number): number {
  return -new Date(ms).getTimezoneOffset();
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');
const weekdays = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const monthNames = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function zoneText(minutes: number, colon: boolean): string {
  const sign = minutes < 0 ? '-' : '+';
  const a = Math.abs(minutes);
  return `${sign}${pad(Math.floor(a / 60))}${colon ? ':' : ''}${pad(a % 60)}`;
}

/** One date part (RFC 5260 4.2) of a moment seen in a zone; undefined for an unknown part. */
export function datePart(ms: number, zoneMinutes: number, part: string): string | undefined {
  const d = new Date(ms + zoneMinutes * 60_000);
  const [y, mo, da, h, mi, s] = [
    d.getUTCFullYear(),
    d.getUTCMonth() + 1,
    d.getUTCDate(),
    d.getUTCHours(),
    d.getUTCMinutes(),
    d.getUTCSeconds(),
  ];
  switch (part) {
    case 'year':
      return pad(y, 4);
    case 'month':
      return pad(mo);
    case 'day':
      return pad(da);
    case 'date':
      return `${pad(y, 4)}-${pad(mo)}-${pad(da)}`;
    case 'julian':
      // Modified Julian Day: days since 1858-11-17.
      return String(Math.floor((Date.UTC(y, mo - 1, da) - Date.UTC(1858, 10, 17)) / 86_400_000));
    case 'hour':
      return pad(h);
    case 'minute':
      return pad(mi);
    case 'second':
      return pad(s);
    case 'time':
      return `${pad(h)}:${pad(mi)}:${pad(s)}`;
    case 'iso8601':
      return `${pad(y, 4)}-${pad(mo)}-${pad(da)}T${pad(h)}:${pad(mi)}:${pad(s)}${zoneText(zoneMinutes, true)}`;
    case 'std11':
      return `${weekdays[d.getUTCDay()]}, ${pad(da)} ${monthNames[mo - 1]} ${pad(y, 4)} ${pad(h)}:${pad(mi)}:${pad(s)} ${zoneText(zoneMinutes, false)}`;
    case 'zone':
      return zoneText(zoneMinutes, false);
    case 'weekday':
      return String(d.getUTCDay());
    default:
      return undefined;
  }
}
