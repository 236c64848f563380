// Final delivery where the recipient's rules (Sieve) chose the folders: each message is appended to
// every folder named for it, with its flags, in the caller's transaction and under the same delivery
// key (the queue recipient) in each, so a redelivery after a crash adds nothing. A folder that does
// not exist is created when the rule said so (:create), and otherwise the copy goes to the INBOX, as
// does one whose name cannot be a folder: a rule never loses mail. The quota counts every copy.
import type { Transaction } from 'kysely';
import type { Database } from '../store/schema.ts';
import { appendMessage } from './append.ts';
import type { MailboxChange } from './change-feed.ts';
import { placeInThread, threadHeadersOfContents } from './conversation-threads.ts';
import { type Delivery, deliveryHeaders } from './delivery.ts';
import { createFolder, ensureDefaultFolders, findFolder, lockFolders, normalizeFolderName } from './folders.ts';
import { systemFlag } from './messages.ts';
import { fitsQuota } from './quota.ts';
import { junkFolder, junkKeyword, markedAsJunk } from './junk-marker.ts';

/** One copy: the folder (as the rule wrote it), its flags, and whether a missing folder is created. */
export interface Placement {
  folder: string;
  flags: string[];
  create: boolean;
}

export interface FiledDelivery extends Delivery {
  placements: Placement[];
}

export type FiledResult =
  | { delivered: true; placed: { folder: string; uid: number }[]; changes: MailboxChange[] }
  | { delivered: false; quotaBytes: number };

/** Flags a message may be given: the system flags but \Recent, and keywords (IMAP atoms). */
export function deliverableFlags(flags: string[]): string[] {
  const out = new Set<string>();
  for (const raw of flags) {
    const flag = systemFlag(raw);
    if (
      flag.startsWith('\\')
        ? ['\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft'].includes(flag)
        : /^[!#$&'+\-.0-9:<=>?@A-Z^_`a-z|~/]{1,100}$/.test(flag)
    )
      out.add(flag);
  }
  return [...out].sort();
}

export async function deliverFiled(
  trx: Transaction<Database>,
  deliveries: FiledDelivery[],
  now: number,
): Promise<FiledResult[]> {
  // Folders first (created where asked), in principal order as deliver() does, then all locked at once.
  const folderIds = new Map<string, number>();
  const resolved = new Map<FiledDelivery, { id: number; name: string; flags: string[] }[]>();
  for (const delivery of [...deliveries].sort((a, b) => a.recipient.id - b.recipient.id)) {
    const { recipient } = delivery;
    await ensureDefaultFolders(trx, recipient, now);
    const targets: { id: number; name: string; flags: string[] }[] = [];
    // A copy the spam filter marked that the rules keep in the INBOX goes to Junk, as without rules
    // (delivery.ts); a folder the rules chose stands.
    const junk = markedAsJunk(delivery.message.prefix);
    for (const placement of (delivery.placements.length ? delivery.placements : []).map((p) =>
      junk && p.folder.toUpperCase() === 'INBOX'
        ? { folder: junkFolder, flags: [...p.flags, junkKeyword], create: false }
        : p,
    )) {
      const folder = await resolveFolder(trx, recipient, placement, now);
      const same = targets.find((t) => t.id === folder.id);
      const flags = deliverableFlags(placement.flags);
      if (same) same.flags = deliverableFlags([...same.flags, ...flags]);
      else targets.push({ ...folder, flags });
      folderIds.set(`${folder.id}`, folder.id);
    }
    resolved.set(delivery, targets);
  }
  await lockFolders(trx, [...folderIds.values()]);
  const threadHeaders = await threadHeadersOfContents(
    trx,
    deliveries.map((d) => d.message.blobHash),
  );
  const results: FiledResult[] = [];
  for (const delivery of deliveries) {
    const { recipient, message, key } = delivery;
    const targets = resolved.get(delivery)!;
    const headers = deliveryHeaders(message.sender, recipient.address);
    const size = message.size + Buffer.byteLength(headers);
    if (!(await fitsQuota(trx, recipient.id, recipient.quotaBytes, size * targets.length))) {
      results.push({ delivered: false, quotaBytes: recipient.quotaBytes! });
      continue;
    }
    const placed: { folder: string; uid: number }[] = [];
    const changes: MailboxChange[] = [];
    for (const target of targets) {
      const appended = await appendMessage(
        trx,
        {
          mailboxId: target.id,
          tenantId: recipient.tenantId,
          blobHash: message.blobHash,
          prefix: headers + message.prefix,
          size,
          flags: target.flags,
          internalDate: message.receivedAt,
          deliveryKey: key,
          thread: await placeInThread(trx, recipient.id, threadHeaders.get(message.blobHash)),
        },
        now,
      );
      placed.push({ folder: target.name, uid: appended.uid });
      if (appended.added)
        changes.push({
          tenantId: recipient.tenantId,
          principalId: recipient.id,
          mailboxId: target.id,
          kind: 'append',
          uid: appended.uid,
          modseq: appended.modseq,
        });
    }
    results.push({ delivered: true, placed, changes });
  }
  return results;
}

async function resolveFolder(
  trx: Transaction<Database>,
  recipient: { id: number; tenantId: number },
  placement: Placement,
  now: number,
): Promise<{ id: number; name: string }> {
  const inbox = async () => ({ id: (await findFolder(trx, recipient.id, 'INBOX'))!.id, name: 'INBOX' });
  let name: string;
  try {
    name = normalizeFolderName(placement.folder);
  } catch {
    return inbox();
  }
  const found = await findFolder(trx, recipient.id, name);
  if (found) return { id: found.id, name };
  if (!placement.create) return inbox();
  const created = await createFolder(trx, recipient, name, null, now);
  return { id: Number(created.id), name };
}
