// Rooms' and equipment's settings, as Exchange's resource mailboxes have them (docs/calendar.md,
// "Rooms and equipment"): a room's capacity, and the booking policy each resource answers
// invitations by (calendar/scheduling/resource-booking.ts). Kept one row per resource in
// resource_settings (migration 32); a resource without a row has the defaults, which are the policy
// every resource had before settings existed. Set by `holdfast resource set` and the admin API.
import type { Kysely } from 'kysely';
import { HoldfastError, notFound } from '../errors.ts';
import type { Database } from '../store/schema.ts';
import { parseAddress } from './names.ts';

export interface ResourceSettings {
  /** How many people a room seats; null when not said (equipment never has one). */
  capacity: number | null;
  /** Accept or decline at once; when false, requests within the policy wait for a delegate's answer. */
  autoAccept: boolean;
  /** Accept a request that overlaps an existing booking. */
  allowConflicts: boolean;
  /** How far ahead the resource may be booked, in days (every instance must start within it). */
  windowDays: number;
  /** The longest one instance may last, in minutes. */
  maxDurationMinutes: number;
  allowRecurring: boolean;
  /** Who may book: everyone in the tenant, or only the addresses and groups of `bookers`. */
  bookInPolicy: BookInPolicy;
  /** The addresses and groups that may book when `bookInPolicy` is `list` (empty otherwise). */
  bookers: string[];
}

export type BookInPolicy = 'everyone' | 'list';

export const defaultResourceSettings: Readonly<ResourceSettings> = Object.freeze({
  capacity: null,
  autoAccept: true,
  allowConflicts: false,
  windowDays: 180,
  maxDurationMinutes: 24 * 60,
  allowRecurring: true,
  bookInPolicy: 'everyone',
  bookers: [],
});

/** The bounds of each number, said in every refusal. */
export const resourceLimits = {
  capacity: { min: 1, max: 100_000 },
  windowDays: { min: 1, max: 1080 },
  maxDurationMinutes: { min: 5, max: 30 * 24 * 60 },
  bookers: 100,
};

/** A setting refused: names the setting, the value given and what is allowed. */
export class ResourceSettingError extends HoldfastError {
  constructor(
    readonly setting: keyof ResourceSettings,
    /** What is wrong, without the setting's name: `"lots" is not …`. */
    readonly problem: string,
  ) {
    super('invalid', 'invalid-resource-setting', `${setting}: ${problem}`);
  }
}

const shown = (value: unknown) => (typeof value === 'string' ? `"${value.slice(0, 100)}"` : String(value));

function wholeNumber(setting: keyof ResourceSettings, value: unknown, bounds: { min: number; max: number }): number {
  const n = typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < bounds.min || n > bounds.max)
    throw new ResourceSettingError(
      setting,
      `${shown(value)} is not allowed: a whole number from ${bounds.min} to ${bounds.max.toLocaleString('en')}`,
    );
  return n;
}

/** A yes/no setting: true/false, or "yes"/"no" (the command line). */
export function parseYesNo(setting: keyof ResourceSettings, value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  const text = typeof value === 'string' ? value.trim().toLowerCase() : undefined;
  if (text === 'yes' || text === 'true') return true;
  if (text === 'no' || text === 'false') return false;
  throw new ResourceSettingError(setting, `${shown(value)} is not allowed: yes or no`);
}

/** A room's capacity: a whole number of people, or null ("none") for not said. */
export function parseCapacity(value: unknown): number | null {
  if (value === null || (typeof value === 'string' && value.trim().toLowerCase() === 'none')) return null;
  return wholeNumber('capacity', value, resourceLimits.capacity);
}

export function parseWindowDays(value: unknown): number {
  return wholeNumber('windowDays', value, resourceLimits.windowDays);
}

