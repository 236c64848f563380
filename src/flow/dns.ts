// DNS for mail: MX and address lookups for remote delivery, and the lookups SPF, DKIM and DMARC
// checks make. Servers come from HOLDFAST_DNS_SERVERS (default: the system's); tests point it at a
// stub on 127.0.0.1.
//
// Answers, including "no such name" and "no such record", are kept for a minute and concurrent
// lookups of one name share one query, the way a caching resolver next to an MTA would: every inbound
// message asks for its sender domain's SPF and DMARC records, and a burst from one domain should not
// ask again for each message. Failures to get an answer (timeouts, SERVFAIL) are not kept.
import { Resolver } from 'node:dns/promises';

export interface MailDns {
  resolveMx(domain: string): Promise<{ exchange: string; priority: number }[]>;
  resolveAddresses(host: string): Promise<string[]>;
  /** The resolver signature mailauth expects: resolve(name, type) throwing ENOTFOUND/ENODATA. */
  resolve(name: string, type: string): Promise<unknown>;
}

const cacheMs = 60_000;
const maxCached = 10_000;

export function createMailDns(servers?: string[], now: () => number = Date.now): MailDns {
  const resolver = new Resolver({ timeout: 5000, tries: 2 });
  if (servers?.length) resolver.setServers(servers);
  const cache = new Map<string, { until: number; answer: Promise<unknown> }>();
  const cached = <T>(type: string, name: string, lookup: () => Promise<T>): Promise<T> => {
    const key = `${type} ${name.toLowerCase()}`;
    const hit = cache.get(key);
    if (hit && hit.until > now()) return hit.answer as Promise<T>;
    if (cache.size >= maxCached) cache.delete(cache.keys().next().value!);
    const answer = lookup();
    cache.set(key, { until: now() + cacheMs, answer });
    answer.catch((error) => {
      if (!isNameMissing(error) && cache.get(key)?.answer === answer) cache.delete(key);
    });
    return answer;
  };
  return {
    resolveMx: (domain) => cached('MX', domain, () => resolver.resolveMx(domain)),
    async resolveAddresses(host) {
      const [v4, v6] = await Promise.all([
        cached('A', host, () => resolver.resolve4(host)).catch(missing),
        cached('AAAA', host, () => resolver.resolve6(host)).catch(missing),
      ]);
      return [...v4, ...v6];
    },
    resolve: (name, type) => cached(type, name, () => resolver.resolve(name, type as 'TXT')),
  };
}

function missing(error: NodeJS.ErrnoException): string[] {
  if (error.code === 'ENOTFOUND' || error.code === 'ENODATA') return [];
  throw error;
}

/** A DNS failure that means "this name does not exist", as opposed to "could not ask". */
export const isNameMissing = (error: unknown) =>
  ['ENOTFOUND', 'ENODATA'].includes((error as NodeJS.ErrnoException)?.code ?? '');
