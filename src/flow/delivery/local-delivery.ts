// Local delivery: into the recipient's INBOX. The message row and the queue's "delivered" state are
// written in one transaction, and the message carries the queue recipient as its delivery key, so a
// redelivery after a crash can never add a second copy.
import type { Directory } from '../../directory/directory.ts';
import { formatSize } from '../../config/size.ts';
import { appendMessage } from '../../mailbox/append.ts';
import type { ChangeFeed, MailboxChange } from '../../mailbox/change-feed.ts';
import { ensureDefaultFolders, findFolder, usedBytes } from '../../mailbox/folders.ts';
import type { Kysely } from 'kysely';
import type { Database } from '../../store/schema.ts';
import { LeaseLostError, type ClaimedRecipient, type Outcome, type Queue } from '../queue/queue.ts';

export interface LocalDeliveryDeps {
  db: Kysely<Database>;
  directory: Directory;
  queue: Queue;
  changes: ChangeFeed;
  now(): number;
}

export async function deliverLocally(deps: LocalDeliveryDeps, recipients: ClaimedRecipient[]): Promise<void> {
  const failed: Outcome[] = [];
  for (const recipient of recipients) {
    const resolved = await deps.directory.resolveAddress(recipient.recipient);
    if (!resolved || resolved.principal.kind === 'group') {
      failed.push({ recipient, reply: `550 5.1.1 <${recipient.recipient}>: no such mailbox here` });
      continue;
    }
    const { principal } = resolved;
    if (principal.quotaBytes !== null && (await usedBytes(deps.db, principal.id)) + recipient.message.size > principal.quotaBytes) {
      failed.push({ recipient, reply: `552 5.2.2 <${recipient.recipient}>: mailbox full (quota ${formatSize(principal.quotaBytes)})` });
      continue;
    }
    const now = deps.now();
    const change = await deps.db
      .transaction()
      .execute(async (trx): Promise<MailboxChange | undefined> => {
      await ensureDefaultFolders(trx, principal, now);
      const inbox = (await findFolder(trx, principal.id, 'INBOX'))!;
      const appended = await appendMessage(
        trx,
        {
          mailboxId: inbox.id,
          tenantId: principal.tenantId,
          blobHash: recipient.message.blobHash,
          prefix: recipient.message.prefix,
          size: recipient.message.size,
          internalDate: recipient.message.receivedAt,
          deliveryKey: `queue-recipient:${recipient.id}`,
        },
        now,
      );
      await deps.queue.recordDelivered([{ recipient, reply: `250 2.0.0 delivered to ${principal.address} INBOX (uid ${appended.uid})` }], trx);
      if (!appended.added) return undefined;
      return { tenantId: principal.tenantId, principalId: principal.id, mailboxId: inbox.id, kind: 'append', uid: appended.uid, modseq: appended.modseq };
      })
      // Another worker took this recipient over (our lease expired): the append was rolled back and is theirs to make.
      .catch((error) => {
        if (error instanceof LeaseLostError) return undefined;
        throw error;
      });
    if (change) deps.changes.publish(change);
  }
  if (failed.length) await deps.queue.recordFailed(failed);
}
