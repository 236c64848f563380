// Email/get (RFC 8621 4.2): a message row with what the mailbox layer keeps of its content — the
// envelope and MIME tree (FETCH's structure cache), the decoded header fields — and, for body
// properties, byte ranges of the blob. Contents stored before their metadata existed have it
// computed once, as FETCH does. `headers` and `header:{name}:as{Form}` read the header section as
// written (email-headers.ts). renderEmail also shows the messages Email/parse reads.
import libmime from 'libmime';
import type { EnvelopeAddress } from '../../message/envelope.ts';
import { loadComputingMissing, loadMetadata } from '../../mailbox/message-metadata.ts';
import { messagesByEmailId } from '../../mailbox/account-messages.ts';
import type { MessageRow } from '../../mailbox/messages.ts';
import type { Folder } from '../../mailbox/folders.ts';
import {
  blobReader,
  bodyLists,
  bodyPartProperties,
  bodyStructure,
  bodyValue,
  defaultBodyProperties,
  headerFields,
  partHeaders,
  partReadableText,
  partText,
  previewOf,
  showPart,
  type BodyPart,
  type ContentReader,
} from './email-body.ts';
import { headerPropertiesOf, headerPropertyByName, type HeaderField } from './email-headers.ts';
import type { Envelope } from '../../message/envelope.ts';
import type { HeaderLine, MimePart } from '../../message/mime-tree.ts';
import type { JmapCallContext } from './jmap-context.ts';
import { invalidArguments } from './jmap-errors.ts';
import { emailId, mailboxId, messageBlobId, parseEmailId, partBlobId, threadId } from './jmap-ids.ts';
import { defaultMaxBodyValueBytes } from './jmap-limits.ts';
import { mailCapability, type JmapMethod } from './jmap-request.ts';
import { keywordsOf } from './keywords.ts';
import { accountFolders } from './mail-folders.ts';
import { getIds, getProperties, requireAccount, unsignedInt } from './method-arguments.ts';

/** The properties of an Email read from its header fields (RFC 8621 4.1.2-4.1.3). */
export const metadataProperties = [
  'messageId',
  'inReplyTo',
  'references',
  'sender',
  'from',
  'to',
  'cc',
  'bcc',
  'replyTo',
  'subject',
  'sentAt',
] as const;
const bodyProperties = [
  'bodyStructure',
  'bodyValues',
  'textBody',
  'htmlBody',
  'attachments',
  'hasAttachment',
  'preview',
] as const;
/** What Email/get shows of a message's content when no properties are named (Email/parse too: RFC 8621 4.9). */
export const defaultContentProperties = [
  ...metadataProperties,
  'hasAttachment',
  'preview',
  'bodyValues',
  'textBody',
  'htmlBody',
  'attachments',
];
const defaultProperties = [
  'id',
  'blobId',
  'threadId',
  'mailboxIds',
  'keywords',
  'size',
  'receivedAt',
  ...defaultContentProperties,
];
const knownProperties: ReadonlySet<string> = new Set([...defaultProperties, 'bodyStructure', 'headers']);
const knownBodyProperties: ReadonlySet<string> = new Set(bodyPartProperties);

export const utcDate = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

const decodeWords = (value: string) => {
  try {
    return libmime.decodeWords(value);
  } catch {
    return value;
  }
};

/** Addresses of an envelope field as EmailAddress objects; groups are flattened (asAddresses). */
function addresses(list: EnvelopeAddress[] | null): { name: string | null; email: string }[] | null {
  if (!list) return null;
  return list
    .filter(([, , mailbox, host]) => mailbox !== null && host !== null)
    .map(([name, , mailbox, host]) => ({ name: name ? decodeWords(name) : null, email: `${mailbox}@${host}` }));
}

/** The msg-ids of a header value, without angle brackets (asMessageIds). */
function messageIds(value: string | null | undefined): string[] | null {
  if (!value) return null;
  const ids = [...value.matchAll(/<([^<>\s]+)>/g)].map((m) => m[1]!);
  return ids.length ? ids : null;
}

/** A found message: its row and the folder it is in. */
export interface FoundEmail {
  id: string;
  folder: Folder;
  row: MessageRow;
}

/**
 * The rows of these Email ids among the principal's folders (one indexed probe per batch of ids), in
 * the order asked; the rest, and ids of other accounts, are not found.
 */
