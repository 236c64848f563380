// Sessions of the web app (docs/webmail.md): a browser signs in once with its password and then
// carries a random session id in an HttpOnly cookie. Only the SHA-256 of the id is stored, with the
// principal, the session generation it signed in under (a password change or `holdfast user kick`
// ends it, as it ends IMAP sessions) and its expiry. Rows are not backed up: a restored session
// would let an old cookie in again (backup/table-catalog.ts).
import type { Kysely } from 'kysely';
import { notNull } from './column-types.ts';

export async function up(db: Kysely<any>) {
  await db.schema
    .createTable('web_sessions')
    .addColumn('id_hash', 'text', (c) => c.primaryKey())
    .addColumn('principal_id', 'bigint', (c) => c.notNull().references('principals.id').onDelete('cascade'))
    .addColumn('session_generation', 'integer', notNull)
    .addColumn('created_at', 'bigint', notNull)
    .addColumn('last_seen_at', 'bigint', notNull)
    .addColumn('expires_at', 'bigint', notNull)
    .addColumn('remote_address', 'text', notNull)
    .addColumn('user_agent', 'text', notNull)
    .execute();
  await db.schema.createIndex('web_sessions_principal').on('web_sessions').column('principal_id').execute();
  await db.schema.createIndex('web_sessions_expiry').on('web_sessions').column('expires_at').execute();
}
