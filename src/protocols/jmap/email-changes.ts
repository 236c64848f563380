// Email/changes (RFC 8621 4.3): the Emails created, updated and destroyed since a state, worked out
// from the folders' rows and expunge logs (email-change-log.ts). A move is an update: the Email keeps
// its id from one folder to the next.
import type { JmapCallContext } from './jmap-context.ts';
import { accountChanges } from './email-change-log.ts';
import { emailId } from './jmap-ids.ts';
import { mailCapability, type JmapMethod } from './jmap-request.ts';
import { changesArguments } from './method-arguments.ts';

const emailChanges: JmapMethod<JmapCallContext> = {
  capability: mailCapability,
  async run(args, context) {
    const { accountId, since, limit } = changesArguments(args, context);
    const { emails, newState, hasMoreChanges } = await accountChanges(context, since, limit);
    return {
      accountId,
      oldState: args.sinceState,
      newState,
      hasMoreChanges,
      created: emails.created.map(emailId),
      updated: emails.updated.map(emailId),
      destroyed: emails.destroyed.map(emailId),
    };
  },
};

export const emailChangesMethod: [string, JmapMethod<JmapCallContext>] = ['Email/changes', emailChanges];
