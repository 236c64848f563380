// Listing principals of one kind across the tenants a command covers (users, groups, resources...).
import type { Directory, Principal } from '../directory/directory.ts';
import { formatSize } from '../config/size.ts';
import type { PrincipalKind } from '../store/schema.ts';
import { parseDomain } from '../directory/names.ts';
import { notFound } from '../errors.ts';
import { tenantsFor } from './context.ts';

export type ListedPrincipal = Principal & { tenant: string };

export async function listPrincipals(
  directory: Directory,
  kinds: PrincipalKind[],
  options: { tenant?: string; domain?: string; [other: string]: unknown },
) {
  // A domain nobody has is a mistake to say, not an empty list.
  const domain = options.domain && parseDomain(options.domain);
  if (domain && !(await directory.findDomain(domain)))
    throw notFound('unknown-domain', `unknown domain ${domain}: holdfast domain list shows the domains`);
  const rows: ListedPrincipal[] = [];
  for (const { tenant, scope } of await tenantsFor(directory, options.tenant)) {
    for (const principal of await scope.listPrincipals(kinds)) {
      if (domain && !principal.address.endsWith(`@${domain}`)) continue;
      rows.push({ ...principal, tenant: tenant.name });
    }
  }
  return rows;
}

export const quotaText = (p: Principal) => formatSize(p.quotaBytes);