export async function findEmails(context: JmapCallContext, folders: Folder[], ids: string[]) {
  const byId = new Map(folders.map((f) => [f.id, f]));
  const keys = ids.map(parseEmailId).filter((key) => key !== undefined);
  const found = new Map<string, FoundEmail>();
  for (const row of await messagesByEmailId(context.mail.db, context.principal.id, keys)) {
    const folder = byId.get(row.folderId);
    if (folder) found.set(emailId(row.emailId), { id: emailId(row.emailId), folder, row });
  }
  const asked = [...new Set(ids)];
  return { found: asked.flatMap((id) => found.get(id) ?? []), notFound: asked.filter((id) => !found.has(id)) };
}

function bodyValueOptions(args: Record<string, unknown>) {
  const flag = (name: string) => {
    const value = args[name] ?? false;
    if (typeof value !== 'boolean') throw invalidArguments(`${name} must be true or false`);
    return value;
  };
  return {
    text: flag('fetchTextBodyValues'),
    html: flag('fetchHTMLBodyValues'),
    all: flag('fetchAllBodyValues'),
    maxBytes: unsignedInt(args, 'maxBodyValueBytes', defaultMaxBodyValueBytes) || defaultMaxBodyValueBytes,
  };
}

/** What Email/get and Email/parse were asked to show. */
export interface EmailRequest {
  wanted: string[];
  partProperties: string[];
  values: ReturnType<typeof bodyValueOptions>;
}

/** The properties, body properties and body value options of an Email/get or Email/parse. */
export function emailRequest(args: Record<string, unknown>, defaults: readonly string[] = defaultProperties) {
  const wanted = getProperties(
    args.properties,
    new Set([...knownProperties, ...headerPropertiesOf(args.properties)]),
    defaults,
  );
  const partProperties = getProperties(
    args.bodyProperties,
    new Set([...knownBodyProperties, ...headerPropertiesOf(args.bodyProperties)]),
    defaultBodyProperties,
    'bodyProperties',
  );
  return { wanted, partProperties, values: bodyValueOptions(args) };
}

/** A message to show as an Email: its content, MIME tree and metadata, and what the mailbox says of it. */
export interface EmailSource {
  /** The content's bytes (the offsets of `tree`). */
  read: ContentReader;
  /** Header lines Holdfast added on receipt, before the content (part of the Email's header). */
  prefix: string;
  tree: MimePart | undefined;
  envelope: Envelope | undefined;
  /** Top-level fields, decoded. */
  headers: HeaderLine[] | undefined;
  sentAt: number | null | undefined;
  partBlobId(partId: string): string;
  /** id, blobId, threadId, mailboxIds, keywords, size, receivedAt. */
  mailbox: Record<string, unknown>;
}

export const needsMetadata = (wanted: string[]) =>
  wanted.some((p) => (metadataProperties as readonly string[]).includes(p));
export const needsStructure = (wanted: string[]) =>
  wanted.some(
    (p) =>
      (metadataProperties as readonly string[]).includes(p) ||
      (bodyProperties as readonly string[]).includes(p) ||
      p === 'headers' ||
      p.startsWith('header:'),
  );

