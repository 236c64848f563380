// Making Emails (RFC 8621 4.6-4.8): Email/set create writes an RFC 5322 message from an Email object
// (nodemailer's MimeNode does the MIME: boundaries, transfer encodings, folding), Email/import takes
// an uploaded message as it is, Email/copy copies between accounts. Each message is stored as IMAP
// APPEND stores one (mailbox/messages.ts appendContent: quota, thread, IDLE sessions told), in the
// one Mailbox of `mailboxIds` (a message is in one folder here, docs/jmap.md).
import MimeNode from 'nodemailer/lib/mime-node';
import { foldLines } from 'nodemailer/lib/mime-funcs';
import { appendContent } from '../../mailbox/messages.ts';
import type { Folder } from '../../mailbox/folders.ts';
import { QuotaExceeded } from '../../mailbox/quota.ts';
import { parseHeaderLines, splitHeader } from '../../message/mime-tree.ts';
import { rfc5322Date } from '../../message/headers.ts';
import { fieldValue, HeaderValueError, parseHeaderProperty, type HeaderForm } from './email-headers.ts';
import type { JmapCallContext } from './jmap-context.ts';
import { invalidArguments, MethodError } from './jmap-errors.ts';
import { emailId, mailboxId, messageBlobId, threadId } from './jmap-ids.ts';
import { jmapLimits } from './jmap-limits.ts';
import { readResolved, resolveBlob, type ResolvedBlob } from './jmap-blobs.ts';
import { mailCapability, type JmapMethod } from './jmap-request.ts';
import { flagOf, isKeyword } from './keywords.ts';
import { accountFolders } from './mail-folders.ts';
import { metadataProperties } from './email-get.ts';
import { requireRights } from './jmap-accounts.ts';
import { requireAccount, requireInState } from './method-arguments.ts';
import { invalidProperty, SetFailure, SetResults } from './set-outcome.ts';

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Body parts of one Email at most, and nesting of a bodyStructure. */
const maxParts = 100;
const maxDepth = 10;
/** header:… properties of one Email or part at most. */
const maxHeaderProperties = 100;

const maxSizeOf = (context: JmapCallContext) => context.maxSizeUpload ?? jmapLimits.maxSizeUpload;

/** Where a new message goes and with what: the one folder of mailboxIds, flags and INTERNALDATE. */
export function placement(object: Record<string, unknown>, folders: Map<string, Folder>, now: number) {
  const boxes = object.mailboxIds;
  if (!isObject(boxes) || Object.values(boxes).some((v) => v !== true))
    throw invalidProperty('mailboxIds', 'mailboxIds must be an object of Mailbox ids set to true');
  const ids = Object.keys(boxes);
  if (ids.length === 0) throw invalidProperty('mailboxIds', 'an Email must be in a Mailbox');
  if (ids.length > 1)
    throw new SetFailure({
      type: 'tooManyMailboxes',
      description: 'an Email is in one Mailbox on this server (maxMailboxesPerEmail is 1)',
    });
  const folder = folders.get(ids[0]!);
  if (!folder) throw invalidProperty('mailboxIds', `${ids[0]} is not a Mailbox of this account`);
  const keywords = object.keywords ?? {};
  if (!isObject(keywords)) throw invalidProperty('keywords', 'keywords must be an object of keywords set to true');
  const flags: string[] = [];
  for (const [keyword, set] of Object.entries(keywords)) {
    if (!isKeyword(keyword) || set !== true)
      throw invalidProperty('keywords', `"${keyword}" is not a keyword set to true`);
    flags.push(flagOf(keyword));
  }
  let internalDate = now;
  if (object.receivedAt !== undefined && object.receivedAt !== null) {
    const ms = typeof object.receivedAt === 'string' ? utcDateMs(object.receivedAt) : undefined;
    if (ms === undefined) throw invalidProperty('receivedAt', 'receivedAt must be a UTCDate (2024-01-31T10:00:00Z)');
    internalDate = ms;
  }
  return { folder, flags, internalDate };
}

function utcDateMs(text: string): number | undefined {
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(text)) return undefined;
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? ms : undefined;
}

