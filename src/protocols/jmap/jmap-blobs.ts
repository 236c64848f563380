// What a blob id names, read into memory for the methods that take blobs (Email/import, Email/set
// create, Email/parse) and download: an upload (`U<n>`, or a part of an uploaded message
// `U<n>-<part>`), a whole message (`B<n>`) or a body part (`P<n>-<part>`) of the signed-in account.
import { messagesByEmailId } from '../../mailbox/account-messages.ts';
import { loadComputingMissing } from '../../mailbox/message-metadata.ts';
import { findPart, parseMimeTree } from '../../message/mime-tree.ts';
import { decodeTransfer } from '../../message/part-content.ts';
import { readBlob, readBlobBytes } from '../../store/blobs/blob-store.ts';
import type { JmapCallContext } from './jmap-context.ts';
import { parseBlobId, partBlobId } from './jmap-ids.ts';
import { uploadOf, uploadPartBlobId } from './jmap-uploads.ts';

export interface ResolvedBlob {
  /** Bytes (for a part: decoded from its transfer encoding). */
  size: number;
  /** The upload's media type, or the part's; message/rfc822 for a whole message. */
  type: string;
  read(): Promise<Buffer>;
  /** The content's hash when the blob is a whole stored content (an upload). */
  hash?: string;
  /** The blob id of a body part of this blob read as a message (Email/parse), by its section. */
  partBlobId(section: string): string;
}

/** An uploaded message is parsed again for one of its parts up to this size (Email/parse bounds the rest). */
const maxParsedUpload = 50_000_000;

/** Thrown when a blob disappeared while read (an expired upload collected meanwhile). */
const isMissing = (error: unknown) => (error as { code?: string }).code === 'blob-not-found';

/** The blob, or undefined when the account has no such blob. */
export async function resolveBlob(
  context: Pick<JmapCallContext, 'mail' | 'principal'>,
  blobId: unknown,
): Promise<ResolvedBlob | undefined> {
  if (typeof blobId !== 'string') return undefined;
  const { mail, principal } = context;
  if (blobId.startsWith('U')) {
    const upload = await uploadOf(mail.db, principal.id, blobId, mail.now());
    if (!upload) return undefined;
    const partId = upload.partId;
    if (!partId)
      return {
        size: upload.size,
        type: upload.type,
        hash: upload.blobHash,
        read: () => readBlob(mail.blobs, upload.blobHash),
        partBlobId: (part) => uploadPartBlobId(upload.id, part),
      };
    // A part of an uploaded message: the message parsed again (uploads have no stored tree).
    if (upload.size > maxParsedUpload) return undefined;
    const source = await readBlob(mail.blobs, upload.blobHash);
    const part = findPart(parseMimeTree(source), partId.split('.').map(Number));
    if (!part || part.children) return undefined;
    const bytes =
      decodeTransfer(part, source.subarray(part.bodyStart, part.end)) ?? source.subarray(part.bodyStart, part.end);
    return {
      size: bytes.length,
      type: `${part.type}/${part.subtype}`,
      read: async () => bytes,
      partBlobId: (sub) => uploadPartBlobId(upload.id, `${partId}.${sub}`),
    };
  }
  const key = parseBlobId(blobId);
  if (!key) return undefined;
  const [row] = await messagesByEmailId(mail.db, principal.id, [key.emailId]);
  if (!row) return undefined;
  if (!key.partId)
    return {
      size: row.size,
      type: 'message/rfc822',
      read: async () => Buffer.concat([Buffer.from(row.prefix, 'utf8'), await readBlob(mail.blobs, row.blobHash)]),
      partBlobId: (part) => partBlobId(row.emailId, part),
    };
  const [structure] = await loadComputingMissing(mail, [row.blobHash], (hashes) =>
    mail.index.structures.load(mail.db, hashes),
  );
  const part = structure && findPart(structure.tree, key.partId.split('.').map(Number));
  if (!part || part.children) return undefined;
  const partId = key.partId;
  return {
    size: part.end - part.bodyStart,
    type: `${part.type}/${part.subtype}`,
    read: async () => {
      const body = await readBlobBytes(mail.blobs, row.blobHash, part.bodyStart, part.end);
      return decodeTransfer(part, body) ?? body;
    },
    partBlobId: (sub) => partBlobId(row.emailId, `${partId}.${sub}`),
  };
}

/** The blob's bytes, or undefined when it is gone by now. */
export async function readResolved(blob: ResolvedBlob): Promise<Buffer | undefined> {
  try {
    return await blob.read();
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}
