// The probe mailbox: a user of its own tenant ("holdfast-probe", in its own resource forest, on the
// reserved domain holdfast-probe.invalid), one per node, so probe traffic never enters a user's
// mailbox or a tenant's statistics and limits. Its password is new at every start and kept only in
// memory; being random, it is never throttled (login-limiter.ts), so strangers' guesses cannot lock
// the probe out. When the probe cannot sign in because of its own account (removed, password
// changed outside Holdfast) that is a monitoring problem: a note, not a service incident.
import { generatePassword } from '../../directory/passwords.ts';
import { probeTenantName, type Directory } from '../../directory/directory.ts';
import { nodeRule, type CheckResult } from '../check-result.ts';
import type { ProbeAccount } from './probe-context.ts';

export const probeTenant = probeTenantName;
export const probeDomain = 'holdfast-probe.invalid';

export function probeAddress(node: string): string {
  const local = `probe-${
    node
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 50) || 'node'
  }`;
  return `${local}@${probeDomain}`;
}

/** Whether an address is a probe account (of this node or another). */
export function isProbeAddress(address: string): boolean {
  return address.trim().toLowerCase().endsWith(`@${probeDomain}`);
}

export async function ensureProbeAccount(directory: Directory, node: string): Promise<ProbeAccount> {
  if (!(await directory.listForests()).some((f) => f.name === probeTenant))
    await directory.addForest({ name: probeTenant });
  if (!(await directory.listTenants()).some((t) => t.name === probeTenant))
    await directory.addTenant({ name: probeTenant, forest: probeTenant });
  const tenant = await directory.tenant(probeTenant);
  if (!(await directory.findDomain(probeDomain))) await tenant.addDomain(probeDomain);
  const address = probeAddress(node);
  const password = generatePassword();
  const existing = (await tenant.listPrincipals(['user'])).find((p) => p.address === address);
  if (existing) await tenant.setPassword(address, password);
  const principal =
    existing ??
    (await tenant.addPrincipal({ kind: 'user', address, password, displayName: `Holdfast probe (${node})` }));
  return { address, password, principalId: principal.id };
}

/** Probe results that fail when the probe account's own password does not work. */
const dependsOnAccount = (r: CheckResult) =>
  r.state === 'failing' && /^probe:(sign-in|submission|caldav)@/.test(r.rule);

/**
 * The probe account's own check (rule monitor:probe-account@<node>, never an issue): failing when
 * the probe's failures come from its account rather than the service — the directory itself refuses
 * the probe's password, so the protocols were right to. Then those failures are not the service's.
 */
export async function checkProbeAccount(
  directory: Directory,
  node: string,
  account: ProbeAccount,
  results: CheckResult[],
): Promise<CheckResult> {
  const check = (state: CheckResult['state'], detail: string): CheckResult => ({
    rule: nodeRule('monitor:probe-account', node),
    component: 'Directory',
    state,
    detail,
  });
  if (!results.some(dependsOnAccount) || (await directory.authenticate(account.address, account.password))) {
    return check('healthy', `The probe account ${account.address} signs in with its own password.`);
  }
  return check(
    'failing',
    `The probe account ${account.address} was removed or its password changed outside Holdfast, so the probes could not sign in; it is set up again for the next round. A monitoring problem, not a service one: no incident.`,
  );
}
