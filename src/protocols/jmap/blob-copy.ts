// Blob/copy (RFC 8620 6.3): blobs of one of the user's accounts made blobs of another — their own and
// the mailboxes shared with them (jmap-accounts.ts), either way — without a download and upload by
// the client. A copy is an upload of the target account (`U<n>`, mailbox/uploads.ts: usable there
// for a day by Email/import, Email/set create, Email/parse and download, like one sent to the upload
// URL): an upload copied keeps its content (content-addressed, nothing is written again); a message
// (`B…`, with the lines Holdfast added on receipt) or a body part (`P…`, decoded) is written to the
// blob store as its bytes, one at a time. Per blob, notCopied says why not: notFound (no such blob
// in the source account), tooLarge (over maxSizeUpload), forbidden (the user may not add to the
// target account: RFC 4314 "i").
import { insertUpload } from '../../mailbox/uploads.ts';
import type { JmapCallContext } from './jmap-context.ts';
import { accountContext, requireRights } from './jmap-accounts.ts';
import { readResolved, resolveBlob } from './jmap-blobs.ts';
import { invalidArguments, MethodError } from './jmap-errors.ts';
import { parseAccountId } from './jmap-ids.ts';
import { jmapLimits } from './jmap-limits.ts';
import { coreCapability, type JmapMethod } from './jmap-request.ts';
import { uploadBlobId } from './jmap-uploads.ts';
import { idList, requireAccount } from './method-arguments.ts';
import { orNull, SetFailure, SetResults } from './set-outcome.ts';

const blobCopy: JmapMethod<JmapCallContext> = {
  capability: coreCapability,
  async run(args, context) {
    const { fromAccountId } = args;
    if (typeof fromAccountId !== 'string') throw invalidArguments('fromAccountId is required');
    const target = await accountContext(context, args.accountId);
    const accountId = requireAccount(args, target);
    if (fromAccountId === accountId)
      throw invalidArguments('fromAccountId must be another account than accountId (a blob is usable in its own)');
    const from = await accountContext(context, fromAccountId);
    if (parseAccountId(fromAccountId) !== from.principal.id)
      throw new MethodError('fromAccountNotFound', `no account ${fromAccountId} for ${context.principal.address}`);
    const blobIds = idList(args, 'blobIds', 'blob', 'Blob/copy');
    const { mail } = context;
    const maxSize = context.maxSizeUpload ?? jmapLimits.maxSizeUpload;

    const results = new SetResults();
    for (const blobId of new Set(blobIds))
      await results.create(blobId, async () => {
        requireRights(target, 'i', 'Copying a blob');
        const blob = await resolveBlob(from, blobId);
        const missing = () =>
          new SetFailure({ type: 'notFound', description: `no blob ${blobId} in ${fromAccountId}` });
        if (!blob) throw missing();
        if (blob.size > maxSize)
          throw new SetFailure({
            type: 'tooLarge',
            description: `${blobId} is ${blob.size} bytes, more than maxSizeUpload`,
            maxSize,
          });
        let stored = blob.hash ? { hash: blob.hash, size: blob.size } : undefined;
        if (!stored) {
          const bytes = await readResolved(blob);
          if (!bytes) throw missing();
          stored = await mail.blobs.put(bytes);
        }
        const id = await insertUpload(
          mail.db,
          { principalId: target.principal.id, blobHash: stored.hash, type: blob.type, size: stored.size },
          mail.now(),
        );
        return uploadBlobId(id);
      });
    return { fromAccountId, accountId, copied: orNull(results.created), notCopied: orNull(results.notCreated) };
  },
};

export const blobCopyMethod: [string, JmapMethod<JmapCallContext>] = ['Blob/copy', blobCopy];
