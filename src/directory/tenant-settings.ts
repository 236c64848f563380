// Organisation-wide settings a tenant's administrator sets (`holdfast tenant set`), kept one row per
// setting in tenant_settings (migration 31). A setting never set has its default.
import type { Kysely } from 'kysely';
import { invalid } from '../errors.ts';
import type { Database } from '../store/schema.ts';

export interface TenantSettingsTable {
  tenant_id: number;
  name: string;
  value: string;
  updated_at: number;
}

type SettingsDb = Kysely<Database & { tenant_settings: TenantSettingsTable }>;

/** Whether users' rules may forward mail outside the organisation (Exchange's outbound spam policy). */
export type ExternalForwarding = 'allow' | 'block';

export interface TenantSettings {
  externalForwarding: ExternalForwarding;
}

export const defaultTenantSettings: TenantSettings = { externalForwarding: 'allow' };

const columns: Record<keyof TenantSettings, string> = { externalForwarding: 'external_forwarding' };

export function parseExternalForwarding(value: string): ExternalForwarding {
  const v = value.trim().toLowerCase();
  if (v === 'allow' || v === 'block') return v;
  throw invalid('invalid-setting', `external forwarding is "allow" or "block", not "${value}"`);
}

export async function tenantSettings(db: Kysely<Database>, tenantId: number): Promise<TenantSettings> {
  const rows = await (db as SettingsDb)
    .selectFrom('tenant_settings')
    .select(['name', 'value'])
    .where('tenant_id', '=', tenantId)
    .where('name', 'in', Object.values(columns))
    .execute();
  const settings = { ...defaultTenantSettings };
  for (const row of rows)
    if (row.name === columns.externalForwarding) settings.externalForwarding = parseExternalForwarding(row.value);
  return settings;
}

export async function setTenantSettings(
  db: Kysely<Database>,
  tenantId: number,
  changes: Partial<TenantSettings>,
  now: number,
): Promise<TenantSettings> {
  for (const [key, value] of Object.entries(changes) as [keyof TenantSettings, string | undefined][]) {
    if (value === undefined) continue;
    await (db as SettingsDb)
      .insertInto('tenant_settings')
      .values({ tenant_id: tenantId, name: columns[key], value, updated_at: now })
      .onConflict((oc) => oc.columns(['tenant_id', 'name']).doUpdateSet({ value, updated_at: now }))
      .execute();
  }
  return tenantSettings(db, tenantId);
}

/** The organisation's Sieve script (`holdfast rules`), run before each user's at delivery. */
export interface TenantRules {
  content: string;
  updatedAt: number;
}

const rulesName = 'rules_script';

export async function tenantRules(db: Kysely<Database>, tenantIds: number[]): Promise<Map<number, TenantRules>> {
  const out = new Map<number, TenantRules>();
  if (tenantIds.length === 0) return out;
  const rows = await (db as SettingsDb)
    .selectFrom('tenant_settings')
    .select(['tenant_id', 'value', 'updated_at'])
    .where('tenant_id', 'in', [...new Set(tenantIds)])
    .where('name', '=', rulesName)
    .execute();
  for (const row of rows) out.set(Number(row.tenant_id), { content: row.value, updatedAt: Number(row.updated_at) });
  return out;
}

/** Stores the organisation's script (checked by the caller), replacing any; undefined deletes it. */
export async function setTenantRules(
  db: Kysely<Database>,
  tenantId: number,
  content: string | undefined,
  now: number,
): Promise<boolean> {
  if (content === undefined) {
    const result = await (db as SettingsDb)
      .deleteFrom('tenant_settings')
      .where('tenant_id', '=', tenantId)
      .where('name', '=', rulesName)
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }
  await (db as SettingsDb)
    .insertInto('tenant_settings')
    .values({ tenant_id: tenantId, name: rulesName, value: content, updated_at: now })
    .onConflict((oc) => oc.columns(['tenant_id', 'name']).doUpdateSet({ value: content, updated_at: now }))
    .execute();
  return true;
}

const disclaimerName = 'disclaimer';

