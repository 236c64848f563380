// A user's Sieve scripts in the store (migration 28): named, at most one active. Every script is
// compiled before it is kept, so a stored script that fails to compile is one written by an older
// version with other rules; delivery treats it as a script error (the mail goes to the INBOX).
import type { Generated, Kysely, Selectable } from 'kysely';
import { conflict, invalid, notFound } from '../errors.ts';
import type { Database } from '../store/schema.ts';
import { type CompileLimits, compileScript, defaultCompileLimits } from './compile.ts';
import { SieveError } from './sieve-error.ts';

export interface SieveScriptTable {
  id: Generated<number>;
  principal_id: number;
  name: string;
  content: string;
  is_active: number;
  updated_at: number;
  /** When the owner was told this version failed at delivery; null: not yet. */
  error_notified_at: number | null;
}

declare module '../store/schema.ts' {
  interface Database {
    sieve_scripts: SieveScriptTable;
  }
}

export interface SieveScript {
  id: number;
  name: string;
  content: string;
  active: boolean;
  updatedAt: number;
  errorNotifiedAt: number | null;
}

/** Scripts a user may keep. */
export const maxScriptsPerUser = 64;
export const maxScriptNameLength = 128;

function toScript(row: Selectable<SieveScriptTable>): SieveScript {
  return {
    id: Number(row.id),
    name: row.name,
    content: row.content,
    active: Number(row.is_active) === 1,
    updatedAt: Number(row.updated_at),
    errorNotifiedAt: row.error_notified_at === null ? null : Number(row.error_notified_at),
  };
}

/** RFC 5804 1.6: a script name is UTF-8 without control characters; ours are also at most 128 characters. */
export function checkScriptName(name: string) {
  if (name.length === 0 || name.length > maxScriptNameLength || /[\u0000-\u001f\u007f-\u009f\u2028\u2029/]/.test(name))
    throw invalid(
      'bad-sieve-name',
      `script name "${name}" is not allowed: 1 to ${maxScriptNameLength} characters, no control characters or "/"`,
    );
}

/** Compiles the script and says why it cannot be kept, if it cannot (line and reason). */
export function checkScript(content: string, limits: CompileLimits = defaultCompileLimits): string | undefined {
  try {
    compileScript(content, limits);
    return undefined;
  } catch (error) {
    if (error instanceof SieveError) return error.message;
    throw error;
  }
}

export async function listScripts(db: Kysely<Database>, principalId: number): Promise<SieveScript[]> {
  const rows = await db
    .selectFrom('sieve_scripts')
    .selectAll()
    .where('principal_id', '=', principalId)
    .orderBy('name')
    .execute();
  return rows.map(toScript);
}

export async function getScript(db: Kysely<Database>, principalId: number, name: string): Promise<SieveScript> {
  const row = await db
    .selectFrom('sieve_scripts')
    .selectAll()
    .where('principal_id', '=', principalId)
    .where('name', '=', name)
    .executeTakeFirst();
  if (!row) throw notFound('no-such-sieve-script', `there is no script "${name}"`);
  return toScript(row);
}

/** Stores (creates or replaces) a script after compiling it; an active script stays active. */
export async function putScript(
  db: Kysely<Database>,
  principalId: number,
  name: string,
  content: string,
  now: number,
  limits: CompileLimits = defaultCompileLimits,
): Promise<void> {
  checkScriptName(name);
  const problem = checkScript(content, limits);
  if (problem) throw invalid('bad-sieve-script', `script "${name}" has an error: ${problem}`);
  await db.transaction().execute(async (trx) => {
    const existing = await trx
      .selectFrom('sieve_scripts')
      .select('id')
      .where('principal_id', '=', principalId)
      .where('name', '=', name)
      .executeTakeFirst();
    if (existing) {
      await trx
        .updateTable('sieve_scripts')
        .set({ content, updated_at: now, error_notified_at: null })
        .where('id', '=', Number(existing.id))
        .execute();
      return;
    }
    const count = await trx
      .selectFrom('sieve_scripts')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('principal_id', '=', principalId)
      .executeTakeFirstOrThrow();
    if (Number(count.n) >= maxScriptsPerUser)
      throw conflict('too-many-sieve-scripts', `a user keeps at most ${maxScriptsPerUser} scripts`);
    await trx
      .insertInto('sieve_scripts')
      .values({ principal_id: principalId, name, content, is_active: 0, updated_at: now, error_notified_at: null })
      .execute();
  });
}

/** Makes this script the active one (and no other); null: none is active. */
export async function activateScript(db: Kysely<Database>, principalId: number, name: string | null, now: number) {
  await db.transaction().execute(async (trx) => {
    if (name !== null) await getScript(trx, principalId, name);
    await trx
      .updateTable('sieve_scripts')
      .set({ is_active: 0 })
      .where('principal_id', '=', principalId)
      .where('is_active', '=', 1)
      .execute();
    if (name !== null)
      await trx
        .updateTable('sieve_scripts')
        .set({ is_active: 1, updated_at: now, error_notified_at: null })
        .where('principal_id', '=', principalId)
        .where('name', '=', name)
        .execute();
  });
}

/** Deletes a script; the active one cannot be (RFC 5804 2.10): deactivate it first. */
export async function deleteScript(db: Kysely<Database>, principalId: number, name: string) {
  const script = await getScript(db, principalId, name);
  if (script.active)
    throw conflict('sieve-script-active', `script "${name}" is active: activate another or none first`);
  await db.deleteFrom('sieve_scripts').where('id', '=', script.id).execute();
}

export async function renameScript(db: Kysely<Database>, principalId: number, from: string, to: string, now: number) {
  checkScriptName(to);
  await db.transaction().execute(async (trx) => {
    const script = await getScript(trx, principalId, from);
    const taken = await trx
      .selectFrom('sieve_scripts')
      .select('id')
      .where('principal_id', '=', principalId)
      .where('name', '=', to)
      .executeTakeFirst();
    if (taken) throw conflict('sieve-script-exists', `there is a script "${to}" already`);
    await trx.updateTable('sieve_scripts').set({ name: to, updated_at: now }).where('id', '=', script.id).execute();
  });
}

/** The active script of each of these users that has one (one query per delivery batch). */
export async function activeScripts(db: Kysely<Database>, principalIds: number[]): Promise<Map<number, SieveScript>> {
  const out = new Map<number, SieveScript>();
  if (principalIds.length === 0) return out;
  const rows = await db
    .selectFrom('sieve_scripts')
    .selectAll()
    .where('principal_id', 'in', [...new Set(principalIds)])
    .where('is_active', '=', 1)
    .execute();
  for (const row of rows) out.set(Number(row.principal_id), toScript(row));
  return out;
}

/**
 * Takes the right to tell the owner that this version of the script failed: true once per version
 * (saving or activating the script again gives a new one), false after.
 */
export async function claimErrorNotice(db: Kysely<Database>, script: SieveScript, now: number): Promise<boolean> {
  const result = await db
    .updateTable('sieve_scripts')
    .set({ error_notified_at: now })
    .where('id', '=', script.id)
    .where('updated_at', '=', script.updatedAt)
    .where('error_notified_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}
