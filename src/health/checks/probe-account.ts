// The probe mailbox: a user of its own tenant ("holdfast-probe", in its own resource forest, on the
// reserved domain holdfast-probe.invalid), one per node, so probe traffic never enters a user's
// mailbox or a tenant's statistics and limits. Its password is new at every start and kept only in
// memory.
import { generatePassword } from '../../directory/passwords.ts';
import type { Directory } from '../../directory/directory.ts';
import type { ProbeAccount } from './probe-context.ts';

export const probeTenant = 'holdfast-probe';
export const probeDomain = 'holdfast-probe.invalid';

export function probeAddress(node: string): string {
  const local = `probe-${node.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 50) || 'node'}`;
  return `${local}@${probeDomain}`;
}

/** Whether an address is a probe account (of this node or another). */
export function isProbeAddress(address: string): boolean {
  return address.trim().toLowerCase().endsWith(`@${probeDomain}`);
}

export async function ensureProbeAccount(directory: Directory, node: string): Promise<ProbeAccount> {
  if (!(await directory.listForests()).some((f) => f.name === probeTenant)) await directory.addForest({ name: probeTenant });
  if (!(await directory.listTenants()).some((t) => t.name === probeTenant)) await directory.addTenant({ name: probeTenant, forest: probeTenant });
  const tenant = await directory.tenant(probeTenant);
  if (!(await directory.findDomain(probeDomain))) await tenant.addDomain(probeDomain);
  const address = probeAddress(node);
  const password = generatePassword();
  const existing = (await tenant.listPrincipals(['user'])).find((p) => p.address === address);
  if (existing) await tenant.setPassword(address, password);
  const principal = existing ?? (await tenant.addPrincipal({ kind: 'user', address, password, displayName: `Holdfast probe (${node})` }));
  return { address, password, principalId: principal.id };
}
