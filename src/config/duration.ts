// Durations in configuration are written the way administrators say them: "90s", "5m", "4h", "2d".

const unitMs: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export const durationPattern = /^(\d+)(ms|s|m|h|d)$/;

/** Parses "5m" into milliseconds; returns undefined for anything that is not a duration. */
export function parseDuration(text: string): number | undefined {
  const match = durationPattern.exec(text.trim());
  if (!match) return undefined;
  return Number(match[1]) * unitMs[match[2]!]!;
}
