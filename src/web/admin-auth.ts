// Who may use the administrative HTTP endpoints: an administrator, by address and password (HTTP
// Basic) or by an API token (`Authorization: Bearer hf_…`, from `holdfast token create`). Failed
// attempts are counted like every other login. A tenant administrator sees their tenant only.
import { ApiTokens } from '../directory/api-tokens.ts';
import type { Principal } from '../directory/directory.ts';
import type { Holdfast } from '../server/holdfast.ts';
import { parseBasicAuthorization } from '../server/http-credentials.ts';

export interface AdminIdentity {
  address: string;
  role: 'global-admin' | 'tenant-admin';
  /** The tenant name of a tenant administrator. */
  tenant?: string;
}

export async function authenticateAdmin(holdfast: Holdfast, client: string, authorization: string | undefined): Promise<AdminIdentity | undefined> {
  const principal = await authenticatePrincipal(holdfast, client, authorization);
  if (!principal || principal.role === 'user') return undefined;
  if (principal.role === 'global-admin') return { address: principal.address, role: 'global-admin' };
  const tenant = (await holdfast.directory.listTenants()).find((t) => t.id === principal.tenantId);
  return { address: principal.address, role: 'tenant-admin', tenant: tenant?.name };
}

export async function isGlobalAdmin(holdfast: Holdfast, client: string, authorization: string | undefined): Promise<boolean> {
  return (await authenticateAdmin(holdfast, client, authorization))?.role === 'global-admin';
}

async function authenticatePrincipal(holdfast: Holdfast, client: string, authorization: string | undefined): Promise<Principal | undefined> {
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
  if (bearer) {
    if (holdfast.logins.refusal(client, 'api-token')) return undefined;
    const principal = await new ApiTokens(holdfast.store.db, holdfast.directory, holdfast.now).principalOf(bearer);
    if (!principal) holdfast.logins.record(client, 'api-token');
    return principal;
  }
  const credentials = parseBasicAuthorization(authorization);
  if (!credentials || holdfast.logins.refusal(client, credentials.user)) return undefined;
  const principal = await holdfast.directory.authenticate(credentials.user, credentials.password);
  if (!principal) holdfast.logins.record(client, credentials.user);
  return principal;
}