/** The text appended to mail the tenant's users submit (`holdfast rules disclaimer`), if any. */
export async function tenantDisclaimer(db: Kysely<Database>, tenantId: number): Promise<string | undefined> {
  const row = await (db as SettingsDb)
    .selectFrom('tenant_settings')
    .select('value')
    .where('tenant_id', '=', tenantId)
    .where('name', '=', disclaimerName)
    .executeTakeFirst();
  return row?.value || undefined;
}

/** Sets the disclaimer (at most 4,000 characters); undefined removes it. */
export async function setTenantDisclaimer(
  db: Kysely<Database>,
  tenantId: number,
  text: string | undefined,
  now: number,
): Promise<void> {
  if (text === undefined || text.trim() === '') {
    await (db as SettingsDb)
      .deleteFrom('tenant_settings')
      .where('tenant_id', '=', tenantId)
      .where('name', '=', disclaimerName)
      .execute();
    return;
  }
  if (text.length > 4000) throw invalid('disclaimer-too-long', 'a disclaimer is at most 4,000 characters');
  await (db as SettingsDb)
    .insertInto('tenant_settings')
    .values({ tenant_id: tenantId, name: disclaimerName, value: text, updated_at: now })
    .onConflict((oc) => oc.columns(['tenant_id', 'name']).doUpdateSet({ value: text, updated_at: now }))
    .execute();
}

/** One named setting of some tenants (those that have it). */
async function settingOf(db: Kysely<Database>, tenantIds: number[], name: string): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  if (tenantIds.length === 0) return out;
  const rows = await (db as SettingsDb)
    .selectFrom('tenant_settings')
    .select(['tenant_id', 'value'])
    .where('tenant_id', 'in', [...new Set(tenantIds)])
    .where('name', '=', name)
    .execute();
  for (const row of rows) out.set(Number(row.tenant_id), row.value);
  return out;
}

/** Sets a named setting; undefined removes it. */
async function setSetting(
  db: Kysely<Database>,
  tenantId: number,
  name: string,
  value: string | undefined,
  now: number,
): Promise<void> {
  if (value === undefined) {
    await (db as SettingsDb)
      .deleteFrom('tenant_settings')
      .where('tenant_id', '=', tenantId)
      .where('name', '=', name)
      .execute();
    return;
  }
  await (db as SettingsDb)
    .insertInto('tenant_settings')
    .values({ tenant_id: tenantId, name, value, updated_at: now })
    .onConflict((oc) => oc.columns(['tenant_id', 'name']).doUpdateSet({ value, updated_at: now }))
    .execute();
}

const bannerName = 'external_banner';

/** The warning put at the top of mail from outside the organisation (`holdfast rules external-banner`), by tenant. */
export function tenantExternalBanners(db: Kysely<Database>, tenantIds: number[]): Promise<Map<number, string>> {
  return settingOf(db, tenantIds, bannerName);
}

/** Turns the banner on with this text (at most 1,000 characters); undefined turns it off. */
export async function setTenantExternalBanner(
  db: Kysely<Database>,
  tenantId: number,
  text: string | undefined,
  now: number,
): Promise<void> {
  if (text !== undefined && !text.trim()) throw invalid('empty-banner', 'the banner text is empty');
  if (text !== undefined && text.length > 1000)
    throw invalid('banner-too-long', 'a banner text is at most 1,000 characters');
  await setSetting(db, tenantId, bannerName, text?.trim(), now);
}

const attachmentsName = 'blocked_attachments';

/** The file name extensions (lower case, no dot) each tenant refuses in mail to its users. */
export async function tenantBlockedAttachments(
  db: Kysely<Database>,
  tenantIds: number[],
): Promise<Map<number, Set<string>>> {
  const out = new Map<number, Set<string>>();
  for (const [id, value] of await settingOf(db, tenantIds, attachmentsName))
    out.set(id, new Set(value.split(',').filter(Boolean)));
  return out;
}

/** Stores the tenant's blocked extensions (checked by the caller); undefined or none turns the rule off. */
export async function setTenantBlockedAttachments(
  db: Kysely<Database>,
  tenantId: number,
  extensions: string[] | undefined,
  now: number,
): Promise<void> {
  await setSetting(db, tenantId, attachmentsName, extensions?.length ? extensions.join(',') : undefined, now);
}
