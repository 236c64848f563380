// Who inbound mail (port 25) proves to come from: the domains that passed SPF and DKIM for it, whether
// a domain is aligned with them, and the configured trusted relays whose word is taken instead.
// Intake uses this to refuse mail that claims one of our own domains without proof (the idea of
// Exchange's anti-spoofing for accepted domains), and to record the proved author, which alone may
// change a meeting by iTIP mail.
import { BlockList, isIP } from 'node:net';

/** The domains that authenticated a message: the SPF-passing envelope (or HELO) domain and every DKIM-passing d=. */
export interface AuthenticatedDomains {
  spf?: string;
  dkim: string[];
  /** SPF or a DKIM signature could not be checked for now (a DNS error): what failed may yet pass. */
  temporaryError?: boolean;
}

/** The domains in a mailauth `authenticate` result that passed SPF or DKIM. */
export function authenticatedDomains(result: { spf?: unknown; dkim?: unknown }): AuthenticatedDomains {
  const spf = result.spf as { status?: { result?: string }; domain?: string } | undefined;
  const dkim =
    (result.dkim as { results?: { signingDomain?: string; status?: { result?: string } }[] } | undefined)?.results ??
    [];
  return {
    spf: spf?.status?.result === 'pass' && spf.domain ? spf.domain.toLowerCase() : undefined,
    dkim: dkim.filter((r) => r.status?.result === 'pass' && r.signingDomain).map((r) => r.signingDomain!.toLowerCase()),
    temporaryError: spf?.status?.result === 'temperror' || dkim.some((r) => r.status?.result === 'temperror'),
  };
}

/**
 * Whether `domain` is proved by one of the authenticated domains: the same domain, a subdomain of it or
 * a parent of it (relaxed alignment, RFC 7489 §3.1, without a public-suffix list: a parent can only
 * pass DKIM or SPF with its own owner's keys and records, so it is the same organization).
 */
export function isAligned(domain: string, by: AuthenticatedDomains): boolean {
  const related = (other: string) => other === domain || other.endsWith(`.${domain}`) || domain.endsWith(`.${other}`);
  return [...(by.spf ? [by.spf] : []), ...by.dkim].some(related);
}

/** The servers allowed to pass on mail for our domains without SPF or DKIM for them (`[smtp] trusted_relays`). */
export class TrustedRelays {
  private readonly list = new BlockList();
  private readonly empty: boolean;

  constructor(ranges: string[]) {
    this.empty = ranges.length === 0;
    for (const range of ranges) {
      const [address, bits] = range.split('/') as [string, string | undefined];
      const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
      if (bits === undefined) this.list.addAddress(address, type);
      else this.list.addSubnet(address, Number(bits), type);
    }
  }

  has(clientIp: string): boolean {
    if (this.empty) return false;
    // A server listening on "::" sees IPv4 clients as ::ffff:a.b.c.d.
    const ip = clientIp.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
    return this.list.check(ip, isIP(ip) === 6 ? 'ipv6' : 'ipv4');
  }
}

/** The domain of an address, lower-cased ('' for none, as of the null sender). */
export function domainOf(address: string): string {
  const at = address.lastIndexOf('@');
  return at < 0
    ? ''
    : address
        .slice(at + 1)
        .toLowerCase()
        .replace(/\.$/, '');
}