/** The Email object of one message with the properties asked for. */
export async function renderEmail(source: EmailSource, request: EmailRequest): Promise<Record<string, unknown>> {
  const { wanted, partProperties, values } = request;
  const { read, envelope } = source;
  const email: Record<string, unknown> = {};
  const header = (name: string) =>
    source.headers?.reduce<string | null>((last, [n, v]) => (n === name ? v : last), null) ?? null;
  const has = (name: string) => source.headers?.some(([n]) => n === name) ?? false;
  const needsBody = wanted.some((p) => (bodyProperties as readonly string[]).includes(p));
  const body = needsBody && source.tree ? bodyStructure(source.tree, source.partBlobId) : undefined;
  const lists = body && bodyLists(body);
  const headersOf = new Map<BodyPart, { name: string; value: string }[]>();
  if (body && partProperties.some((p) => p === 'headers' || p.startsWith('header:'))) {
    let budget = 2_000;
    const visit = async (part: BodyPart) => {
      if (budget-- <= 0) return;
      headersOf.set(part, await partHeaders(read, part.mime));
      for (const sub of part.subParts ?? []) await visit(sub);
    };
    await visit(body);
  }
  // The Email's own fields as written: the prefix's, then the content's header.
  let fields: HeaderField[] | undefined;
  const topFields = async () => {
    fields ??= [
      ...headerFields(Buffer.from(source.prefix, 'utf8').toString('latin1')),
      ...(source.tree ? await partHeaders(read, source.tree) : []),
    ];
    return fields;
  };
  const show = (part: BodyPart) => showPart(part, partProperties, headersOf, headerPropertyByName);
  for (const property of wanted) {
    if (property in source.mailbox) {
      email[property] = source.mailbox[property];
      continue;
    }
    if (property.startsWith('header:')) {
      email[property] = headerPropertyByName(await topFields(), property);
      continue;
    }
    switch (property) {
      case 'headers':
        email.headers = await topFields();
        break;
      case 'messageId':
        email.messageId = messageIds(envelope?.messageId);
        break;
      case 'inReplyTo':
        email.inReplyTo = messageIds(envelope?.inReplyTo);
        break;
      case 'references':
        email.references = messageIds(header('references'));
        break;
      case 'from':
      case 'to':
      case 'cc':
      case 'bcc':
        email[property] = addresses(envelope?.[property] ?? null);
        break;
      // The envelope fills Sender and Reply-To from From (IMAP); JMAP shows them only when present.
      case 'sender':
        email.sender = has('sender') ? addresses(envelope?.sender ?? null) : null;
        break;
      case 'replyTo':
        email.replyTo = has('reply-to') ? addresses(envelope?.replyTo ?? null) : null;
        break;
      case 'subject':
        email.subject = header('subject');
        break;
      case 'sentAt':
        email.sentAt = source.sentAt == null ? null : utcDate(source.sentAt);
        break;
      case 'bodyStructure':
        email.bodyStructure = body ? show(body) : null;
        break;
      case 'textBody':
      case 'htmlBody':
      case 'attachments':
        email[property] = lists ? lists[property].map(show) : [];
        break;
      case 'hasAttachment':
        email.hasAttachment = (lists?.attachments.length ?? 0) > 0;
        break;
      case 'preview': {
        const first = lists?.textBody.find((p) => p.type.startsWith('text/'));
        email.preview = first ? previewOf(await partReadableText(read, first.mime)) : '';
        break;
      }
      case 'bodyValues': {
        const chosen = new Set<BodyPart>();
        const textual = (p: BodyPart) => p.type.startsWith('text/');
        if (lists && values.text) lists.textBody.filter(textual).forEach((p) => chosen.add(p));
        if (lists && values.html) lists.htmlBody.filter(textual).forEach((p) => chosen.add(p));
        if (body && values.all) {
          const visit = (p: BodyPart) => {
            if (p.subParts) p.subParts.forEach(visit);
            else if (textual(p)) chosen.add(p);
          };
          visit(body);
        }
        const out: Record<string, unknown> = {};
        for (const part of chosen) out[part.partId!] = bodyValue(await partText(read, part.mime), values.maxBytes);
        email.bodyValues = out;
        break;
      }
    }
  }
  return email;
}

const emailGet: JmapMethod<JmapCallContext> = {
  capability: mailCapability,
  async run(args, context) {
    const accountId = requireAccount(args, context);
    const ids = getIds(args, false)!;
    const request = emailRequest(args);
    const { wanted } = request;
    const { mail } = context;
    const { folders, state } = await accountFolders(mail.db, context.principal, mail.now());
    const { found, notFound } = await findEmails(context, folders, ids);
    const hashes = found.map((e) => e.row.blobHash);
    const structures = needsStructure(wanted)
      ? await loadComputingMissing(mail, hashes, (some) => mail.index.structures.load(mail.db, some))
      : [];
    const metadata = needsMetadata(wanted)
      ? await loadComputingMissing(mail, hashes, (some) => loadMetadata(mail.db, some))
      : [];
    const list: Record<string, unknown>[] = [];
    for (const [i, { id, folder, row }] of found.entries()) {
      const meta = metadata[i];
      list.push(
        await renderEmail(
          {
            read: blobReader(mail.blobs, row.blobHash),
            prefix: row.prefix,
            tree: structures[i]?.tree,
            envelope: structures[i]?.envelope,
            headers: meta?.headers,
            sentAt: meta?.sentAt,
            partBlobId: (part) => partBlobId(row.emailId, part),
            mailbox: {
              id,
              blobId: messageBlobId(row.emailId),
              threadId: threadId(row.threadId),
              mailboxIds: { [mailboxId(folder.id)]: true },
              keywords: keywordsOf(row.flags),
              size: row.size,
              receivedAt: utcDate(row.internalDate),
            },
          },
          request,
        ),
      );
    }
    return { accountId, state, list, notFound };
  },
};

export const emailGetMethod: [string, JmapMethod<JmapCallContext>] = ['Email/get', emailGet];
