// Probe mail leaves nothing behind: a day after a probe message arrived, it goes from the probe
// mailbox (the probe deletes what it sees at once; this catches what it could not, with IMAP down),
// and its queue entry, trace events, metadata and content are deleted. Each node cleans up after its
// own probe account; a probe message's content is unique (it carries a random token), so no other
// mailbox or queue entry shares it.
import { findFolder } from '../../mailbox/folders.ts';
import { deleteMessages, type MessageDeps } from '../../mailbox/messages.ts';
import { purgeFinishedMail } from '../../flow/queue/queue-retention.ts';
import { deleteUnusedContents } from '../../store/content-collector.ts';

export const probeRetentionMs = 86_400_000;

export async function cleanUpProbeMail(
  mail: MessageDeps,
  probe: { address: string; principalId: number },
  now: number,
): Promise<number> {
  const { db, blobs } = mail;
  const inbox = await findFolder(db, probe.principalId, 'INBOX');
  if (inbox) {
    const old = await db
      .selectFrom('messages')
      .select('uid')
      .where('mailbox_id', '=', inbox.id)
      .where('created_at', '<', now - probeRetentionMs)
      .limit(500)
      .execute();
    await deleteMessages(
      mail,
      inbox,
      old.map((m) => Number(m.uid)),
    );
  }
  const { purged, hashes } = await purgeFinishedMail(db, now - probeRetentionMs, { sender: probe.address });
  if (inbox && hashes.length) {
    // A probe message delivered late (after its round gave up on it) is newer in the mailbox than in
    // the queue: it goes with its queue entry, or its content would be kept for good.
    const late = await db
      .selectFrom('messages')
      .select('uid')
      .where('mailbox_id', '=', inbox.id)
      .where('blob_hash', 'in', hashes)
      .execute();
    await deleteMessages(
      mail,
      inbox,
      late.map((m) => Number(m.uid)),
    );
  }
  await deleteUnusedContents(db, blobs, hashes, now - probeRetentionMs);
  return purged;
}