/** The maximum duration: minutes as a number, or "90m", "4h", "2d" as text. */
export function parseMaxDuration(value: unknown): number {
  const { min, max } = resourceLimits.maxDurationMinutes;
  const allowed = `a duration such as "90m", "4h" or "2d" from ${min} minutes to ${max / 1440} days`;
  let minutes: unknown = value;
  if (typeof value === 'string') {
    const match = /^\s*(\d{1,7})\s*(m|h|d)\s*$/i.exec(value);
    if (!match) throw new ResourceSettingError('maxDurationMinutes', `${shown(value)} is not allowed: ${allowed}`);
    minutes = Number(match[1]) * { m: 1, h: 60, d: 1440 }[match[2]!.toLowerCase() as 'm' | 'h' | 'd'];
  }
  if (typeof minutes !== 'number' || !Number.isInteger(minutes) || minutes < min || minutes > max)
    throw new ResourceSettingError('maxDurationMinutes', `${shown(value)} is not allowed: ${allowed}`);
  return minutes;
}

export function parseBookInPolicy(value: unknown): BookInPolicy {
  const text = typeof value === 'string' ? value.trim().toLowerCase() : undefined;
  if (text === 'everyone' || text === 'list') return text;
  throw new ResourceSettingError('bookInPolicy', `${shown(value)} is not allowed: everyone or list`);
}

/** The bookers: addresses (users or groups), as an array or comma-separated text; each once, lower-case. */
export function parseBookers(value: unknown): string[] {
  const items =
    typeof value === 'string'
      ? value
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : Array.isArray(value)
        ? value
        : undefined;
  if (!items) throw new ResourceSettingError('bookers', `${shown(value)} is not allowed: a list of addresses`);
  if (items.length > resourceLimits.bookers)
    throw new ResourceSettingError(
      'bookers',
      `${items.length} addresses is too many: at most ${resourceLimits.bookers}`,
    );
  const out = new Set<string>();
  for (const item of items) {
    if (typeof item !== 'string')
      throw new ResourceSettingError('bookers', `${shown(item)} is not allowed: each booker is an address`);
    try {
      out.add(parseAddress(item).address);
    } catch {
      throw new ResourceSettingError('bookers', `${shown(item)} is not an address`);
    }
  }
  return [...out].sort();
}

type Row = Database['resource_settings'];

function fromRow(row: Row | undefined): ResourceSettings {
  if (!row) return { ...defaultResourceSettings, bookers: [] };
  const bookers = row.bookers === null ? null : (JSON.parse(row.bookers) as string[]);
  return {
    capacity: row.capacity === null ? null : Number(row.capacity),
    autoAccept: Number(row.auto_accept) === 1,
    allowConflicts: Number(row.allow_conflicts) === 1,
    windowDays: Number(row.window_days),
    maxDurationMinutes: Number(row.max_duration_minutes),
    allowRecurring: Number(row.allow_recurring) === 1,
    bookInPolicy: bookers === null ? 'everyone' : 'list',
    bookers: bookers ?? [],
  };
}

/** The settings of one resource (by principal id): its row, or the defaults. */
export async function resourceSettings(db: Kysely<Database>, principalId: number): Promise<ResourceSettings> {
  const row = await db
    .selectFrom('resource_settings')
    .selectAll()
    .where('principal_id', '=', principalId)
    .executeTakeFirst();
  return fromRow(row);
}

/** A room of a tenant as a room finder shows it. */
export interface ListedRoom {
  address: string;
  name: string | null;
  /** How many people it seats; null when its administrators have not said. */
  capacity: number | null;
  autoAccept: boolean;
}

/**
 * The rooms of one tenant with their capacity, by name then address (what the web calendar's room
 * finder offers); `minCapacity` keeps those known to seat at least that many.
 */
