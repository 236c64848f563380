// `holdfast import imap`: every folder of a mailbox on another IMAP server into a Holdfast mailbox.
// Each source folder is opened read-only (EXAMINE: nothing changes there, not even \Seen) and read
// in UID batches: first a listing (flags, internal date, size, Message-ID) from which each
// message's import key is made, then only the messages the target folder lacks are downloaded,
// one at a time and streamed. Nothing assumes CONDSTORE, QRESYNC or any extension beyond
// IMAP4rev1, so that Exchange Online and other plain servers work. A message larger than the store
// takes (imap.append_limit) is listed as failed without being downloaded, and a source that sends
// more than it announced is cut off at the limit: nothing it sends is ever held whole.
import { ImapFlow, type FetchMessageObject, type ListResponse } from 'imapflow';
import { formatSize } from '../config/size.ts';
import { type HoldfastError, invalid, unavailable } from '../errors.ts';
import { folderDelimiter } from '../mailbox/folders.ts';
import type { BlobStore } from '../store/blobs/blob-store.ts';
import { failureReason } from './failure-reason.ts';
import { baseImportKey, KeyCounter, messageIdOf } from './import-key.ts';
import type { FolderReport, ImportReport } from './import-report.ts';
import type { MailTarget } from './mail-target.ts';
import { receiveContent } from './message-content.ts';

export interface ImapSource {
  /** imaps://host[:993] (TLS from the start) or imap://host[:143] (STARTTLS, required). */
  url: string;
  user: string;
  password?: string;
  /** An OAuth 2.0 access token, sent with SASL XOAUTH2 instead of a password. */
  accessToken?: string;
  /** Accept a certificate that does not verify (a test server's self-signed one). */
  insecure?: boolean;
  /** The largest message taken, in bytes (imap.append_limit): a larger one is listed as failed. */
  maxMessageSize?: number;
}

/** Messages listed per FETCH: the listing held in memory at once. */
const listingBatch = 250;

/** How much of a message one FETCH asks for (imapflow's download window). */
const downloadWindow = 64 * 1024;

/** Virtual folders that show messages kept elsewhere: copying them would copy those messages twice. */
const virtualFolders = ['\\All', '\\Flagged'];

export function parseImapUrl(url: string): { host: string; port: number; secure: boolean } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalid('invalid-option', `--from "${url}" is not a URL: expected imaps://host:993 or imap://host:143`);
  }
  const secure = parsed.protocol === 'imaps:';
  if (!secure && parsed.protocol !== 'imap:')
    throw invalid('invalid-option', `--from "${url}" is not an IMAP URL: expected imaps://host:993 or imap://host:143`);
  if (!parsed.hostname) throw invalid('invalid-option', `--from "${url}" names no host`);
  return {
    host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: parsed.port ? Number(parsed.port) : secure ? 993 : 143,
    secure,
  };
}

interface ImportContext {
  target: MailTarget;
  blobs: BlobStore;
  report: ImportReport;
  signal?: AbortSignal;
}

interface RunContext extends ImportContext {
  maxMessageSize: number | undefined;
  /** What ended the connection, when it ended. */
  connectionError: unknown;
}

export async function importFromImap(context: ImportContext, source: ImapSource): Promise<void> {
  const { host, port, secure } = parseImapUrl(source.url);
  const client = new ImapFlow({
    host,
    port,
    secure,
    // Over imap:// the password must never cross the network in the clear: STARTTLS or nothing.
    doSTARTTLS: secure ? undefined : true,
    tls: { rejectUnauthorized: !source.insecure },
    auth: source.accessToken
      ? { user: source.user, accessToken: source.accessToken }
      : { user: source.user, pass: source.password ?? '' },
    logger: false,
    // A literal is the one thing imapflow holds whole: none may be larger than a message is allowed
    // to be plus a download window (a source that ignores the window ends the connection here).
    maxLiteralSize: source.maxMessageSize === undefined ? undefined : source.maxMessageSize + downloadWindow,
    disableAutoIdle: true,
    clientInfo: { name: 'Holdfast import' },
  });
  // A dropped connection fails the command in progress; why it dropped is kept for its failure line.
  const run: RunContext = { ...context, maxMessageSize: source.maxMessageSize, connectionError: undefined };
  client.on('error', (error) => {
    run.connectionError = error;
  });
  try {
    await client.connect();
  } catch (error) {
    throw connectError(source.url, error);
  }
  try {
    const folders = await sourceFolders(client);
    for (const entry of folders) {
      if (context.signal?.aborted) break;
      await importFolder(run, client, entry);
      if (!client.usable) {
        context.report.stoppedBy = isOversized(run.connectionError)
          ? `${source.url} sent more than imap.append_limit at once: the connection was closed`
          : `the connection to ${source.url} was lost`;
        return;
      }
    }
    if (context.signal?.aborted) context.report.stoppedBy = 'interrupted';
  } catch (error) {
    context.report.stoppedBy = `${source.url}: ${failureReason(error)}`;
  } finally {
    await client.logout().catch(() => client.close());
  }
}