/** Stores a message as APPEND does; answers the created Email's server-set properties. */
export async function storeEmail(
  context: JmapCallContext,
  where: ReturnType<typeof placement>,
  content: Buffer,
): Promise<Record<string, unknown>> {
  requireRights(context, 'i', 'Adding an Email');
  const maxSize = maxSizeOf(context);
  if (content.length > maxSize)
    throw new SetFailure({ type: 'tooLarge', description: `a message is at most ${maxSize} bytes`, maxSize });
  try {
    const appended = await appendContent(context.mail, where.folder, content, {
      flags: where.flags,
      internalDate: where.internalDate,
      quotaBytes: context.principal.quotaBytes,
    });
    return {
      id: emailId(appended.emailId),
      blobId: messageBlobId(appended.emailId),
      threadId: threadId(appended.threadId),
      size: content.length,
    };
  } catch (error) {
    if (error instanceof QuotaExceeded) throw new SetFailure({ type: 'overQuota', description: error.message });
    throw error;
  }
}

/** A blob's bytes for a message being made or imported, refusing what is missing or too large. */
export async function blobBytes(context: JmapCallContext, blobId: unknown, property: string): Promise<Buffer> {
  if (typeof blobId !== 'string') throw invalidProperty(property, 'blobId must be a blob id');
  const blob: ResolvedBlob | undefined = await resolveBlob(context, blobId);
  const notFound = () =>
    new SetFailure({ type: 'blobNotFound', description: `no blob ${blobId} in this account`, notFound: [blobId] });
  if (!blob) throw notFound();
  const maxSize = maxSizeOf(context);
  if (blob.size > maxSize)
    throw new SetFailure({ type: 'tooLarge', description: `a message is at most ${maxSize} bytes`, maxSize });
  const bytes = await readResolved(blob);
  if (!bytes) throw notFound();
  return bytes;
}

// Email/set create.

/** Properties an Email being made may have (besides header:…). */
const creatableProperties: ReadonlySet<string> = new Set([
  'mailboxIds',
  'keywords',
  'receivedAt',
  ...metadataProperties,
  'bodyStructure',
  'bodyValues',
  'textBody',
  'htmlBody',
  'attachments',
]);

/** The convenience properties and the field and form each one is (RFC 8621 4.1.2). */
const convenienceFields: Record<string, [field: string, form: HeaderForm]> = {
  messageId: ['Message-ID', 'MessageIds'],
  inReplyTo: ['In-Reply-To', 'MessageIds'],
  references: ['References', 'MessageIds'],
  sender: ['Sender', 'Addresses'],
  from: ['From', 'Addresses'],
  to: ['To', 'Addresses'],
  cc: ['Cc', 'Addresses'],
  bcc: ['Bcc', 'Addresses'],
  replyTo: ['Reply-To', 'Addresses'],
  subject: ['Subject', 'Text'],
  sentAt: ['Date', 'Date'],
};

/** Fields as they will be written; `raw` ones (asRaw) exactly so, the others folded. */
type Fields = { key: string; value: string; raw: boolean }[];

/** Fields nodemailer formats itself (it would not take them as written): not accepted on body parts. */
const formattedFields = new Set(['from', 'sender', 'to', 'cc', 'bcc', 'reply-to', 'date', 'references']);

/** The fields of `header:…` properties (and, for the Email, the convenience ones), checked. */
function headerFieldsOf(object: Record<string, unknown>, topLevel: boolean, path: string): Fields {
  const fields: Fields = [];
  const seen = new Set<string>();
  const add = (property: string, field: string, form: HeaderForm, value: unknown, all: boolean) => {
    const lower = field.toLowerCase();
    if (seen.has(lower)) throw invalidProperty(property, `${field} is given by two properties`);
    seen.add(lower);
    if (value === null || value === undefined) return;
    try {
      const values = all ? (Array.isArray(value) ? value : [undefined]) : [value];
      if (all && !Array.isArray(value)) throw new HeaderValueError('an :all property is a list');
      for (const one of values) {
        const text = fieldValue(one, form);
        if (text.length > 100_000) throw new HeaderValueError('a header field is at most 100,000 characters');
        fields.push({ key: field, value: text, raw: form === 'Raw' });
      }
    } catch (error) {
      if (error instanceof HeaderValueError) throw invalidProperty(property, `${property}: ${error.message}`);
      throw error;
    }
  };
  const headerProperties = Object.keys(object).filter((p) => p.startsWith('header:'));
  if (headerProperties.length > maxHeaderProperties)
    throw invalidProperty(`${path}header:`, `at most ${maxHeaderProperties} header properties`);
  for (const property of headerProperties) {
    let spec: ReturnType<typeof parseHeaderProperty>;
    try {
      spec = parseHeaderProperty(property);
    } catch {
      throw invalidProperty(`${path}${property}`, `${property} is not a header property`);
    }
    if (!spec) continue;
    const lower = spec.name.toLowerCase();
    if (lower === 'content-transfer-encoding')
      throw invalidProperty(`${path}${property}`, 'the server chooses the transfer encoding');
    if (topLevel && lower.startsWith('content-'))
      throw invalidProperty(property, 'Content-* fields belong to body parts, not to the Email');
    if (!topLevel && (formattedFields.has(lower) || lower === 'mime-version'))
      throw invalidProperty(`${path}${property}`, `${spec.name} belongs to the Email, not to a body part`);
    add(`${path}${property}`, spec.name, spec.form, object[property], spec.all);
  }
  if (topLevel)
    for (const [property, [field, form]] of Object.entries(convenienceFields))
      if (object[property] !== undefined) add(property, field, form, object[property], false);
  return fields;
}

