// Final delivery of queued mail into INBOXes: the default folders, the quota and the append, in the
// caller's transaction. The queue records the delivered state in that same transaction (and the
// delivery key, the queue recipient, makes a repeated append add nothing), so a message is in the
// mailbox exactly once whatever crashes when.
import type { Transaction } from 'kysely';
import type { Database } from '../store/schema.ts';
import { appendMessage } from './append.ts';
import { placeInThread, threadHeadersOfContents } from './conversation-threads.ts';
import type { MailboxChange } from './change-feed.ts';
import { ensureDefaultFolders, findFolder, lockFolders } from './folders.ts';
import { fitsQuota } from './quota.ts';
import { junkFolder, junkKeyword, markedAsJunk } from './junk-marker.ts';

/** The mailbox a message is delivered to. */
export interface Recipient {
  id: number;
  tenantId: number;
  address: string;
  quotaBytes: number | null;
}

/** A queued message as delivery needs it. */
export interface DeliveredMessage {
  sender: string;
  blobHash: string;
  /** The header lines added on receipt, kept beside the blob. */
  prefix: string;
  size: number;
  receivedAt: number;
}

export interface Delivery {
  recipient: Recipient;
  message: DeliveredMessage;
  /** Names the delivery: the same key in the same INBOX adds nothing the second time. */
  key: string;
}

export type DeliveryResult =
  | { delivered: true; uid: number; change?: MailboxChange }
  | { delivered: false; quotaBytes: number };

/**
 * Delivers each message to its recipient's INBOX, in order, and says for each whether it went in;
 * one that would take its mailbox over quota does not (counting the messages delivered before it).
 * Every INBOX is locked before the first append, in one order (see lockFolders): batches running at
 * once share INBOXes. Folders are created in principal order for the same reason.
 */
export async function deliver(
  trx: Transaction<Database>,
  deliveries: Delivery[],
  now: number,
): Promise<DeliveryResult[]> {
  const inboxes = new Map<number, number>();
  // Copies the spam filter marked go to the Junk folder instead (filtering, mailbox/junk-marker.ts).
  const junk = new Map<number, number>();
  for (const { recipient, message } of [...deliveries].sort((a, b) => a.recipient.id - b.recipient.id)) {
    if (!inboxes.has(recipient.id)) {
      await ensureDefaultFolders(trx, recipient, now);
      inboxes.set(recipient.id, (await findFolder(trx, recipient.id, 'INBOX'))!.id);
    }
    if (markedAsJunk(message.prefix) && !junk.has(recipient.id))
      junk.set(recipient.id, (await findFolder(trx, recipient.id, junkFolder))?.id ?? inboxes.get(recipient.id)!);
  }
  await lockFolders(trx, [...new Set([...inboxes.values(), ...junk.values()])]);
  // Read once per content: a message to many recipients is parsed once (its metadata is stored before delivery).
  const threadHeaders = await threadHeadersOfContents(
    trx,
    deliveries.map((d) => d.message.blobHash),
  );
  const results: DeliveryResult[] = [];
  for (const { recipient, message, key } of deliveries) {
    const toJunk = markedAsJunk(message.prefix) && junk.has(recipient.id);
    const inbox = toJunk ? junk.get(recipient.id)! : inboxes.get(recipient.id)!;
    const headers = deliveryHeaders(message.sender, recipient.address);
    const size = message.size + Buffer.byteLength(headers);
    if (!(await fitsQuota(trx, recipient.id, recipient.quotaBytes, size))) {
      results.push({ delivered: false, quotaBytes: recipient.quotaBytes! });
      continue;
    }
    const appended = await appendMessage(
      trx,
      {
        mailboxId: inbox,
        tenantId: recipient.tenantId,
        blobHash: message.blobHash,
        prefix: headers + message.prefix,
        size,
        internalDate: message.receivedAt,
        deliveryKey: key,
        flags: toJunk ? [junkKeyword] : undefined,
        thread: await placeInThread(trx, recipient.id, threadHeaders.get(message.blobHash)),
      },
      now,
    );
    const change: MailboxChange = {
      tenantId: recipient.tenantId,
      principalId: recipient.id,
      mailboxId: inbox,
      kind: 'append',
      uid: appended.uid,
      modseq: appended.modseq,
    };
    results.push({ delivered: true, uid: appended.uid, change: appended.added ? change : undefined });
  }
  return results;
}

/**
 * What final delivery adds on top of the stored message (RFC 5321 §4.4, as Postfix's local(8)):
 * the envelope sender ("<>" for bounces), and the mailbox the message reached after alias and group
 * expansion. Kept in the row's prefix, so every copy still shares one blob and the delivery key
 * (the queue recipient) does not depend on them.
 */
export function deliveryHeaders(sender: string, mailbox: string): string {
  return `Return-Path: <${sender}>\r\nDelivered-To: ${mailbox}\r\n`;
}