function connectError(url: string, error: unknown): HoldfastError {
  const e = error as { authenticationFailed?: boolean; code?: string; message?: string; responseText?: string };
  if (e.authenticationFailed)
    return invalid(
      'source-login-failed',
      `${url} refused the sign-in: ${e.responseText ?? e.message ?? 'no reason given'}`,
    );
  const reason = e.code === 'ECONNREFUSED' ? 'connection refused' : (e.responseText ?? e.message ?? String(error));
  return unavailable('source-unreachable', `cannot connect to ${url}: ${reason}`);
}

/** The personal folders worth reading, INBOX first: not the \Noselect ones, nor other users' or shared ones. */
async function sourceFolders(client: ImapFlow): Promise<ListResponse[]> {
  const listed = await client.list();
  const foreign = [...(client.namespaces?.other || []), ...(client.namespaces?.shared || [])].flatMap((ns) =>
    ns.prefix ? [ns.prefix] : [],
  );
  return listed
    .filter(
      (entry) =>
        !foreign.some((prefix) => entry.path.startsWith(prefix) || `${entry.path}${entry.delimiter}` === prefix),
    )
    .sort((a, b) =>
      a.path === 'INBOX' ? -1 : b.path === 'INBOX' ? 1 : a.path < b.path ? -1 : a.path > b.path ? 1 : 0,
    );
}

/** The target folder's name for a source path: its levels joined with "/" (a "/" inside a level becomes "_"). */
export function targetName(entry: Pick<ListResponse, 'path' | 'delimiter'>): string {
  if (entry.path.toUpperCase() === 'INBOX') return 'INBOX';
  const levels = entry.delimiter ? entry.path.split(entry.delimiter) : [entry.path];
  return levels.map((level) => level.replaceAll(folderDelimiter, '_')).join(folderDelimiter);
}

async function importFolder(context: RunContext, client: ImapFlow, entry: ListResponse) {
  const { target, report } = context;
  if (entry.flags.has('\\Noselect') || entry.flags.has('\\NonExistent')) return;
  if (entry.specialUse && virtualFolders.includes(entry.specialUse)) {
    report.folder(
      entry.path,
      undefined,
      `passed over: a virtual folder (${entry.specialUse}) of messages kept in other folders`,
    );
    return;
  }
  let folder: Awaited<ReturnType<MailTarget['folderFor']>>;
  try {
    folder = await target.folderFor(targetName(entry), entry.specialUse);
  } catch (error) {
    report.folder(entry.path, undefined, failureReason(error));
    return;
  }
  const folderReport = report.folder(entry.path, folder.name);
  const lock = await client.getMailboxLock(entry.path, { readOnly: true });
  try {
    const uids = ((await client.search({ all: true }, { uid: true })) || []).sort((a, b) => a - b);
    const counter = new KeyCounter();
    for (let at = 0; at < uids.length; at += listingBatch) {
      if (context.signal?.aborted || !client.usable) return;
      const batch = uids.slice(at, at + listingBatch);
      const listing = await listMessages(client, batch);
      folderReport.found += listing.length;
      const keys = listing.map((m) =>
        counter.next(
          baseImportKey({ messageId: m.messageId, header: m.header, internalDate: m.internalDate, size: m.size }),
        ),
      );
      const existing = await target.existingKeys(folder, keys);
      for (const [i, message] of listing.entries()) {
        if (context.signal?.aborted || !client.usable) return;
        const key = keys[i]!;
        if (existing.has(key)) folderReport.skipped++;
        else await copyMessage(context, client, folder, folderReport, message, key);
        report.progress(folderReport, uids.length);
      }
    }
  } finally {
    lock.release();
  }
}

