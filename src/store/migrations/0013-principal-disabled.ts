// An account can be disabled (`holdfast user set --disable`): it keeps its mailbox, addresses and
// incoming mail but cannot sign in. The time it was disabled is kept, for administrators to read.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>) {
  await db.schema.alterTable('principals').addColumn('disabled_at', 'bigint').execute();
}
