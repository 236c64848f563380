// The organisation's blocked attachment types (`holdfast rules attachments`), as Exchange's common
// attachment filter: a message to a tenant's users carrying a file whose name ends in one of the
// tenant's blocked extensions is refused at DATA (`550 5.7.1`, naming the file) when every recipient
// blocks it, and otherwise held in quarantine (filtering/quarantine.ts, reason "blocked") for the
// recipients that do, so the others still get it. Checked at intake, before the 250, for mail from
// outside and mail users submit alike; the sender hears of it at once and nothing bounces later.
// Mail that reaches a mailbox without passing intake for it (sent through JMAP, forwarded by a rule)
// is checked at local delivery instead (holdBlockedAttachments): held in quarantine, never bounced.
//
// Files are found by name only, never by content: the filename of Content-Disposition and the name of
// Content-Type (RFC 2231 and RFC 2047 encoded names decoded), in every part, those of attached messages
// (message/rfc822) included. Archives are not opened. The walk is bounded: a message with more parts
// than `maxPartsChecked` is treated as blocked, since what it carries could not all be checked.
import type { Directory } from '../../directory/directory.ts';
import { tenantBlockedAttachments } from '../../directory/tenant-settings.ts';
import { invalid } from '../../errors.ts';
import { holdMessage, type HeldMessage } from '../../filtering/quarantine.ts';
import type { Logger } from '../../logging/logger.ts';
import { decodeEncodedWords } from '../../message/encoded-words.ts';
import { type HeaderField, headerValue, parseHeaderSection } from '../../message/headers.ts';
import { decodeExtendedValue } from '../../message/mime-params.ts';
import { type MimePart, parseMimeTree } from '../../message/mime-tree.ts';
import { readBlob } from '../../store/blobs/blob-store.ts';
import type { Store } from '../../store/store.ts';
import type { LocalRecipient } from '../queue/outcomes.ts';
import { isStoreUnavailable } from '../../store/store-unavailable.ts';
import { smtpReply } from './smtp-reply.ts';
import type { SpooledMessage } from './spool.ts';

/**
 * `--block default`: the file types Exchange Online's common attachment filter blocks by default
 * (programs, scripts, installers, disk images, shortcuts, macro-enabled add-ins, some archive formats).
 */
export const defaultBlockedExtensions: readonly string[] = [
  'ace',
  'ani',
  'apk',
  'app',
  'appx',
  'arj',
  'bat',
  'cab',
  'cmd',
  'com',
  'deb',
  'dex',
  'dll',
  'docm',
  'elf',
  'exe',
  'hta',
  'img',
  'iso',
  'jar',
  'jnlp',
  'kext',
  'lha',
  'lib',
  'library',
  'lnk',
  'lzh',
  'macho',
  'msc',
  'msi',
  'msix',
  'msp',
  'mst',
  'pif',
  'ppa',
  'ppam',
  'reg',
  'rev',
  'scf',
  'scr',
  'sct',
  'sys',
  'uif',
  'vb',
  'vbe',
  'vbs',
  'vxd',
  'wsc',
  'wsf',
  'wsh',
  'xll',
  'xz',
  'z',
];

/** Extensions one tenant may block, at most. */
export const maxBlockedExtensions = 200;
/** Parts of one message looked at, at most (attached messages' parts included). */
export const maxPartsChecked = 1000;

/**
 * The extensions of `--block` ("exe,.js, VBS", "default", "default,zip"): lower case, without the
 * dot, each once; a word that is not an extension is refused, naming it.
 */
export function parseBlockedExtensions(given: string): string[] {
  const out = new Set<string>();
  for (const raw of given.split(/[\s,]+/).filter(Boolean)) {
    const word = raw.toLowerCase().replace(/^\*?\./, '');
    if (word === 'default') {
      for (const e of defaultBlockedExtensions) out.add(e);
      continue;
    }
    if (!/^[a-z0-9][a-z0-9_-]{0,15}$/.test(word))
      throw invalid(
        'bad-extension',
        `"${raw.slice(0, 40)}" is not a file name extension: letters, digits, "-" and "_", at most 16 (such as exe or .js), or "default"`,
      );
    out.add(word);
  }
  if (out.size === 0) throw invalid('bad-extension', 'no extension given; --off turns the rule off');
  if (out.size > maxBlockedExtensions)
    throw invalid('too-many-extensions', `at most ${maxBlockedExtensions} extensions, not ${out.size}`);
  return [...out].sort();
}

