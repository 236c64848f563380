// Blob upload (RFC 8620 6.1): `POST /jmap/upload/{accountId}/` streams the request body into the
// store's blob store (content-addressed, as message contents are) and names it for the account with
// an upload row (`jmap_uploads`, migration 26) that expires a day later. An upload's blob id is
// `U<row id>`; it may be imported (Email/import), attached to a draft (Email/set create), parsed
// (Email/parse) or downloaded, by its own account only (mailbox/uploads.ts keeps the rows).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { Readable } from 'node:stream';
import type { Principal } from '../../directory/directory.ts';
import type { Logger } from '../../logging/logger.ts';
import { findUpload, insertUpload } from '../../mailbox/uploads.ts';
import type { BlobStore } from '../../store/blobs/blob-store.ts';
import type { Database } from '../../store/schema.ts';
import { accountId as accountIdOf, parseAccountId } from './jmap-ids.ts';

export const uploadBlobId = (id: number) => `U${id}`;
/** A body part of an uploaded message (Email/parse shows these): `U<n>-<IMAP section with _ for .>`. */
export const uploadPartBlobId = (id: number, partId: string) => `U${id}-${partId.replace(/\./g, '_')}`;

/** The upload (and part of it) a blob id names; undefined for any other blob id. */
export function parseUploadId(blobId: unknown): { id: number; partId?: string } | undefined {
  const match = typeof blobId === 'string' ? /^U([1-9][0-9]{0,14})(?:-([0-9]+(?:_[0-9]+){0,31}))?$/.exec(blobId) : null;
  if (!match) return undefined;
  return match[2] ? { id: Number(match[1]), partId: match[2].replace(/_/g, '.') } : { id: Number(match[1]) };
}

/** The upload a blob id names in the principal's account (with the part named), unless it is not one or expired. */
export async function uploadOf(db: Kysely<Database>, principalId: number, blobId: string, now: number) {
  const key = parseUploadId(blobId);
  const upload = key && (await findUpload(db, principalId, key.id, now));
  return upload && { ...upload, partId: key.partId };
}

/** The media type of an upload: the request's Content-Type when it is one, else application/octet-stream. */
function mediaType(header: string | undefined): string {
  const type = (header ?? '').trim();
  return /^[\w.+-]+\/[\w.+-]+(\s*;.*)?$/.test(type) && type.length <= 200 ? type : 'application/octet-stream';
}

class TooLarge extends Error {}

/** The body's chunks, failing with TooLarge past `limit` bytes. */
async function* bounded(body: Readable, limit: number): AsyncIterable<Uint8Array> {
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new TooLarge();
    yield chunk as Buffer;
  }
}

export interface UploadRouteDeps {
  db: Kysely<Database>;
  blobs: BlobStore;
  log: Logger;
  /** maxSizeUpload: bytes of one upload. */
  maxSize: number;
  /** maxConcurrentUpload: uploads of one account at once, on this node. */
  maxConcurrent: number;
  now(): number;
  signIn(request: FastifyRequest, reply: FastifyReply): Promise<Principal | undefined>;
  problem(reply: FastifyReply, status: number, body: Record<string, unknown>): FastifyReply;
}

const limitProblem = (status: number, detail: string, limit: string) => ({
  type: 'urn:ietf:params:jmap:error:limit',
  status,
  detail,
  limit,
});

/** Mounts the upload endpoint in its own scope: its body is streamed, not parsed. */
export function registerUploadRoute(app: FastifyInstance, path: string, deps: UploadRouteDeps) {
  const running = new Map<number, number>();
  app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    // The body is left a stream (read in the handler); an absent Content-Type is taken as well.
    scope.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
    scope.post(`${path}:account/`, async (request, reply) => {
      const principal = await deps.signIn(request, reply);
      if (!principal) return reply;
      const { account } = request.params as { account: string };
      if (parseAccountId(account) !== principal.id)
        return deps.problem(reply, 404, { type: 'about:blank', status: 404, detail: `No account ${account}` });
      const declared = Number(request.headers['content-length'] ?? 0);
      if (declared > deps.maxSize)
        return deps.problem(
          reply.header('Connection', 'close'),
          413,
          limitProblem(413, `An upload is at most ${deps.maxSize} bytes`, 'maxSizeUpload'),
        );
      const count = running.get(principal.id) ?? 0;
      if (count >= deps.maxConcurrent)
        return deps.problem(
          reply,
          429,
          limitProblem(429, `${deps.maxConcurrent} uploads of this account are running already`, 'maxConcurrentUpload'),
        );
      running.set(principal.id, count + 1);
      try {
        const body = request.body as Readable | undefined;
        const source: AsyncIterable<Uint8Array> | Uint8Array = body ? bounded(body, deps.maxSize) : new Uint8Array();
        let stored: { hash: string; size: number };
        try {
          stored = await deps.blobs.put(source);
        } catch (error) {
          if (!(error instanceof TooLarge)) throw error;
          return deps.problem(
            reply.header('Connection', 'close'),
            413,
            limitProblem(413, `An upload is at most ${deps.maxSize} bytes`, 'maxSizeUpload'),
          );
        }
        const type = mediaType(request.headers['content-type']);
        const id = await insertUpload(
          deps.db,
          { principalId: principal.id, blobHash: stored.hash, type, size: stored.size },
          deps.now(),
        );
        return reply
          .code(201)
          .type('application/json; charset=utf-8')
          .send({ accountId: accountIdOf(principal.id), blobId: uploadBlobId(id), type, size: stored.size });
      } finally {
        const left = (running.get(principal.id) ?? 1) - 1;
        if (left > 0) running.set(principal.id, left);
        else running.delete(principal.id);
      }
    });
  });
}
