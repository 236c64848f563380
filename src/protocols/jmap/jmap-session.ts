// The session resource (RFC 8620 2): what the server offers and where, for one signed-in principal.
import { createHash } from 'node:crypto';
import type { Principal } from '../../directory/directory.ts';
import { contactsCapability } from './contacts-methods.ts';
import { accountId } from './jmap-ids.ts';
import { emailSortProperties } from './email-sort.ts';
import { isReadOnly, type SharedAccount } from './jmap-accounts.ts';
import { jmapLimits } from './jmap-limits.ts';
import { coreCapability, mailCapability, vacationResponseCapability } from './jmap-request.ts';
import { quotaCapability, submissionCapability } from './jmap-sending.ts';

export const jmapPaths = {
  api: '/jmap/api/',
  download: '/jmap/download/',
  upload: '/jmap/upload/',
  eventSource: '/jmap/eventsource/',
  webSocket: '/jmap/ws/',
};

/** RFC 8887: JMAP over WebSocket, with push. */
export const webSocketCapability = 'urn:ietf:params:jmap:websocket';

/**
 * RFC 8621 1.3.1: the attachments' total, unencoded, that fits in a message of `maxMessageBytes` once
 * base64 makes each 57 bytes a 76-character line and its CRLF, with 64 KB left for the headers, the
 * text and the MIME structure.
 */
export const attachmentsLimit = (maxMessageBytes: number) =>
  Math.max(0, Math.floor(((maxMessageBytes - 65_536) * 57) / 78));

/** The capabilities of an account, for the capabilities the server serves and its message size limit. */
function accountCapabilities(capabilities: ReadonlySet<string>, maxMessageBytes: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (capabilities.has(mailCapability))
    out[mailCapability] = {
      // A message row is in one folder (a copy is another row): docs/jmap.md.
      maxMailboxesPerEmail: 1,
      maxMailboxDepth: null,
      maxSizeMailboxName: 1000,
      maxSizeAttachmentsPerEmail: attachmentsLimit(maxMessageBytes),
      emailQuerySortOptions: [...emailSortProperties],
      // Mailbox/set creates folders at the top as IMAP CREATE does.
      mayCreateTopLevelMailbox: true,
    };
  // RFC 8621 8: the account capability has no properties.
  if (capabilities.has(vacationResponseCapability)) out[vacationResponseCapability] = {};
  // Submissions are queued at once: no delayed send, no SMTP extensions in envelopes (docs/jmap.md).
  if (capabilities.has(submissionCapability))
    out[submissionCapability] = { maxDelayedSend: 0, submissionExtensions: {} };
  if (capabilities.has(quotaCapability)) out[quotaCapability] = {};
  // RFC 9610 1.4.1: a card is in one address book; AddressBook/set makes them (as CardDAV's MKCOL).
  if (capabilities.has(contactsCapability))
    out[contactsCapability] = { maxAddressBooksPerCard: 1, mayCreateAddressBook: true };
  return out;
}

/**
 * A shared account's capabilities: mail, without creating folders at the top (they are the owner's),
 * and the mailbox's contacts (full access includes its address books).
 */
function sharedAccountCapabilities(
  capabilities: ReadonlySet<string>,
  maxMessageBytes: number,
): Record<string, unknown> {
  const all = accountCapabilities(capabilities, maxMessageBytes);
  const mail = all[mailCapability];
  return {
    ...(mail ? { [mailCapability]: { ...(mail as object), mayCreateTopLevelMailbox: false } } : {}),
    // A shared mailbox's address books are its owner's to make, as its folders are.
    ...(all[contactsCapability]
      ? { [contactsCapability]: { ...(all[contactsCapability] as object), mayCreateAddressBook: false } }
      : {}),
  };
}

export function sessionResource(
  principal: Principal,
  baseUrl: string,
  capabilities: ReadonlySet<string>,
  /** Limits of this server's configuration (maxSizeUpload: its message size limit). */
  limits: { maxSizeUpload?: number } = {},
  /** Mailboxes shared with the principal, each an account of its own (jmap-accounts.ts). */
  shared: SharedAccount[] = [],
) {
  const account = accountId(principal.id);
  const maxMessageBytes = limits.maxSizeUpload ?? jmapLimits.maxSizeUpload;
  const serverCapabilities: Record<string, unknown> = { [coreCapability]: { ...jmapLimits, ...limits } };
  for (const capability of capabilities) if (capability !== coreCapability) serverCapabilities[capability] = {};
  serverCapabilities[webSocketCapability] = {
    url: `${baseUrl.replace(/^http/, 'ws')}${jmapPaths.webSocket}`,
    supportsPush: true,
  };
  const session = {
    capabilities: serverCapabilities,
    accounts: {
      [account]: {
        name: principal.address,
        isPersonal: true,
        isReadOnly: false,
        accountCapabilities: accountCapabilities(capabilities, maxMessageBytes),
      },
      ...Object.fromEntries(
        shared.map(({ owner, access }) => [
          accountId(owner.id),
          {
            name: owner.address,
            isPersonal: false,
            isReadOnly: isReadOnly(access),
            // Mail and contacts: identities, submissions, quota and automatic replies are the owner's business.
            accountCapabilities: sharedAccountCapabilities(capabilities, maxMessageBytes),
          },
        ]),
      ),
    },
    primaryAccounts: Object.fromEntries([...capabilities].filter((c) => c !== coreCapability).map((c) => [c, account])),
    username: principal.address,
    apiUrl: `${baseUrl}${jmapPaths.api}`,
    downloadUrl: `${baseUrl}${jmapPaths.download}{accountId}/{blobId}/{name}?type={type}`,
    uploadUrl: `${baseUrl}${jmapPaths.upload}{accountId}/`,
    eventSourceUrl: `${baseUrl}${jmapPaths.eventSource}?types={types}&closeafter={closeafter}&ping={ping}`,
  };
  // The state changes when anything above does (the session is made from these alone).
  const state = createHash('sha256').update(JSON.stringify(session)).digest('base64url').slice(0, 16);
  return { ...session, state };
}
