// Sizes as administrators write them: "500MB", "2GB", "50 MiB", or "unlimited".

const unitBytes: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

export const sizeRule = 'a size such as "500MB", "2GB" or "10GiB", or "unlimited"';

/** Why a quota of 0 is refused: it would refuse every message, where Dovecot reads 0 as no limit. */
export const zeroQuotaRule = 'a quota above 0, or "unlimited" for none (0 would refuse every message)';

/** Bytes, null for "unlimited", undefined when the text is not a size. */
export function parseSize(text: string): number | null | undefined {
  const value = text.trim().toLowerCase();
  if (value === 'unlimited') return null;
  const match = /^(\d+(?:\.\d+)?)\s*([kmgt]i?b|b)?$/.exec(value);
  if (!match) return undefined;
  return Math.round(Number(match[1]) * unitBytes[match[2] ?? 'b']!);
}

export function formatSize(bytes: number | null): string {
  if (bytes === null) return 'unlimited';
  for (const [unit, factor] of [
    ['GB', 1e9],
    ['MB', 1e6],
    ['KB', 1e3],
  ] as const) {
    if (bytes >= factor) return `${Number((bytes / factor).toFixed(1))}${unit}`;
  }
  return `${bytes}B`;
}
