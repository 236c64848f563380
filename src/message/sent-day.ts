// The day a message says it was sent, in the zone its Date: header was written in. IMAP's SENTBEFORE,
// SENTON and SENTSINCE compare that day, "disregarding time and timezone" (RFC 3501 §6.4.4): a message
// dated Mon, 26 Mar 2007 00:30 +0200 was sent on the 26th, although it was the 25th in UTC.

const dayMs = 86_400_000;

/** RFC 5322 §4.3's obsolete zone names; military letters and anything else count as -0000. */
const namedZones: Record<string, number> = {
  ut: 0,
  gmt: 0,
  z: 0,
  est: -5,
  edt: -4,
  cst: -6,
  cdt: -5,
  mst: -7,
  mdt: -6,
  pst: -8,
  pdt: -7,
};

/** The sent day as the UTC midnight of that calendar date (ms), or null when the date cannot be read. */
export function sentDay(dateValue: string): number | null {
  const text = dateValue.replace(/\([^)]*\)/g, ' ').trim();
  const instant = Date.parse(text);
  if (!Number.isFinite(instant)) return null;
  return Math.floor((instant + zoneOffsetMs(text)) / dayMs) * dayMs;
}

function zoneOffsetMs(text: string): number {
  const numeric = /([+-])(\d{2})(\d{2})$/.exec(text);
  if (numeric) return (numeric[1] === '-' ? -1 : 1) * (Number(numeric[2]) * 60 + Number(numeric[3])) * 60_000;
  const named = /([a-z]+)$/i.exec(text)?.[1]?.toLowerCase();
  return named && namedZones[named] ? namedZones[named]! * 3_600_000 : 0;
}
