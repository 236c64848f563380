// Blob download (RFC 8620 6.2): the whole message as stored (what Holdfast added on receipt, then
// the sender's bytes), or one body part with its transfer encoding undone; an upload as uploaded. A blob id names the
// Email it is part of (its email_id, which a move keeps), so what may be downloaded is what the
// account's own folders hold.
import type { FastifyReply } from 'fastify';
import type { Principal } from '../../directory/directory.ts';
import { findPart } from '../../message/mime-tree.ts';
import { decodeTransfer } from '../../message/part-content.ts';
import { openStoredMessage } from '../../message/stored-message.ts';
import { loadComputingMissing } from '../../mailbox/message-metadata.ts';
import { messagesByEmailId } from '../../mailbox/account-messages.ts';
import type { MessageDeps } from '../../mailbox/messages.ts';
import { readBlobBytes } from '../../store/blobs/blob-store.ts';
import { parseAccountId, parseBlobId } from './jmap-ids.ts';
import { uploadOf } from './jmap-uploads.ts';
import { readResolved, resolveBlob } from './jmap-blobs.ts';

/** Parts larger than this are not decoded in memory for download (the whole message still streams). */
const maxDecodedPart = 50_000_000;

export async function sendDownload(
  reply: FastifyReply,
  request: { mail: MessageDeps; principal: Principal; account: string; blobId: string; name: string; type?: string },
) {
  const { mail, principal } = request;
  const notFound = () =>
    reply
      .code(404)
      .type('application/problem+json; charset=utf-8')
      .send({ type: 'about:blank', status: 404, detail: 'No such blob in this account' });
  if (parseAccountId(request.account) !== principal.id) return notFound();
  if (request.blobId.startsWith('U')) return sendUpload(reply, request, notFound);
  const key = parseBlobId(request.blobId);
  if (!key) return notFound();
  const [row] = await messagesByEmailId(mail.db, principal.id, [key.emailId]);
  if (!row) return notFound();
  const type = /^[\w.+-]+\/[\w.+-]+(;.*)?$/.test(request.type ?? '') ? request.type! : 'application/octet-stream';
  reply
    .header('Content-Type', type)
    .header('Content-Disposition', `attachment; filename*=UTF-8''${encodeURIComponent(request.name)}`)
    .header('Cache-Control', 'private, immutable, max-age=31536000');
  if (!key.partId) return reply.send(openStoredMessage(mail.blobs, { prefix: row.prefix, blobHash: row.blobHash }));
  const [structure] = await loadComputingMissing(mail, [row.blobHash], (hashes) =>
    mail.index.structures.load(mail.db, hashes),
  );
  const part = structure && findPart(structure.tree, key.partId.split('.').map(Number));
  if (!part || part.children || part.end - part.bodyStart > maxDecodedPart) return notFound();
  const body = await readBlobBytes(mail.blobs, row.blobHash, part.bodyStart, part.end);
  return reply.send(decodeTransfer(part, body) ?? body);
}

/** An upload (streamed), or a part of an uploaded message (decoded in memory). */
async function sendUpload(
  reply: FastifyReply,
  request: { mail: MessageDeps; principal: Principal; blobId: string; name: string; type?: string },
  notFound: () => FastifyReply,
) {
  const { mail, principal } = request;
  const upload = await uploadOf(mail.db, principal.id, request.blobId, mail.now());
  if (!upload) return notFound();
  const type = /^[\w.+-]+\/[\w.+-]+(;.*)?$/.test(request.type ?? '') ? request.type! : upload.type;
  reply
    .header('Content-Type', type)
    .header('Content-Disposition', `attachment; filename*=UTF-8''${encodeURIComponent(request.name)}`)
    .header('Cache-Control', 'private, immutable, max-age=31536000');
  if (!upload.partId) return reply.send(mail.blobs.open(upload.blobHash));
  const blob = await resolveBlob({ principal, mail }, request.blobId);
  const bytes = blob && blob.size <= maxDecodedPart ? await readResolved(blob) : undefined;
  return bytes ? reply.send(bytes) : notFound();
}
