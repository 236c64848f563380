// `holdfast continuity user import users.csv`: the upstream's mailboxes become Holdfast users who
// can sign in during an event. A new user gets a generated password (the continuity credential the
// administrator hands out); one who exists keeps theirs and only gains the display name and
// aliases the export lists. Proxy addresses in a domain of the user's tenant become aliases; others
// (tenant.onmicrosoft.com and the like) are reported and left out. Running it again adds nothing twice.
import type { Directory } from '../directory/directory.ts';
import { parseAddress } from '../directory/names.ts';
import { generatePassword } from '../directory/passwords.ts';
import { HoldfastError } from '../errors.ts';
import type { ExportedMailbox } from './mailbox-export.ts';

export interface ImportedUser {
  address: string;
  outcome: 'created' | 'updated' | 'unchanged' | 'skipped';
  /** Set for created users: shown once, or written to the passwords file. */
  password?: string;
  aliasesAdded: string[];
  notes: string[];
}

export async function importContinuityUsers(
  directory: Directory,
  mailboxes: ExportedMailbox[],
  options: { domains?: ReadonlySet<string> } = {},
): Promise<ImportedUser[]> {
  const results: ImportedUser[] = [];
  for (const mailbox of mailboxes) {
    const result: ImportedUser = { address: mailbox.primary, outcome: 'unchanged', aliasesAdded: [], notes: [] };
    results.push(result);
    const { domain } = parseAddress(mailbox.primary);
    if (options.domains && !options.domains.has(domain)) {
      result.outcome = 'skipped';
      result.notes.push(`line ${mailbox.line}: ${domain} is not a continuity domain ([[continuity.upstream]] domains)`);
      continue;
    }
    let tenant: Awaited<ReturnType<Directory['tenantOfDomain']>>;
    try {
      tenant = await directory.tenantOfDomain(domain);
    } catch {
      result.outcome = 'skipped';
      result.notes.push(
        `line ${mailbox.line}: ${domain} is not a domain of this server (holdfast domain add ${domain})`,
      );
      continue;
    }
    try {
      const existing = await directory.resolveAddress(mailbox.primary);
      if (!existing) {
        result.password = generatePassword();
        await tenant.addPrincipal({
          kind: 'user',
          address: mailbox.primary,
          password: result.password,
          displayName: mailbox.displayName ?? undefined,
        });
        result.outcome = 'created';
      } else if (existing.principal.address !== mailbox.primary || existing.principal.kind !== 'user') {
        result.outcome = 'skipped';
        result.notes.push(
          `line ${mailbox.line}: ${mailbox.primary} is already an address of ${existing.principal.address}`,
        );
        continue;
      } else if (mailbox.displayName && existing.principal.displayName !== mailbox.displayName) {
        await tenant.updatePrincipal(mailbox.primary, { displayName: mailbox.displayName });
        result.outcome = 'updated';
      }
    } catch (error) {
      if (!(error instanceof HoldfastError)) throw error;
      result.outcome = 'skipped';
      result.notes.push(`line ${mailbox.line}: ${error.message}`);
      continue;
    }
    const ownDomains = new Set((await tenant.listDomains()).map((d) => d.name));
    for (const proxy of mailbox.proxies) {
      const proxyDomain = parseAddress(proxy).domain;
      if (!ownDomains.has(proxyDomain)) {
        result.notes.push(`alias ${proxy} left out: ${proxyDomain} is not a domain of this tenant`);
        continue;
      }
      const holder = await directory.resolveAddress(proxy);
      if (holder) {
        if (holder.principal.address !== mailbox.primary)
          result.notes.push(`alias ${proxy} left out: it is an address of ${holder.principal.address}`);
        continue;
      }
      await tenant.addAlias(proxy, mailbox.primary);
      result.aliasesAdded.push(proxy);
      if (result.outcome === 'unchanged') result.outcome = 'updated';
    }
  }
  return results;
}
