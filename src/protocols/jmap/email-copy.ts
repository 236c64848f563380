// Email/copy (RFC 8620 5.4, RFC 8621 4.7): Emails of one of the user's accounts copied into another —
// their own and a mailbox shared with them (jmap-accounts.ts), either way. The copy is a new message
// in the target account (as IMAP COPY into a "Shared/…" folder makes one): the same bytes, stored as
// APPEND stores them, with the mailboxIds given and the original's keywords and receivedAt unless the
// create says otherwise. onSuccessDestroyOriginal destroys the copied originals with an implicit
// Email/set in the source account, which answers after the copy with the same call id.
import type { JmapCallContext } from './jmap-context.ts';
import { accountContext } from './jmap-accounts.ts';
import { blobBytes, placement, storeEmail } from './email-create.ts';
import { emailSetMethod } from './email-set.ts';
import { findEmails, utcDate } from './email-get.ts';
import { invalidArguments, MethodError } from './jmap-errors.ts';
import { mailboxId, messageBlobId, parseAccountId } from './jmap-ids.ts';
import { jmapLimits } from './jmap-limits.ts';
import { implicitResponses, mailCapability, type JmapMethod, type WithImplicitResponses } from './jmap-request.ts';
import { keywordsOf } from './keywords.ts';
import { accountFolders } from './mail-folders.ts';
import { requireAccount, requireInState } from './method-arguments.ts';
import { invalidProperty, SetFailure, SetResults } from './set-outcome.ts';

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** What a create of Email/copy may say besides the id of the Email to copy (RFC 8621 4.7). */
const copyProperties = new Set(['id', 'mailboxIds', 'keywords', 'receivedAt']);

const emailCopy: JmapMethod<JmapCallContext> = {
  capability: mailCapability,
  async run(args, context) {
    // The call runs in the target account (accountId): jmap-accounts.ts gave it that context.
    const accountId = requireAccount(args, context);
    const { fromAccountId } = args;
    if (typeof fromAccountId !== 'string') throw invalidArguments('fromAccountId is required');
    if (fromAccountId === accountId)
      throw invalidArguments('fromAccountId must be another account than accountId (use Email/set to move)');
    const from = await accountContext(context, fromAccountId);
    if (parseAccountId(fromAccountId) !== from.principal.id)
      throw new MethodError('fromAccountNotFound', `no account ${fromAccountId} for ${context.principal.address}`);
    const create = args.create ?? {};
    if (!isObject(create)) throw invalidArguments('create must be an object');
    if (Object.keys(create).length > jmapLimits.maxObjectsInSet)
      throw new MethodError('requestTooLarge', `at most ${jmapLimits.maxObjectsInSet} Emails in one Email/copy`);
    const destroyOriginals = args.onSuccessDestroyOriginal ?? false;
    if (typeof destroyOriginals !== 'boolean') throw invalidArguments('onSuccessDestroyOriginal must be true or false');

    const { mail } = context;
    const source = await accountFolders(mail.db, from.principal, mail.now());
    if (args.ifFromInState !== undefined && args.ifFromInState !== null && args.ifFromInState !== source.state)
      throw new MethodError('stateMismatch', `ifFromInState is not the current state of ${fromAccountId}`);
    const before = await accountFolders(mail.db, context.principal, mail.now());
    requireInState(args, before.state, 'the account');
    const targets = new Map(before.folders.map((f) => [mailboxId(f.id), f]));

    const wanted = Object.values(create).flatMap((o) => (isObject(o) && typeof o.id === 'string' ? [o.id] : []));
    const originals = new Map((await findEmails(from, source.folders, wanted)).found.map((e) => [e.id, e]));
    const results = new SetResults();
    const copiedOriginals: string[] = [];
    for (const [creationId, object] of Object.entries(create))
      await results.create(creationId, async () => {
        if (!isObject(object)) throw new SetFailure({ type: 'invalidProperties', description: 'a copy is an object' });
        const extra = Object.keys(object).find((p) => !copyProperties.has(p));
        if (extra)
          throw invalidProperty(
            extra,
            `${extra} cannot be given to Email/copy (only mailboxIds, keywords, receivedAt)`,
          );
        const original = typeof object.id === 'string' ? originals.get(object.id) : undefined;
        if (!original)
          throw new SetFailure({ type: 'notFound', description: `no Email ${String(object.id)} in ${fromAccountId}` });
        const where = placement(
          {
            keywords: keywordsOf(original.row.flags),
            receivedAt: utcDate(original.row.internalDate),
            ...object,
          },
          targets,
          mail.now(),
        );
        const content = await blobBytes(from, messageBlobId(original.row.emailId), 'id');
        const made = await storeEmail(context, where, content);
        copiedOriginals.push(original.id);
        return made;
      });

    const after = await accountFolders(mail.db, context.principal, mail.now());
    const result: WithImplicitResponses = {
      fromAccountId,
      ...results.createResponse(accountId, before.state, after.state),
    };
    if (destroyOriginals && copiedOriginals.length) {
      const destroyed = await emailSetMethod[1].run({ accountId: fromAccountId, destroy: copiedOriginals }, from);
      result[implicitResponses] = [['Email/set', destroyed]];
    }
    return result;
  },
};

export const emailCopyMethod: [string, JmapMethod<JmapCallContext>] = ['Email/copy', emailCopy];
