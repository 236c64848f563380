// A principal: a user, shared mailbox, room, equipment or group inside a tenant, as the rest of
// Holdfast sees it (the row of the principals table without its password hash).
import type { PrincipalKind, Role } from '../store/schema.ts';

export interface Principal {
  id: number;
  tenantId: number;
  kind: PrincipalKind;
  address: string;
  displayName: string | null;
  role: Role;
  quotaBytes: number | null;
  /** A disabled account cannot sign in (password or API token); its mail is still delivered. */
  disabled: boolean;
}

export function toPrincipal(row: {
  id: number;
  tenant_id: number;
  kind: PrincipalKind;
  address: string;
  display_name: string | null;
  role: Role;
  quota_bytes: number | null;
  disabled_at: number | null;
}): Principal {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    kind: row.kind,
    address: row.address,
    displayName: row.display_name,
    role: row.role,
    quotaBytes: row.quota_bytes === null ? null : Number(row.quota_bytes),
    disabled: row.disabled_at !== null,
  };
}
