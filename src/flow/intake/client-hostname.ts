// The client's host name, for our Received line and for rspamd's `Hostname` request header: the name
// of the address's PTR record, confirmed by that name's A or AAAA records naming the address again
// (forward-confirmed reverse DNS, as Postfix's `reverse_client_name` and rspamd's hfilter read it).
// Without one rspamd takes the client for a host with no name: HFILTER_HOSTNAME_UNKNOWN (2.5 points
// in Debian's configuration) on every message from the Internet, ham included. Looked up when a
// server connects (not for submission: signed-in users are not judged by their host), bounded in time
// and in the number of names tried; a failure is "no name", never a refusal.
import { isIPv4, isIPv6 } from 'node:net';

/** The resolver: MailDns's resolve(name, type), which throws for a name without records. */
export interface HostnameResolver {
  resolve(name: string, type: string): Promise<unknown>;
}

/** The PTR names tried, at most (an address with more is unusual and not worth more queries). */
const maxNames = 3;

/** The forward-confirmed name of `ip`, or undefined (none, a DNS failure, or not within `timeoutMs`). */
export async function confirmedHostname(
  dns: HostnameResolver,
  ip: string,
  timeoutMs: number,
): Promise<string | undefined> {
  const address = plainAddress(ip);
  const reverse = address && reverseName(address);
  if (!reverse) return undefined;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<undefined>((resolve) => {
    timer = setTimeout(resolve, timeoutMs, undefined);
  });
  const lookup = (async () => {
    const names = ((await dns.resolve(reverse, 'PTR')) as string[]).slice(0, maxNames);
    for (const name of names) {
      const host = name.replace(/\.$/, '').toLowerCase();
      if (!/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$/.test(host) || host.length > 253)
        continue;
      const forward = (await dns.resolve(host, isIPv4(address) ? 'A' : 'AAAA').catch(() => [])) as string[];
      if (forward.some((a) => sameAddress(a, address))) return host;
    }
    return undefined;
  })().catch(() => undefined);
  try {
    return await Promise.race([lookup, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** The address without an IPv4-mapped IPv6 prefix (::ffff:192.0.2.1 is 192.0.2.1), or undefined. */
function plainAddress(ip: string): string | undefined {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)?.[1];
  if (mapped) return mapped;
  return isIPv4(ip) || isIPv6(ip) ? ip : undefined;
}

/** 192.0.2.1 → 1.2.0.192.in-addr.arpa; IPv6 → its 32 nibbles reversed under ip6.arpa. */
export function reverseName(ip: string): string | undefined {
  if (isIPv4(ip)) return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
  if (!isIPv6(ip)) return undefined;
  return `${[...expandIPv6(ip)].reverse().join('.')}.ip6.arpa`;
}

/** The 32 hexadecimal digits of an IPv6 address. */
function expandIPv6(ip: string): string {
  const [head, tail] = ip.toLowerCase().split('::') as [string, string | undefined];
  const groups = (part: string | undefined) => (part ? part.split(':') : []);
  const left = groups(head);
  const right = groups(tail);
  // An embedded IPv4 address (::ffff:192.0.2.1 and the like) is two groups.
  const last = right.length ? right : left;
  const v4 = last.at(-1)?.includes('.') ? last.pop()! : undefined;
  if (v4) {
    const [a, b, c, d] = v4.split('.').map(Number) as [number, number, number, number];
    last.push(((a << 8) | b).toString(16), ((c << 8) | d).toString(16));
  }
  const missing = tail === undefined ? 0 : 8 - left.length - right.length;
  return [...left, ...Array(missing).fill('0'), ...right].map((g) => g.padStart(4, '0')).join('');
}

function sameAddress(a: string, b: string): boolean {
  if (isIPv4(a) || isIPv4(b)) return a === b;
  return isIPv6(a) && isIPv6(b) && expandIPv6(a) === expandIPv6(b);
}
