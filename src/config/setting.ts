// One configuration value: how to read it from TOML or an environment string, and the words that
// tell an administrator what is allowed when the value is wrong.
import { isIP } from 'node:net';
import { z } from 'zod';
import { parseDuration } from './duration.ts';
import { parseSize } from './size.ts';

/** A zod schema for one value; `allowed` becomes the error text ("expected <allowed>"). */
export function setting<T>(allowed: string, parse: (raw: unknown) => T | undefined) {
  return z.unknown().transform((raw, ctx): T => {
    const value = parse(raw);
    if (value === undefined) {
      ctx.addIssue({ code: 'custom', message: allowed });
      return z.NEVER;
    }
    return value;
  });
}

const text = (raw: unknown) => (typeof raw === 'string' ? raw.trim() : undefined);

export const nonEmptyText = (allowed = 'a non-empty text') =>
  setting(allowed, (raw) => {
    const value = text(raw);
    return value ? value : undefined;
  });

export const port = setting('a port number from 0 to 65535 (0 picks a free port), or "off"', (raw) => {
  if (raw === 'off') return 'off' as const;
  const value = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d+$/.test(raw.trim()) ? Number(raw) : NaN;
  return Number.isInteger(value) && value >= 0 && value <= 65535 ? value : undefined;
});

const hostnamePattern = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

export function isDomainName(value: string): boolean {
  return hostnamePattern.test(value);
}

export const domainName = (allowed: string) =>
  setting(allowed, (raw) => {
    const value = text(raw)?.toLowerCase().replace(/\.$/, '');
    return value && isDomainName(value) ? value : undefined;
  });

export const ipAddress = setting('an IP address such as 0.0.0.0, 127.0.0.1 or ::', (raw) => {
  const value = text(raw);
  return value && isIP(value) ? value : undefined;
});

export const duration = setting('a duration such as "500ms", "30s", "5m", "4h" or "2d"', (raw) =>
  typeof raw === 'string' ? parseDuration(raw) : undefined,
);

export const positiveInteger = (allowed = 'a whole number greater than 0') =>
  setting(allowed, (raw) => {
    const value =
      typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d+$/.test(raw.trim()) ? Number(raw) : NaN;
    return Number.isInteger(value) && value > 0 ? value : undefined;
  });

export const oneOf = <const T extends string>(values: readonly T[]) =>
  setting(`one of ${values.map((v) => `"${v}"`).join(', ')}`, (raw) => {
    const value = text(raw);
    return values.find((v) => v === value);
  });

export const size = setting('a size such as "25MB", "50MB" or "1GB"', (raw) => {
  const bytes = typeof raw === 'number' ? raw : typeof raw === 'string' ? parseSize(raw) : undefined;
  return typeof bytes === 'number' && bytes > 0 ? bytes : undefined;
});

export const durationList = setting('a list of durations such as ["1m", "5m", "1h"]', (raw) => {
  if (!Array.isArray(raw) || raw.length === 0) return undefined;
  const values = raw.map((v) => (typeof v === 'string' ? parseDuration(v) : undefined));
  return values.every((v) => v !== undefined && v > 0) ? (values as number[]) : undefined;
});

/** DNS servers as "host" or "host:port"; the environment form is comma-separated. */
export const dnsServers = setting(
  'a list of DNS servers such as ["127.0.0.1:5353"] (comma-separated in HOLDFAST_DNS_SERVERS)',
  (raw) => {
    const list = typeof raw === 'string' ? raw.split(',') : Array.isArray(raw) ? raw : undefined;
    if (!list || list.length === 0) return undefined;
    const servers = list.map((v) => (typeof v === 'string' ? v.trim() : ''));
    const valid = servers.every((server) => {
      const match = /^\[?([0-9a-f:.]+?)\]?(?::(\d+))?$/i.exec(server);
      return Boolean(match && isIP(match[1]!) && (!match[2] || Number(match[2]) < 65536));
    });
    return valid ? servers : undefined;
  },
);

/** IP addresses and CIDR ranges, such as ["192.0.2.10", "198.51.100.0/24", "2001:db8::/32"]. */
export const ipRanges = setting(
  'a list of IP addresses or CIDR ranges such as ["192.0.2.10", "198.51.100.0/24", "2001:db8::/32"]',
  (raw) => {
    if (!Array.isArray(raw)) return undefined;
    const ranges = raw.map((entry) => (typeof entry === 'string' ? entry.trim() : ''));
    const valid = ranges.every((range) => {
      const [address, bits, ...rest] = range.split('/');
      const family = isIP(address ?? '');
      if (!family || rest.length) return false;
      return bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128));
    });
    return valid ? ranges : undefined;
  },
);

/** An IP address, or a network as address/prefix length (CIDR). */
function isAddressOrNetwork(value: string): boolean {
  const [address, prefix, ...rest] = value.split('/');
  const family = isIP(address ?? '');
  if (!family || rest.length) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

export const networkList = setting(
  'a list of IP addresses or networks such as ["127.0.0.1", "10.0.0.0/8", "fd00::/8"]',
  (raw) => {
    if (!Array.isArray(raw)) return undefined;
    const values = raw.map((v) => (typeof v === 'string' ? v.trim() : ''));
    return values.every(isAddressOrNetwork) ? values : undefined;
  },
);

export const yesNo = setting('true or false', (raw) => {
  if (typeof raw === 'boolean') return raw;
  if (raw === 'true' || raw === 'false') return raw === 'true';
  return undefined;
});
