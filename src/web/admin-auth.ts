// Who may use the administrative HTTP endpoints: a global administrator, by address and password
// (HTTP Basic), with failed attempts counted like every other login.
import type { Holdfast } from '../server/holdfast.ts';
import { parseBasicAuthorization } from '../server/http-credentials.ts';

export async function isGlobalAdmin(holdfast: Holdfast, client: string, authorization: string | undefined): Promise<boolean> {
  const credentials = parseBasicAuthorization(authorization);
  if (!credentials || holdfast.logins.refusal(client, credentials.user)) return false;
  const principal = await holdfast.directory.authenticate(credentials.user, credentials.password);
  if (!principal) holdfast.logins.record(client, credentials.user);
  return principal?.role === 'global-admin';
}
