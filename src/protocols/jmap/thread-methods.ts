// Thread/get and Thread/changes (RFC 8621 3): a Thread is the Emails of the account that share a
// messages.thread_id (mailbox/conversation-threads.ts decides it when a message arrives), listed by
// receivedAt, oldest first, as RFC 8621 3 asks. Threads share the account's state with Mailbox and
// Email; their changes are worked out with the Emails' (email-change-log.ts).
import { messagesOfThreads } from '../../mailbox/account-messages.ts';
import type { JmapCallContext } from './jmap-context.ts';
import { accountChanges } from './email-change-log.ts';
import { emailId, parseThreadId, threadId } from './jmap-ids.ts';
import { mailCapability, type JmapMethod } from './jmap-request.ts';
import { accountFolders } from './mail-folders.ts';
import { changesArguments, getIds, getProperties, requireAccount } from './method-arguments.ts';

const properties = ['id', 'emailIds'] as const;

const threadGet: JmapMethod<JmapCallContext> = {
  capability: mailCapability,
  async run(args, context) {
    const accountId = requireAccount(args, context);
    const ids = getIds(args, false)!;
    const wanted = getProperties(args.properties, new Set(properties), properties);
    const { mail, principal } = context;
    const { folders, state } = await accountFolders(mail.db, principal, mail.now());
    const own = new Set(folders.map((f) => f.id));
    const keys = ids.map(parseThreadId).filter((id) => id !== undefined);
    const members = new Map<number, { emailId: number; receivedAt: number }[]>();
    for (const row of await messagesOfThreads(mail.db, principal.id, keys)) {
      if (!own.has(row.folderId)) continue;
      const list = members.get(row.threadId) ?? [];
      list.push({ emailId: row.emailId, receivedAt: row.internalDate });
      members.set(row.threadId, list);
    }
    const list: Record<string, unknown>[] = [];
    const notFound: string[] = [];
    for (const id of ids) {
      const emails = members.get(parseThreadId(id) ?? 0);
      if (!emails) {
        notFound.push(id);
        continue;
      }
      emails.sort((a, b) => a.receivedAt - b.receivedAt || a.emailId - b.emailId);
      const all = { id: threadId(parseThreadId(id)!), emailIds: emails.map((e) => emailId(e.emailId)) };
      list.push(Object.fromEntries(wanted.map((p) => [p, all[p as keyof typeof all]])));
    }
    return { accountId, state, list, notFound };
  },
};

const threadChanges: JmapMethod<JmapCallContext> = {
  capability: mailCapability,
  async run(args, context) {
    const { accountId, since, limit } = changesArguments(args, context);
    const { threads, newState, hasMoreChanges } = await accountChanges(context, since, limit);
    return {
      accountId,
      oldState: args.sinceState,
      newState,
      hasMoreChanges,
      created: threads.created.map(threadId),
      updated: threads.updated.map(threadId),
      destroyed: threads.destroyed.map(threadId),
    };
  },
};

export const threadMethods: [string, JmapMethod<JmapCallContext>][] = [
  ['Thread/get', threadGet],
  ['Thread/changes', threadChanges],
];
