// What continuity users sent during an event goes back into their Sent folder at the upstream when it
// recovers ([continuity.upstream.sent], docs/continuity.md): the messages their clients saved in their
// Holdfast Sent folder (special-use \Sent) since the event started are appended over IMAP to the
// upstream's Sent folder, signed in as each user — by a master user (SASL PLAIN with the user as the
// authorization identity, as Dovecot, Cyrus and others allow) or with the user's own password from a
// credentials file. Each message is appended once: before an APPEND the upstream folder is searched
// for its Message-ID, so a round cut short (a crash, a lost connection) and run again adds nothing twice.
import { readFile } from 'node:fs/promises';
import { ImapFlow } from 'imapflow';
import type { Kysely } from 'kysely';
import type { ContinuityUpstream, UpstreamSentFolder } from '../config/schema.ts';
import type { Logger } from '../logging/logger.ts';
import { type BlobStore, readBlob } from '../store/blobs/blob-store.ts';
import type { Database } from '../store/schema.ts';
import type { ContinuityEvent } from './continuity-events.ts';

export interface SentReplayDeps {
  db: Kysely<Database>;
  blobs: BlobStore;
  logger: Logger;
  now(): number;
}

export interface SentReplayResult {
  appended: number;
  /** Found in the upstream folder already (appended by an earlier round). */
  present: number;
  /** Not appended for a reason that may pass (the upstream's IMAP unreachable): tried again next round. */
  waiting: number;
  /** Users whose sent items are left in Holdfast only: no credentials, login refused, or given up. */
  skipped: { address: string; reason: string }[];
}

interface SentMessage {
  id: number;
  address: string;
  blobHash: string;
  prefix: string;
  internalDate: number;
}

/** How long the upstream's IMAP may stay unreachable after the recovery before sent items are given up. */
export const sentGiveUpMs = 60 * 60_000;
const timeoutMs = 30_000;

export class SentReplay {
  /** Messages (rows) appended or found upstream in this process, per event: not searched for again. */
  private readonly done = new Map<number, Set<number>>();

  constructor(private readonly deps: SentReplayDeps) {}

  /** Appends what the event's users sent and is not upstream yet; `giveUp` turns waiting users into skipped ones. */
  async run(event: ContinuityEvent, upstream: ContinuityUpstream, giveUp: boolean): Promise<SentReplayResult> {
    const result: SentReplayResult = { appended: 0, present: 0, waiting: 0, skipped: [] };
    const sent = upstream.sent;
    if (!sent) return result;
    const done = this.done.get(event.id) ?? new Set<number>();
    this.done.set(event.id, done);
    const messages = (await sentDuring(this.deps.db, upstream.domains, event.startedAt, this.deps.now())).filter(
      (m) => !done.has(m.id),
    );
    const byUser = new Map<string, SentMessage[]>();
    for (const m of messages) byUser.set(m.address, [...(byUser.get(m.address) ?? []), m]);
    const credentials = sent.credentialsFile ? await readCredentials(sent.credentialsFile) : undefined;
    for (const [address, items] of byUser) {
      const auth = credentials
        ? credentials.get(address)
        : {
            user: decodeURIComponent(sent.url.username),
            pass: decodeURIComponent(sent.url.password),
            authzid: address,
            loginMethod: 'AUTH=PLAIN',
          };
      if (!auth) {
        result.skipped.push({ address, reason: `no line for ${address} in ${sent.credentialsFile}` });
        continue;
      }
      try {
        const counts = await this.appendFor(sent, auth, items, done);
        result.appended += counts.appended;
        result.present += counts.present;
      } catch (error) {
        const refused = loginRefused(error);
        if (refused || giveUp) result.skipped.push({ address, reason: refused ?? String(error) });
        else result.waiting += items.filter((m) => !done.has(m.id)).length;
        this.deps.logger.warn(
          { address, err: error, upstream: upstream.name },
          'continuity: could not append sent items upstream',
        );
      }
    }
    return result;
  }

  forget(eventId: number) {
    this.done.delete(eventId);
  }