/** What makes a message blocked: the first file of a blocked type, or too many parts to check. */
export type BlockedFile = { name: string; extension: string } | { tooManyParts: true };

/** The first attachment whose name ends in one of `blocked`, if the message's MIME tree has one. */
export function findBlockedFile(tree: MimePart, blocked: ReadonlySet<string>): BlockedFile | undefined {
  const budget = { parts: 0 };
  const walk = (part: MimePart): BlockedFile | undefined => {
    if (++budget.parts > maxPartsChecked) return { tooManyParts: true };
    for (const name of fileNames(part)) {
      const extension = extensionOf(name);
      if (extension && blocked.has(extension)) return { name, extension };
    }
    for (const child of [...(part.children ?? []), ...(part.message ? [part.message.root] : [])]) {
      const found = walk(child);
      if (found) return found;
    }
    return undefined;
  };
  return walk(tree);
}

/** What a refusal or a quarantine says of the file. */
export function describeBlocked(found: BlockedFile): string {
  if ('tooManyParts' in found)
    return `the message has more than ${maxPartsChecked} parts, too many to check for blocked attachments`;
  return `attachment "${oneLine(found.name)}": .${found.extension} files are blocked`;
}

/** The names a part gives its file: Content-Disposition's filename and Content-Type's name, decoded. */
function fileNames(part: MimePart): string[] {
  const names: string[] = [];
  for (const [params, key] of [
    [part.disposition?.params, 'filename'],
    [part.params, 'name'],
  ] as const) {
    if (!params) continue;
    const extended = params[`${key}*`];
    const decoded = extended !== undefined ? decodeExtendedValue(extended) : undefined;
    // A value whose charset is unknown still shows its extension in its ASCII letters.
    if (extended !== undefined) names.push(decoded ?? extended.replace(/^[^']*'[^']*'/, ''));
    const plain = params[key];
    if (plain !== undefined) names.push(plain.includes('=?') ? decodeEncodedWords(plain) : plain);
  }
  return names;
}

/**
 * The extension of a file name as Windows reads it: after the last dot of its last path segment,
 * with trailing dots and spaces dropped ("invoice.pdf.exe. " is an .exe), lower case.
 */
function extensionOf(name: string): string | undefined {
  const base = name
    .split(/[/\\]/)
    .pop()!
    .replace(/[\s.\u0000]+$/, '');
  const dot = base.lastIndexOf('.');
  if (dot < 0 || dot === base.length - 1) return undefined;
  return base.slice(dot + 1).toLowerCase();
}

function oneLine(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f"]+/g, ' ').slice(0, 120);
}

/**
 * The tenants' blocked types for intake, read again at most once a second per tenant: a message to a
 * tenant costs no query of its own (a change applies within a second on each node). Held by the
 * Intake; at most `maxTenants` remembered.
 */
export class BlockedAttachmentRules {
  private readonly cached = new Map<number, { at: number; blocked: Set<string> | undefined }>();
  private static readonly maxTenants = 10_000;

  constructor(
    private readonly db: Store['db'],
    private readonly now: () => number,
    private readonly ttlMs = 1000,
  ) {}

  async of(tenantIds: number[]): Promise<Map<number, Set<string>>> {
    const now = this.now();
    const wanted = [...new Set(tenantIds)];
    const stale = wanted.filter((id) => {
      const entry = this.cached.get(id);
      return !entry || now - entry.at >= this.ttlMs || now < entry.at;
    });
    if (stale.length) {
      const read = await tenantBlockedAttachments(this.db, stale);
      if (this.cached.size + stale.length > BlockedAttachmentRules.maxTenants) this.cached.clear();
      for (const id of stale) this.cached.set(id, { at: now, blocked: read.get(id) });
    }
    const out = new Map<number, Set<string>>();
    for (const id of wanted) {
      const blocked = this.cached.get(id)?.blocked;
      if (blocked) out.set(id, blocked);
    }
    return out;
  }
}

export interface AttachmentFilterDeps {
  store: Store;
  /** Where the tenants' blocked types are read (each time, without it). */
  rules?: BlockedAttachmentRules;
  routing: Pick<Directory, 'resolveAddress'>;
  /** How long a held message stays (filtering.quarantine_retention). */
  quarantineRetentionMs: number;
  log?: Logger;
}

/**
 * The recipients still to receive the message once the tenants' blocked attachment types are
 * applied: those whose tenant blocks a file of the message are held in quarantine; when that is every
 * recipient, the message is refused (throws the 550) and nothing is kept.
 */
export async function applyBlockedAttachments<R extends { recipient: string; route: string; tenantId: number | null }>(
  deps: AttachmentFilterDeps,
  message: {
    spooled: SpooledMessage;
    prefix: string;
    fields: HeaderField[];
    sender: string;
    clientIp: string;
    session: string;
    now: number;
  },
  recipients: R[],
): Promise<R[]> {
  const local = recipients.filter((r) => r.route === 'local' && r.tenantId !== null);
  if (local.length === 0) return recipients;
  const tenantIds = local.map((r) => r.tenantId!);
  const rules = deps.rules ? await deps.rules.of(tenantIds) : await tenantBlockedAttachments(deps.store.db, tenantIds);
  if (rules.size === 0) return recipients;
  const { spooled } = message;
  // Parsed once, whatever the number of tenants that look at it.
  const tree = parseMimeTree(spooled.inline?.data ?? (await readBlob(deps.store.blobs, spooled.blob.hash)));
  const found = new Map<number, BlockedFile | undefined>();
  for (const [tenantId, blocked] of rules) found.set(tenantId, findBlockedFile(tree, blocked));
  const blockedFor = (r: R) => (r.route === 'local' && r.tenantId !== null ? found.get(r.tenantId) : undefined);
  const stopped = recipients.filter((r) => blockedFor(r));
  if (stopped.length === 0) return recipients;
  const first = blockedFor(stopped[0]!)!;
  if (stopped.length === recipients.length) {
    deps.log?.info(
      { session: message.session, sender: message.sender, reason: describeBlocked(first) },
      'rules: message refused for a blocked attachment',
    );
    throw smtpReply(550, '5.7.1', `Message rejected: ${describeBlocked(first)} by the recipient's organisation`);
  }
  const held: HeldMessage[] = [];
  for (const r of stopped) {
    const resolved = await deps.routing.resolveAddress(r.recipient).catch((error: unknown) => {
      if (isStoreUnavailable(error)) throw error;
      return undefined;
    });
    if (!resolved || resolved.principal.kind === 'group') continue;
    held.push({
      tenantId: resolved.principal.tenantId,
      principalId: resolved.principal.id,
      recipient: r.recipient,
      sender: message.sender,
      subject: headerValue(message.fields, 'subject')?.slice(0, 500) ?? null,
      messageId: headerValue(message.fields, 'message-id') ?? null,
      prefix: message.prefix,
      reason: 'blocked',
      detail: `${describeBlocked(blockedFor(r)!)} by the organisation`,
      score: null,
      clientIp: message.clientIp,
    });
  }
  if (held.length) {
    const ids = await holdMessage(
      deps.store,
      { hash: spooled.blob.hash, size: spooled.blob.size, data: spooled.inline?.data },
      held,
      message.now,
      deps.quarantineRetentionMs,
    );
    deps.log?.info(
      {
        quarantineIds: ids,
        sender: message.sender,
        recipients: held.map((h) => h.recipient),
        session: message.session,
      },
      'rules: quarantined for a blocked attachment',
    );
  }
  return recipients.filter((r) => !blockedFor(r));
}

export interface DeliveryCheckDeps {
  db: Store['db'];
  dialect: Store['dialect'];
  blobs: Store['blobs'];
  /** How long a held message stays (filtering.quarantine_retention; 30 days without it). */
  quarantineRetentionMs?: number;
  /** The stored MIME trees of contents (their metadata), so a message is not read and parsed again. */
  treesOf?(hashes: string[]): Promise<Map<string, MimePart>>;
  log?: Logger;
  now(): number;
}

/**
 * At local delivery, for mail that did not pass SMTP intake for these recipients (sent through JMAP,
 * forwarded by a rule): the copies for recipients whose tenant blocks a file of the message are held
 * in quarantine and handed back as `held`, to be recorded delivered with a note saying so; nobody
 * is sent a bounce. Mail that did pass intake was checked there and passes again.
 */
export async function holdBlockedAttachments(
  deps: DeliveryCheckDeps,
  ready: LocalRecipient[],
): Promise<{ deliver: LocalRecipient[]; held: LocalRecipient[] }> {
  if (ready.length === 0) return { deliver: ready, held: [] };
  const rules = await tenantBlockedAttachments(
    deps.db,
    ready.map((r) => r.mailbox.tenantId),
  );
  if (rules.size === 0) return { deliver: ready, held: [] };
  // The trees delivery stores anyway (intake stored those of small messages); others are parsed here.
  const wanted = ready.filter((r) => rules.has(r.mailbox.tenantId)).map((r) => r.recipient.message.blobHash);
  const trees = deps.treesOf ? await deps.treesOf([...new Set(wanted)]) : new Map<string, MimePart>();
  // A content read here is read once, for its tree and, if held, its header.
  const read = new Map<string, Buffer>();
  const bytesOf = async (hash: string) => {
    let bytes = read.get(hash);
    if (!bytes) read.set(hash, (bytes = await readBlob(deps.blobs, hash)));
    return bytes;
  };
  const found = new Map<string, BlockedFile | undefined>();
  const deliver: LocalRecipient[] = [];
  const stopped = new Map<string, { local: LocalRecipient; file: BlockedFile }[]>();
  for (const local of ready) {
    const blocked = rules.get(local.mailbox.tenantId);
    const { message } = local.recipient;
    const key = `${message.blobHash}:${local.mailbox.tenantId}`;
    if (blocked && !found.has(key)) {
      let tree = trees.get(message.blobHash);
      if (!tree) trees.set(message.blobHash, (tree = parseMimeTree(await bytesOf(message.blobHash))));
      found.set(key, findBlockedFile(tree, blocked));
    }
    const file = blocked && found.get(key);
    if (!file) deliver.push(local);
    else stopped.set(message.blobHash, [...(stopped.get(message.blobHash) ?? []), { local, file }]);
  }
  const held: LocalRecipient[] = [];
  for (const [hash, copies] of stopped) {
    const source = await bytesOf(hash);
    const headerEnd = source.indexOf('\r\n\r\n');
    const fields = parseHeaderSection(source.subarray(0, headerEnd < 0 ? source.length : headerEnd).toString('utf8'));
    const ids = await holdMessage(
      deps,
      { hash, size: source.length },
      copies.map(({ local, file }) => ({
        tenantId: local.mailbox.tenantId,
        principalId: local.mailbox.id,
        recipient: local.mailbox.address,
        sender: local.recipient.message.sender,
        subject: headerValue(fields, 'subject')?.slice(0, 500) ?? null,
        messageId: headerValue(fields, 'message-id') ?? null,
        prefix: local.recipient.message.prefix,
        reason: 'blocked',
        detail: `${describeBlocked(file)} by the organisation`,
        score: null,
        clientIp: '',
      })),
      deps.now(),
      deps.quarantineRetentionMs ?? 30 * 86_400_000,
    );
    deps.log?.info(
      {
        quarantineIds: ids,
        recipients: copies.map((c) => c.local.mailbox.address),
        queueId: copies[0]!.local.recipient.message.id,
      },
      'rules: quarantined at delivery for a blocked attachment',
    );
    for (const { local, file } of copies)
      held.push({
        ...local,
        filed: { placements: [], note: `quarantined: ${describeBlocked(file)} by the organisation` },
      });
  }
  return { deliver, held };
}
