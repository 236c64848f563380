// The messages of one account found by what JMAP names them with: their Email id (messages.email_id)
// or their conversation (messages.thread_id), each an indexed probe joined to the account's folders,
// so another account's ids are never found.
import type { Kysely } from 'kysely';
import { batches } from '../store/batches.ts';
import type { Database } from '../store/schema.ts';
import { messageRowColumns, toMessageRow, type MessageRow } from './messages.ts';

export interface AccountMessage extends MessageRow {
  folderId: number;
}

async function find(
  db: Kysely<Database>,
  principalId: number,
  column: 'email_id' | 'thread_id',
  ids: number[],
): Promise<AccountMessage[]> {
  const out: AccountMessage[] = [];
  for (const batch of batches([...new Set(ids)])) {
    const rows = await db
      .selectFrom('messages')
      .innerJoin('mailboxes', 'mailboxes.id', 'messages.mailbox_id')
      .select(messageRowColumns.map((c) => `messages.${c}` as const))
      .select('messages.mailbox_id')
      .where('mailboxes.principal_id', '=', principalId)
      .where(`messages.${column}`, 'in', batch)
      .execute();
    out.push(...rows.map((row) => ({ ...toMessageRow(row), folderId: Number(row.mailbox_id) })));
  }
  return out;
}

/** The account's messages holding these Emails (one each; none for an Email not there). */
export async function messagesByEmailId(db: Kysely<Database>, principalId: number, emailIds: number[]) {
  return find(db, principalId, 'email_id', emailIds);
}

/** Every message of the account in these threads. */
export async function messagesOfThreads(db: Kysely<Database>, principalId: number, threadIds: number[]) {
  return find(db, principalId, 'thread_id', threadIds);
}

/** Those of these threads that still have a message in the account. */
export async function livingThreads(db: Kysely<Database>, principalId: number, threadIds: number[]) {
  const living = new Set<number>();
  for (const batch of batches([...new Set(threadIds)])) {
    const rows = await db
      .selectFrom('messages')
      .innerJoin('mailboxes', 'mailboxes.id', 'messages.mailbox_id')
      .select('messages.thread_id')
      .distinct()
      .where('mailboxes.principal_id', '=', principalId)
      .where('messages.thread_id', 'in', batch)
      .execute();
    for (const row of rows) living.add(Number(row.thread_id));
  }
  return living;
}
