// DNS for mail: MX and address lookups for remote delivery, and the lookups SPF, DKIM and DMARC
// checks make. Servers come from HOLDFAST_DNS_SERVERS (default: the system's); tests point it at a
// stub on 127.0.0.1.
import { Resolver } from 'node:dns/promises';

export interface MailDns {
  resolveMx(domain: string): Promise<{ exchange: string; priority: number }[]>;
  resolveAddresses(host: string): Promise<string[]>;
  /** The resolver signature mailauth expects: resolve(name, type) throwing ENOTFOUND/ENODATA. */
  resolve(name: string, type: string): Promise<unknown>;
}

export function createMailDns(servers?: string[]): MailDns {
  const resolver = new Resolver({ timeout: 5000, tries: 2 });
  if (servers?.length) resolver.setServers(servers);
  return {
    resolveMx: (domain) => resolver.resolveMx(domain),
    async resolveAddresses(host) {
      const [v4, v6] = await Promise.all([resolver.resolve4(host).catch(missing), resolver.resolve6(host).catch(missing)]);
      return [...v4, ...v6];
    },
    resolve: (name, type) => resolver.resolve(name, type as 'TXT'),
  };
}

function missing(error: NodeJS.ErrnoException): string[] {
  if (error.code === 'ENOTFOUND' || error.code === 'ENODATA') return [];
  throw error;
}

/** A DNS failure that means "this name does not exist", as opposed to "could not ask". */
export const isNameMissing = (error: unknown) => ['ENOTFOUND', 'ENODATA'].includes((error as NodeJS.ErrnoException)?.code ?? '');
