// Sessions that signed in before a password change, or before `holdfast user kick`, must end. Each
// of those bumps the principal's `session_generation`; a session remembers the generation it signed
// in under and ends when it finds another (directory/session-check.ts). A number rather than a time,
// so that nodes and the CLI never compare clocks.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>) {
  await db.schema
    .alterTable('principals')
    .addColumn('session_generation', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
}
