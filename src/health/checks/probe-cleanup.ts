// Probe mail leaves nothing behind: a day after a probe message arrived, it goes from the probe
// mailbox (the probe deletes what it sees at once; this catches what it could not, with IMAP down),
// and its queue entry, trace events, metadata and content are deleted. Each node cleans up after its
// own probe account; a probe message's content is unique (it carries a random token), so no other
// mailbox or queue entry shares it.
import { sql } from 'kysely';
import { findFolder } from '../../mailbox/folders.ts';
import { deleteMessages, type MessageDeps } from '../../mailbox/messages.ts';

export const probeRetentionMs = 86_400_000;

export async function cleanUpProbeMail(mail: MessageDeps, probe: { address: string; principalId: number }, now: number): Promise<number> {
  const { db, blobs } = mail;
  const inbox = await findFolder(db, probe.principalId, 'INBOX');
  if (inbox) {
    const old = await db.selectFrom('messages').select('uid').where('mailbox_id', '=', inbox.id).where('created_at', '<', now - probeRetentionMs).limit(500).execute();
    await deleteMessages(mail, inbox, old.map((m) => Number(m.uid)));
  }
  const probeAddress = probe.address;
  const done = await db
    .selectFrom('queue_messages as m')
    .select(['m.id', 'm.blob_hash'])
    .where('m.sender', '=', probeAddress)
    .where('m.received_at', '<', now - probeRetentionMs)
    .where(({ not, exists, selectFrom }) =>
      not(exists(selectFrom('queue_recipients as r').select('r.id').whereRef('r.message_id', '=', 'm.id').where('r.state', 'in', ['queued', 'inflight', 'deferred']))),
    )
    .limit(500)
    .execute();
  if (done.length === 0) return 0;
  const ids = done.map((m) => m.id);
  await db.transaction().execute(async (trx) => {
    await trx.deleteFrom('trace_events').where('message_id', 'in', ids).execute();
    await trx.deleteFrom('queue_recipients').where('message_id', 'in', ids).execute();
    await trx.deleteFrom('queue_messages').where('id', 'in', ids).execute();
  });
  for (const hash of new Set(done.map((m) => m.blob_hash))) {
    const inMailbox = await db.selectFrom('messages').select('id').where('blob_hash', '=', hash).limit(1).executeTakeFirst();
    const queued = await db.selectFrom('queue_messages').select('id').where('blob_hash', '=', hash).limit(1).executeTakeFirst();
    if (inMailbox || queued) continue; // a late probe message not yet deleted from the probe mailbox
    await db.deleteFrom('blob_metadata').where('hash', '=', hash).execute();
    await sql`delete from blob_text where hash = ${hash}`.execute(db);
    await blobs.delete(hash);
  }
  return done.length;
}
