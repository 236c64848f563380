// JMAP ids for what the mailbox layer stores (RFC 8620 1.2: A-Za-z0-9_-). An account is a principal;
// a Mailbox is a folder row; an Email is one message row, named by its folder and UID — IMAP's own
// key, so both protocols name the same thing and an id is never reused (UIDs only grow). A message
// moved to another folder is a new row with a new UID there, so its JMAP id changes too
// (docs/jmap.md says what that means for clients). A thread is one message for now.

export const accountId = (principalId: number) => `a${principalId}`;
export const mailboxId = (folderId: number) => `m${folderId}`;
export const emailId = (folderId: number, uid: number) => `e${folderId}-${uid}`;
export const threadId = (folderId: number, uid: number) => `t${folderId}-${uid}`;
/** The whole message as stored (prefix + blob). */
export const messageBlobId = (folderId: number, uid: number) => `b${folderId}-${uid}`;
/** One body part, decoded from its transfer encoding; the part id is its IMAP section with `_` for `.`. */
export const partBlobId = (folderId: number, uid: number, partId: string) =>
  `p${folderId}-${uid}-${partId.replace(/\./g, '_')}`;

const number = (text: string | undefined) => (text && /^[1-9][0-9]{0,14}$/.test(text) ? Number(text) : undefined);

export function parseAccountId(id: unknown): number | undefined {
  return typeof id === 'string' && id.startsWith('a') ? number(id.slice(1)) : undefined;
}

export function parseMailboxId(id: unknown): number | undefined {
  return typeof id === 'string' && id.startsWith('m') ? number(id.slice(1)) : undefined;
}

export interface MessageKey {
  folderId: number;
  uid: number;
}

export function parseEmailId(id: unknown): MessageKey | undefined {
  const match = typeof id === 'string' ? /^e([0-9]+)-([0-9]+)$/.exec(id) : null;
  const folderId = number(match?.[1]);
  const uid = number(match?.[2]);
  return folderId && uid ? { folderId, uid } : undefined;
}

export type BlobKey = MessageKey & { partId?: string };

export function parseBlobId(id: string): BlobKey | undefined {
  const match = /^(?:b([0-9]+)-([0-9]+)|p([0-9]+)-([0-9]+)-([0-9]+(?:_[0-9]+){0,31}))$/.exec(id);
  if (!match) return undefined;
  const folderId = number(match[1] ?? match[3]);
  const uid = number(match[2] ?? match[4]);
  if (!folderId || !uid) return undefined;
  return match[5] ? { folderId, uid, partId: match[5].replace(/_/g, '.') } : { folderId, uid };
}