/** A body part to write: its content and what its header says. */
interface PartPlan {
  type: string;
  content?: string | Buffer;
  charset?: string;
  name?: string;
  disposition?: string;
  cid?: string;
  language?: string[];
  location?: string;
  fields: Fields;
  subParts?: PartPlan[];
}

const mediaType = /^[a-z0-9][\w!#$&^.+-]*\/[a-z0-9][\w!#$&^.+-]*$/i;

class BodyBuilder {
  private parts = 0;
  private bytes = 0;

  constructor(
    private readonly context: JmapCallContext,
    private readonly bodyValues: Record<string, unknown>,
  ) {}

  /** One EmailBodyPart of the object (`path` names it in errors). */
  async part(value: unknown, path: string, depth: number, defaultType?: string): Promise<PartPlan> {
    if (!isObject(value)) throw invalidProperty(path, 'a body part is an object');
    if (++this.parts > maxParts) throw invalidProperty(path, `an Email has at most ${maxParts} body parts`);
    if (depth > maxDepth) throw invalidProperty(path, `body parts nest at most ${maxDepth} deep`);
    if (value.headers !== undefined)
      throw invalidProperty(`${path}/headers`, 'give header:… properties instead of headers');
    const str = (key: string) => {
      const v = value[key];
      if (v === undefined || v === null) return undefined;
      if (typeof v !== 'string' || v.length > 1000 || /[\r\n]/.test(v))
        throw invalidProperty(`${path}/${key}`, `${key} must be a string`);
      return v;
    };
    let type = str('type')?.toLowerCase();
    if (type !== undefined && !mediaType.test(type))
      throw invalidProperty(`${path}/type`, `${type} is not a media type`);
    const language = value.language;
    if (
      language !== undefined &&
      language !== null &&
      !(Array.isArray(language) && language.every((l) => typeof l === 'string' && /^[\w-]{1,40}$/.test(l)))
    )
      throw invalidProperty(`${path}/language`, 'language is a list of language tags');
    const plan: PartPlan = {
      type: type ?? '',
      name: str('name'),
      disposition: str('disposition'),
      cid: str('cid'),
      location: str('location'),
      language: (language as string[] | null | undefined) ?? undefined,
      charset: str('charset'),
      fields: headerFieldsOf(value, false, `${path}/`),
    };
    if (plan.fields.some((f) => /^content-type$/i.test(f.key)) && type)
      throw invalidProperty(`${path}/type`, 'Content-Type is given by two properties');
    if (value.subParts !== undefined) {
      if (!type?.startsWith('multipart/')) throw invalidProperty(`${path}/type`, 'a part with subParts is multipart/…');
      if (!Array.isArray(value.subParts) || value.subParts.length === 0)
        throw invalidProperty(`${path}/subParts`, 'subParts is a list of parts');
      plan.subParts = [];
      for (const [i, sub] of value.subParts.entries())
        plan.subParts.push(await this.part(sub, `${path}/subParts/${i}`, depth + 1));
      return plan;
    }
    if (type?.startsWith('multipart/')) throw invalidProperty(`${path}/subParts`, 'a multipart part has subParts');
    const partId = value.partId;
    const blobId = value.blobId;
    if ((partId === undefined || partId === null) === (blobId === undefined || blobId === null))
      throw invalidProperty(path, 'a body part has either partId (of bodyValues) or blobId');
    if (typeof partId === 'string') {
      const body = this.bodyValues[partId];
      if (!isObject(body) || typeof body.value !== 'string')
        throw invalidProperty(`${path}/partId`, `bodyValues has no value for part ${partId}`);
      if (body.isTruncated === true || body.isEncodingProblem === true)
        throw invalidProperty('bodyValues', `the value of part ${partId} is truncated or has an encoding problem`);
      type ??= defaultType ?? 'text/plain';
      if (!type.startsWith('text/')) throw invalidProperty(`${path}/type`, 'a part from bodyValues is text/…');
      plan.type = type;
      plan.charset = 'utf-8';
      plan.content = body.value.replace(/\r?\n/g, '\r\n');
      this.count(Buffer.byteLength(body.value));
    } else {
      const bytes = await blobBytes(this.context, blobId, `${path}/blobId`);
      this.count(bytes.length);
      plan.type = type ?? defaultType ?? 'application/octet-stream';
      plan.content = bytes;
    }
    return plan;
  }

  private count(bytes: number) {
    this.bytes += bytes;
    const maxSize = maxSizeOf(this.context);
    if (this.bytes > maxSize)
      throw new SetFailure({ type: 'tooLarge', description: `a message is at most ${maxSize} bytes`, maxSize });
  }
}

/** The body of an Email from textBody, htmlBody and attachments (RFC 8621 4.6 describes this tree). */
function simpleBody(text: PartPlan | undefined, html: PartPlan | undefined, attachments: PartPlan[]): PartPlan {
  const multipart = (subtype: string, subParts: PartPlan[]): PartPlan => ({
    type: `multipart/${subtype}`,
    fields: [],
    subParts,
  });
  let body: PartPlan | undefined = text && html ? multipart('alternative', [text, html]) : (text ?? html);
  const inline = html ? attachments.filter((a) => a.cid && a.disposition !== 'attachment') : [];
  if (body && inline.length) body = multipart('related', [body, ...inline]);
  const rest = attachments.filter((a) => !inline.includes(a));
  if (!body && rest.length === 1) return rest[0]!;
  if (!body) body = rest.length ? undefined : { type: 'text/plain', charset: 'utf-8', content: '', fields: [] };
  return rest.length ? multipart('mixed', body ? [body, ...rest] : rest) : body!;
}

/** A MIME node for a planned part. */
function mimeNode(plan: PartPlan, parent?: MimeNode): MimeNode {
  const params = [plan.charset && !plan.subParts ? `; charset=${plan.charset}` : ''].join('');
  const options = plan.name ? { filename: plan.name } : {};
  const node = parent
    ? parent.createChild(`${plan.type}${params}`, options)
    : new MimeNode(`${plan.type}${params}`, options);
  if (plan.disposition) node.setHeader('Content-Disposition', plan.disposition);
  if (plan.cid) node.setHeader('Content-ID', `<${plan.cid.replace(/[<>]/g, '')}>`);
  if (plan.language?.length) node.setHeader('Content-Language', plan.language.join(', '));
  if (plan.location) node.setHeader('Content-Location', plan.location);
  for (const field of plan.fields) node.addHeader(field.key, { prepared: true, foldLines: true, value: field.value });
  if (plan.subParts) for (const sub of plan.subParts) mimeNode(sub, node);
  else node.setContent(plan.content ?? '');
  return node;
}

/** The RFC 5322 message of an Email object (Email/set create). */
export async function composeEmail(context: JmapCallContext, object: Record<string, unknown>): Promise<Buffer> {
  for (const property of Object.keys(object))
    if (!creatableProperties.has(property) && !property.startsWith('header:'))
      throw invalidProperty(
        property,
        `${property} cannot be given when making an Email (the server sets it, or it is not one)`,
      );
  const fields = headerFieldsOf(object, true, '');
  const bodyValues = object.bodyValues ?? {};
  if (!isObject(bodyValues)) throw invalidProperty('bodyValues', 'bodyValues is an object of part ids');
  const builder = new BodyBuilder(context, bodyValues);
  let root: PartPlan;
  if (object.bodyStructure !== undefined && object.bodyStructure !== null) {
    for (const list of ['textBody', 'htmlBody', 'attachments'])
      if (object[list] !== undefined && object[list] !== null)
        throw invalidProperty(list, `${list} cannot be given with bodyStructure`);
    root = await builder.part(object.bodyStructure, 'bodyStructure', 0);
  } else {
    const single = async (property: 'textBody' | 'htmlBody', type: string) => {
      const value = object[property];
      if (value === undefined || value === null) return undefined;
      if (!Array.isArray(value) || value.length !== 1)
        throw invalidProperty(property, `${property} is a list of one part (give more parts in bodyStructure)`);
      const part = await builder.part(value[0], `${property}/0`, 0, type);
      if (part.type !== type) throw invalidProperty(`${property}/0/type`, `the part of ${property} is ${type}`);
      return part;
    };
    const text = await single('textBody', 'text/plain');
    const html = await single('htmlBody', 'text/html');
    const attachments: PartPlan[] = [];
    const listed = object.attachments ?? [];
    if (!Array.isArray(listed)) throw invalidProperty('attachments', 'attachments is a list of parts');
    for (const [i, part] of listed.entries()) attachments.push(await builder.part(part, `attachments/${i}`, 0));
    root = simpleBody(text, html, attachments);
  }
  // The Email's own fields are written ahead of what nodemailer writes for the body (Content-Type,
  // MIME-Version), as given: nodemailer would reformat address and date fields.
  if (!fields.some((f) => /^date$/i.test(f.key)))
    fields.push({ key: 'Date', value: rfc5322Date(context.mail.now()), raw: false });
  if (!fields.some((f) => /^message-id$/i.test(f.key))) {
    const domain = context.principal.address.split('@')[1] ?? 'localhost';
    fields.push({ key: 'Message-ID', value: `<${crypto.randomUUID()}@${domain}>`, raw: true });
  }
  const built = await mimeNode(root).build();
  const split = built.indexOf('\r\n\r\n');
  const generated = built
    .subarray(0, split)
    .toString('latin1')
    .split(/\r\n(?![ \t])/)
    .filter((line) => !/^(date|message-id):/i.test(line));
  const own = fields.map((f) =>
    f.raw ? `${f.key}:${/^[ \t]/.test(f.value) ? '' : ' '}${f.value}` : foldLines(`${f.key}: ${f.value}`, 76),
  );
  return Buffer.concat([Buffer.from([...own, ...generated].join('\r\n'), 'latin1'), built.subarray(split)]);
}

/** Email/set's create: each object made and stored in order, into `results` (created and notCreated). */
export async function createEmails(
  context: JmapCallContext,
  folders: Folder[],
  create: Record<string, unknown>,
  results: SetResults,
) {
  const byId = new Map(folders.map((f) => [mailboxId(f.id), f]));
  for (const [creationId, object] of Object.entries(create))
    await results.create(creationId, async () => {
      if (!isObject(object)) throw new SetFailure({ type: 'invalidProperties', description: 'an Email is an object' });
      const where = placement(object, byId, context.mail.now());
      return storeEmail(context, where, await composeEmail(context, object));
    });
}

// Email/import.

/** Whether `content` looks like a message: a header section of fields ahead of the body. */
function isMessage(content: Buffer): boolean {
  const head = content.subarray(0, 256 * 1024).toString('latin1');
  const { headerEnd } = splitHeader(head, 0, head.length);
  const lines = parseHeaderLines(head.slice(0, headerEnd));
  return lines.length > 0 && /^[\x21-\x39\x3b-\x7e]+:/.test(head);
}

const emailImport: JmapMethod<JmapCallContext> = {
  capability: mailCapability,
  async run(args, context) {
    const accountId = requireAccount(args, context);
    const emails = args.emails;
    if (!isObject(emails)) throw invalidArguments('emails must be an object of EmailImport objects');
    if (Object.keys(emails).length > jmapLimits.maxObjectsInSet)
      throw new MethodError('requestTooLarge', `at most ${jmapLimits.maxObjectsInSet} Emails in one Email/import`);
    const { mail, principal } = context;
    const before = await accountFolders(mail.db, principal, mail.now());
    requireInState(args, before.state, 'the account');
    const folders = new Map(before.folders.map((f) => [mailboxId(f.id), f]));
    const results = new SetResults();
    for (const [creationId, object] of Object.entries(emails))
      await results.create(creationId, async () => {
        if (!isObject(object))
          throw new SetFailure({ type: 'invalidProperties', description: 'an EmailImport is an object' });
        for (const property of Object.keys(object))
          if (!['blobId', 'mailboxIds', 'keywords', 'receivedAt'].includes(property))
            throw invalidProperty(property, `${property} is not a property of an EmailImport`);
        const where = placement(object, folders, mail.now());
        const content = await blobBytes(context, object.blobId, 'blobId');
        if (!isMessage(content))
          throw new SetFailure({ type: 'invalidEmail', description: 'the blob is not an RFC 5322 message' });
        return storeEmail(context, where, content);
      });
    const after = await accountFolders(mail.db, principal, mail.now());
    return results.createResponse(accountId, before.state, after.state);
  },
};

export const emailImportMethod: [string, JmapMethod<JmapCallContext>] = ['Email/import', emailImport];
