// Each folder keeps the bytes its messages take, so that a quota check (at every delivery, APPEND and
// COPY, and for IMAP's GETQUOTAROOT) sums a principal's few folders instead of all their messages.
// Triggers keep it: every way a message enters, leaves or moves between folders — delivery, APPEND,
// COPY, MOVE, EXPUNGE, a deleted folder's cascade, and writes from another node — goes through them.
import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../database.ts';

export async function up(db: Kysely<any>, dialect: Dialect) {
  await db.schema
    .alterTable('mailboxes')
    .addColumn('used_bytes', 'bigint', (c) => c.notNull().defaultTo(0))
    .execute();
  await sql`update mailboxes set used_bytes = (select coalesce(sum(size), 0) from messages where messages.mailbox_id = mailboxes.id)`.execute(
    db,
  );
  if (dialect === 'sqlite') {
    await sql`create trigger messages_used_bytes_insert after insert on messages begin
      update mailboxes set used_bytes = used_bytes + new.size where id = new.mailbox_id;
    end`.execute(db);
    await sql`create trigger messages_used_bytes_delete after delete on messages begin
      update mailboxes set used_bytes = used_bytes - old.size where id = old.mailbox_id;
    end`.execute(db);
    await sql`create trigger messages_used_bytes_update after update of mailbox_id, size on messages begin
      update mailboxes set used_bytes = used_bytes - old.size where id = old.mailbox_id;
      update mailboxes set used_bytes = used_bytes + new.size where id = new.mailbox_id;
    end`.execute(db);
    return;
  }
  await sql`create function messages_used_bytes() returns trigger language plpgsql as $$
    begin
      if tg_op in ('DELETE', 'UPDATE') then
        update mailboxes set used_bytes = used_bytes - old.size where id = old.mailbox_id;
      end if;
      if tg_op in ('INSERT', 'UPDATE') then
        update mailboxes set used_bytes = used_bytes + new.size where id = new.mailbox_id;
      end if;
      return null;
    end
  $$`.execute(db);
  await sql`create trigger messages_used_bytes after insert or delete or update of mailbox_id, size on messages
    for each row execute function messages_used_bytes()`.execute(db);
}
