// Continuity copies are kept `continuity.retain` (30 days) after their event closed, then removed
// from the mailboxes: by then the same mail is in the upstream's mailboxes, and Holdfast's copies
// would only confuse a user who signs in again at the next event. A copy the user moved or copied
// to another folder is a message of their own and stays; one already expunged is simply gone.
import type { Kysely } from 'kysely';
import type { Logger } from '../logging/logger.ts';
import { listFolders } from '../mailbox/folders.ts';
import { deleteMessages, type MessageDeps } from '../mailbox/messages.ts';
import type { Database } from '../store/schema.ts';
import type { ContinuityEvents } from './continuity-events.ts';

/** Copies removed per round, so that a large event's copies go over several rounds. */
const perRound = 2000;

export async function removeExpiredCopies(
  deps: { mail: MessageDeps; events: ContinuityEvents; logger: Logger },
  retainMs: number,
  now: number,
): Promise<number> {
  const db: Kysely<Database> = deps.mail.db;
  let removed = 0;
  for (const event of await deps.events.closedBefore(now - retainMs)) {
    const copies = await db
      .selectFrom('continuity_copies as c')
      .innerJoin('mailboxes as f', 'f.id', 'c.mailbox_id')
      .select(['c.queue_recipient_id', 'c.principal_id', 'c.mailbox_id', 'c.uid'])
      .where('c.event_id', '=', event.id)
      .where('c.removed_at', 'is', null)
      .limit(perRound - removed)
      .execute();
    const byFolder = new Map<number, { principalId: number; uids: number[] }>();
    for (const c of copies) {
      if (c.uid === null || c.mailbox_id === null) continue;
      const entry = byFolder.get(Number(c.mailbox_id)) ?? { principalId: Number(c.principal_id), uids: [] };
      entry.uids.push(Number(c.uid));
      byFolder.set(Number(c.mailbox_id), entry);
    }
    for (const [folderId, { principalId, uids }] of byFolder) {
      const folder = (await listFolders(db, principalId)).find((f) => f.id === folderId);
      if (folder) removed += await deleteMessages(deps.mail, folder, uids);
    }
    // Marked removed whether or not the message was still there: nothing more to do for them.
    for (const c of copies)
      await db
        .updateTable('continuity_copies')
        .set({ removed_at: now })
        .where('queue_recipient_id', '=', c.queue_recipient_id)
        .where('principal_id', '=', c.principal_id)
        .execute();
    // Copies whose mailbox is gone (the user was removed) have nothing left to remove.
    await db
      .updateTable('continuity_copies')
      .set({ removed_at: now })
      .where('event_id', '=', event.id)
      .where('removed_at', 'is', null)
      .where((eb) =>
        eb.or([
          eb('mailbox_id', 'is', null),
          eb.not(
            eb.exists(
              eb.selectFrom('mailboxes as f').select('f.id').whereRef('f.id', '=', 'continuity_copies.mailbox_id'),
            ),
          ),
        ]),
      )
      .execute();
    if (removed >= perRound) break;
  }
  if (removed) deps.logger.info({ removed }, 'continuity: copies past continuity.retain removed from mailboxes');
  return removed;
}
