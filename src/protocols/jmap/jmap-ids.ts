// JMAP ids for what the mailbox layer stores (RFC 8620 1.2: A-Za-z0-9_-). An account is a principal;
// a Mailbox is a folder row. An Email is messages.email_id: given when a message enters the account
// and carried along when it moves between folders (IMAP MOVE or a mailboxIds update), so its id is
// immutable as RFC 8621 4.1.1 wants; a copy is a new Email. A Thread is messages.thread_id, the
// email_id of the message that began the conversation (mailbox/conversation-threads.ts). Neither is
// ever reused: both are row ids of the messages table. A blob id names the Email it is part of, so it
// too survives a move. Looking an id up goes through the store, within the signed-in account only.

export const accountId = (principalId: number) => `a${principalId}`;
export const mailboxId = (folderId: number) => `m${folderId}`;
export const emailId = (id: number) => `M${id}`;
export const threadId = (id: number) => `T${id}`;
/** The whole message as stored (prefix + blob). */
export const messageBlobId = (email: number) => `B${email}`;
/** One body part, decoded from its transfer encoding; the part id is its IMAP section with `_` for `.`. */
export const partBlobId = (email: number, partId: string) => `P${email}-${partId.replace(/\./g, '_')}`;

const number = (text: string | undefined) => (text && /^[1-9][0-9]{0,14}$/.test(text) ? Number(text) : undefined);

export function parseAccountId(id: unknown): number | undefined {
  return typeof id === 'string' && id.startsWith('a') ? number(id.slice(1)) : undefined;
}

export function parseMailboxId(id: unknown): number | undefined {
  return typeof id === 'string' && id.startsWith('m') ? number(id.slice(1)) : undefined;
}

/** The email_id an Email id names; undefined for anything this server did not make. */
export function parseEmailId(id: unknown): number | undefined {
  return typeof id === 'string' && id.startsWith('M') ? number(id.slice(1)) : undefined;
}

export function parseThreadId(id: unknown): number | undefined {
  return typeof id === 'string' && id.startsWith('T') ? number(id.slice(1)) : undefined;
}

export interface BlobKey {
  emailId: number;
  partId?: string;
}

export function parseBlobId(id: string): BlobKey | undefined {
  const match = /^(?:B([0-9]+)|P([0-9]+)-([0-9]+(?:_[0-9]+){0,31}))$/.exec(id);
  if (!match) return undefined;
  const email = number(match[1] ?? match[2]);
  if (!email) return undefined;
  return match[3] ? { emailId: email, partId: match[3].replace(/_/g, '.') } : { emailId: email };
}