export async function listRooms(
  db: Kysely<Database>,
  tenantId: number,
  options: { minCapacity?: number } = {},
): Promise<ListedRoom[]> {
  const rows = await db
    .selectFrom('principals')
    .leftJoin('resource_settings', 'resource_settings.principal_id', 'principals.id')
    .select([
      'principals.address',
      'principals.display_name',
      'resource_settings.capacity',
      'resource_settings.auto_accept',
    ])
    .where('principals.tenant_id', '=', tenantId)
    .where('principals.kind', '=', 'room')
    .execute();
  const rooms = rows
    .map((r) => ({
      address: r.address,
      name: r.display_name,
      capacity: r.capacity === null || r.capacity === undefined ? null : Number(r.capacity),
      autoAccept: r.auto_accept === null || r.auto_accept === undefined ? true : Number(r.auto_accept) === 1,
    }))
    .filter((r) => options.minCapacity === undefined || (r.capacity !== null && r.capacity >= options.minCapacity));
  const key = (r: ListedRoom) => (r.name ?? r.address).toLowerCase();
  return rooms.sort((a, b) => key(a).localeCompare(key(b)) || (a.address < b.address ? -1 : 1));
}

/** A change of settings: each field already parsed (the parse functions above), absent ones unchanged. */
export type ResourceSettingsChange = Partial<ResourceSettings>;

/**
 * Changes one resource's settings (a room or equipment of `tenantId`, by principal id) and returns
 * them all. Refused as a whole, changing nothing: capacity on equipment, a `list` policy without
 * bookers, a booker that is not an address of the tenant.
 */
export async function setResourceSettings(
  db: Kysely<Database>,
  resource: { id: number; tenantId: number; kind: string },
  change: ResourceSettingsChange,
  now: number,
): Promise<ResourceSettings> {
  if (resource.kind !== 'room' && resource.kind !== 'equipment')
    throw notFound('unknown-resource', 'not a room or equipment');
  const current = await resourceSettings(db, resource.id);
  const next: ResourceSettings = { ...current, ...change };
  if (change.bookers !== undefined && change.bookInPolicy === undefined && change.bookers.length)
    next.bookInPolicy = 'list';
  if (next.bookInPolicy === 'everyone') next.bookers = [];
  if (resource.kind === 'equipment' && change.capacity !== undefined && change.capacity !== null)
    throw new ResourceSettingError('capacity', `${change.capacity} is not allowed: only rooms have a capacity`);
  if (next.bookInPolicy === 'list' && next.bookers.length === 0)
    throw new ResourceSettingError(
      'bookers',
      'none given: a "list" book-in policy needs at least one address or group',
    );
  if (change.bookers?.length) {
    const known = await db
      .selectFrom('addresses')
      .select('address')
      .where('tenant_id', '=', resource.tenantId)
      .where('address', 'in', change.bookers)
      .execute();
    const found = new Set(known.map((r) => r.address));
    const unknown = change.bookers.find((b) => !found.has(b));
    if (unknown)
      throw new ResourceSettingError(
        'bookers',
        `"${unknown}" is not an address of a user or group of this organisation`,
      );
  }
  const values = {
    capacity: next.capacity,
    auto_accept: next.autoAccept ? 1 : 0,
    allow_conflicts: next.allowConflicts ? 1 : 0,
    window_days: next.windowDays,
    max_duration_minutes: next.maxDurationMinutes,
    allow_recurring: next.allowRecurring ? 1 : 0,
    bookers: next.bookInPolicy === 'list' ? JSON.stringify(next.bookers) : null,
    updated_at: now,
  };
  await db
    .insertInto('resource_settings')
    .values({ principal_id: resource.id, tenant_id: resource.tenantId, ...values })
    .onConflict((oc) => oc.column('principal_id').doUpdateSet(values))
    .execute();
  return resourceSettings(db, resource.id);
}

/** The maximum duration as people say it: "4h", "90m", "1d 2h". */
export function durationText(minutes: number): string {
  const d = Math.floor(minutes / 1440);
  const h = Math.floor((minutes % 1440) / 60);
  const m = minutes % 60;
  return [d ? `${d}d` : '', h ? `${h}h` : '', m ? `${m}m` : ''].filter(Boolean).join(' ') || '0m';
}