interface ListedMessage {
  uid: number;
  flags: string[];
  internalDate: number;
  /** RFC822.SIZE as the source reports it (Exchange's is an estimate: only used in the key). */
  size: number;
  messageId: string | undefined;
  /** The whole header section, fetched only for messages without a Message-ID. */
  header?: Buffer;
}

async function listMessages(client: ImapFlow, uids: number[]): Promise<ListedMessage[]> {
  const listed: ListedMessage[] = [];
  const fetched: FetchMessageObject[] = [];
  for await (const message of client.fetch(
    uids.join(','),
    { uid: true, flags: true, internalDate: true, size: true, headers: ['message-id'] },
    { uid: true },
  ))
    fetched.push(message);
  for (const message of fetched) {
    const date = message.internalDate ? new Date(message.internalDate).getTime() : Number.NaN;
    listed.push({
      uid: message.uid,
      flags: [...(message.flags ?? [])],
      internalDate: Number.isFinite(date) ? date : 0,
      size: message.size ?? 0,
      messageId: message.headers ? messageIdOf(message.headers) : undefined,
    });
  }
  const anonymous = listed.filter((m) => m.messageId === undefined);
  if (anonymous.length) {
    const byUid = new Map(anonymous.map((m) => [m.uid, m]));
    for await (const message of client.fetch(
      anonymous.map((m) => m.uid).join(','),
      { uid: true, headers: true },
      { uid: true },
    )) {
      const listedMessage = byUid.get(message.uid);
      if (listedMessage) listedMessage.header = message.headers ?? Buffer.alloc(0);
    }
  }
  return listed.sort((a, b) => a.uid - b.uid);
}

async function copyMessage(
  context: RunContext,
  client: ImapFlow,
  folder: Awaited<ReturnType<MailTarget['folderFor']>>,
  folderReport: FolderReport,
  message: ListedMessage,
  key: string,
) {
  const label = `UID ${message.uid}`;
  const limit = context.maxMessageSize ?? Number.POSITIVE_INFINITY;
  if (message.size > limit) {
    context.report.failed(
      folderReport,
      label,
      `${formatSize(message.size)}, larger than the limit of ${formatSize(limit)} (imap.append_limit): not copied`,
    );
    return;
  }
  try {
    // At most one byte over the limit is asked for, a window at a time: enough to tell it is too large.
    const download = await client.download(String(message.uid), undefined, {
      uid: true,
      chunkSize: downloadWindow,
      maxBytes: limit + 1,
    });
    if (!download.content) {
      context.report.failed(folderReport, label, 'the message is no longer in the source folder');
      return;
    }
    const content = await receiveContent(context.blobs, upTo(download.content, limit));
    const added = await context.target.append(folder, content, {
      flags: message.flags,
      internalDate: message.internalDate,
      key,
    });
    if (added) context.report.copied(folderReport, content.size);
    else folderReport.skipped++;
  } catch (error) {
    context.report.failed(folderReport, label, copyFailure(client.usable ? error : (context.connectionError ?? error)));
  }

  function copyFailure(error: unknown): string {
    if (isOversized(error))
      return `the source sent more than the limit of ${formatSize(limit)} (imap.append_limit) for a message it announced as ${formatSize(message.size)}: not copied`;
    if ((error as { code?: string }).code === 'DownloadOverflow')
      return `the source sent more than twice the ${formatSize(message.size)} it announced: not copied`;
    return failureReason(error);
  }
}

class MessageTooLarge extends Error {}

/** A message over the limit, or a literal over it (imapflow's maxLiteralSize, which ends the connection). */
function isOversized(error: unknown): boolean {
  return error instanceof MessageTooLarge || (error as { code?: string } | undefined)?.code === 'LiteralTooLarge';
}

/** The chunks of a download, failing as soon as they add up to more than `limit` bytes. */
async function* upTo(chunks: AsyncIterable<Uint8Array>, limit: number): AsyncIterable<Uint8Array> {
  let size = 0;
  for await (const chunk of chunks) {
    size += chunk.length;
    if (size > limit) throw new MessageTooLarge();
    yield chunk;
  }
}