  private async appendFor(
    sent: UpstreamSentFolder,
    auth: { user: string; pass: string; authzid?: string; loginMethod?: string },
    items: SentMessage[],
    done: Set<number>,
  ) {
    const secure = sent.url.protocol === 'imaps:';
    const client = new ImapFlow({
      host: sent.url.hostname,
      port: Number(sent.url.port) || (secure ? 993 : 143),
      secure,
      // The password never crosses the network in the clear: STARTTLS or nothing.
      doSTARTTLS: secure ? undefined : true,
      tls: { rejectUnauthorized: sent.tlsVerify },
      auth,
      logger: false,
      disableAutoIdle: true,
      connectionTimeout: timeoutMs,
      greetingTimeout: timeoutMs,
      socketTimeout: timeoutMs,
      clientInfo: { name: 'Holdfast continuity' },
    });
    client.on('error', () => {});
    const counts = { appended: 0, present: 0 };
    await client.connect();
    try {
      const folder = await sentFolder(client, sent.folder);
      for (const item of items) {
        const source = Buffer.concat([
          Buffer.from(item.prefix, 'utf8'),
          await readBlob(this.deps.blobs, item.blobHash),
        ]);
        const messageId = messageIdOf(source);
        const lock = await client.getMailboxLock(folder);
        let found = false;
        try {
          if (messageId)
            found = ((await client.search({ header: { 'message-id': messageId } }, { uid: true })) || []).length > 0;
        } finally {
          lock.release();
        }
        if (found) counts.present++;
        else {
          await client.append(folder, source, ['\\Seen'], new Date(item.internalDate));
          counts.appended++;
        }
        done.add(item.id);
      }
    } finally {
      await client.logout().catch(() => client.close());
    }
    return counts;
  }
}

/** Messages saved in a \Sent folder of a user of these domains since `since`, oldest first. */
async function sentDuring(
  db: Kysely<Database>,
  domains: string[],
  since: number,
  until: number,
): Promise<SentMessage[]> {
  const rows = await db
    .selectFrom('messages as m')
    .innerJoin('mailboxes as b', 'b.id', 'm.mailbox_id')
    .innerJoin('principals as p', 'p.id', 'b.principal_id')
    .select(['m.id', 'p.address', 'm.blob_hash', 'm.prefix', 'm.internal_date'])
    .where('b.special_use', '=', '\\Sent')
    .where('m.created_at', '>=', since)
    .where('m.created_at', '<=', until)
    .where((eb) => eb.or(domains.map((d) => eb('p.address', 'like', `%@${d}`))))
    .orderBy('m.id')
    .execute();
  return rows.map((r) => ({
    id: Number(r.id),
    address: r.address,
    blobHash: r.blob_hash,
    prefix: r.prefix,
    internalDate: Number(r.internal_date),
  }));
}

/** The configured folder, else the one the server marks \Sent, else "Sent"; created if it is missing. */
async function sentFolder(client: ImapFlow, configured: string | undefined): Promise<string> {
  const folders = await client.list();
  const wanted = configured ?? folders.find((f) => f.specialUse === '\\Sent')?.path ?? 'Sent';
  const existing = folders.find((f) => f.path.toLowerCase() === wanted.toLowerCase());
  if (existing) return existing.path;
  await client.mailboxCreate(wanted);
  return wanted;
}

/**
 * Why the upstream refused the login for good, or undefined when it may pass: imapflow marks every
 * refused login, also "NO [UNAVAILABLE] Temporary authentication failure" (RFC 5530), which is retried.
 */
function loginRefused(error: unknown): string | undefined {
  const { authenticationFailed, serverResponseCode, responseText } = error as {
    authenticationFailed?: boolean;
    serverResponseCode?: string;
    responseText?: string;
  };
  if (!authenticationFailed || serverResponseCode === 'UNAVAILABLE') return undefined;
  return `login refused: ${responseText ?? serverResponseCode ?? 'no reason given'}`;
}

/** The Message-ID in a message's header, if it has one. */
export function messageIdOf(source: Buffer): string | undefined {
  const end = source.indexOf('\r\n\r\n');
  const header = source
    .subarray(0, end < 0 ? Math.min(source.length, 65_536) : end)
    .toString('latin1')
    .replace(/\r?\n[ \t]+/g, ' ');
  return /^message-id:\s*(<[^>\s]+>)/im.exec(header)?.[1];
}

/** "address,password" or "address,login,password" lines; a header line and # comments are skipped. */
async function readCredentials(file: string): Promise<Map<string, { user: string; pass: string }>> {
  const credentials = new Map<string, { user: string; pass: string }>();
  for (const line of (await readFile(file, 'utf8')).split(/\r?\n/)) {
    const fields = line.split(',').map((f) => f.trim());
    if (!fields[0] || fields[0].startsWith('#') || !fields[0].includes('@')) continue;
    const address = fields[0].toLowerCase();
    if (fields.length === 2) credentials.set(address, { user: address, pass: fields[1]! });
    else if (fields.length >= 3) credentials.set(address, { user: fields[1]!, pass: fields.slice(2).join(',') });
  }
  return credentials;
}
