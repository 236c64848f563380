// First run: a directory without a global administrator (an empty one, or an interrupted first run) gets the forest and tenant "default", the first-run domain and a
// global administrator, so a newcomer can sign in straight away.
import { invalid } from '../errors.ts';
import type { Directory } from './directory.ts';
import { checkPasswordStrength, generatePassword } from './passwords.ts';

export interface BootstrapResult {
  created: boolean;
  domain?: string;
  adminAddress?: string;
  /** Only when the password was generated: shown once, never stored in clear. */
  generatedPassword?: string;
}

export async function bootstrapDirectory(
  directory: Directory,
  options: { domain: string; adminPassword?: string },
): Promise<BootstrapResult> {
  if (await directory.hasGlobalAdmin()) return { created: false };
  const adminAddress = `admin@${options.domain}`;
  if (options.adminPassword) {
    try {
      checkPasswordStrength(options.adminPassword, adminAddress);
    } catch (error) {
      throw invalid('weak-password', `HOLDFAST_ADMIN_PASSWORD is not allowed: ${(error as Error).message}`);
    }
  }
  const password = options.adminPassword ?? generatePassword();
  // Each step tolerates an earlier, interrupted first run having done it already.
  if (!(await directory.listForests()).some((f) => f.name === 'default'))
    await directory.addForest({ name: 'default' });
  if (!(await directory.listTenants()).some((t) => t.name === 'default'))
    await directory.addTenant({ name: 'default', forest: 'default' });
  const tenant = await directory.tenant('default');
  if (!(await directory.findDomain(options.domain))) await tenant.addDomain(options.domain);
  await tenant.addPrincipal({
    kind: 'user',
    address: adminAddress,
    password,
    role: 'global-admin',
    displayName: 'Administrator',
  });
  return {
    created: true,
    domain: options.domain,
    adminAddress,
    generatedPassword: options.adminPassword ? undefined : password,
  };
}
