// Listing principals of one kind across the tenants a command covers (users, groups, resources...).
import type { Directory, Principal } from '../directory/directory.ts';
import { formatSize } from '../config/size.ts';
import type { PrincipalKind } from '../store/schema.ts';
import { tenantsFor } from './context.ts';

export type ListedPrincipal = Principal & { tenant: string };

export async function listPrincipals(
  directory: Directory,
  kinds: PrincipalKind[],
  options: { tenant?: string; domain?: string; [other: string]: unknown },
) {
  const rows: ListedPrincipal[] = [];
  for (const { tenant, scope } of await tenantsFor(directory, options.tenant)) {
    for (const principal of await scope.listPrincipals(kinds)) {
      if (options.domain && !principal.address.endsWith(`@${options.domain.toLowerCase()}`)) continue;
      rows.push({ ...principal, tenant: tenant.name });
    }
  }
  return rows;
}

export const quotaText = (p: Principal) => formatSize(p.quotaBytes);
