// The accounts a signed-in user sees (RFC 8620 1.6.2): their own, and one for each mailbox another
// principal of the same tenant gave them full access to (`holdfast shared grant … --full-access`,
// mailbox/shared-folders.ts: the folders IMAP shows under "Shared/<address>/"). A shared account
// holds that mailbox's folders and nothing else; mail methods (Mailbox, Email, Thread, …) run in it
// within the user's rights, with the context's `principal` the mailbox's owner, so every lookup of
// folders and messages stays in that mailbox as it does in the user's own. An account id the user
// holds no grant for — another user who shared nothing, another tenant's mailbox — is not there:
// the method answers accountNotFound as for an id that never existed.
import type { Kysely } from 'kysely';
import { type Principal, toPrincipal } from '../../directory/principal.ts';
import { ownerRights } from '../../mailbox/shared-folders.ts';
import type { Database } from '../../store/schema.ts';
import type { AccountAccess, JmapCallContext } from './jmap-context.ts';
import { parseAccountId } from './jmap-ids.ts';
import { mailCapability, type JmapMethod } from './jmap-request.ts';
import { SetFailure } from './set-outcome.ts';

/**
 * RFC 4314 rights of a grantee in a mailbox shared with full access: everything on messages, not
 * creating (k) or renaming and deleting (x) folders — those are the owner's, as IMAP says too
 * (CREATE, RENAME and DELETE under "Shared/" answer NOPERM).
 */
export const sharedMailboxRights = 'lrswipted';

/** What the user may do in their own account: everything, and send as themselves. */
export const ownAccess: AccountAccess = { rights: ownerRights, maySubmit: true };

export interface SharedAccount {
  owner: Principal;
  access: AccountAccess;
}

/** The mailboxes shared with `user` (full access, same tenant), each with the user's access to it. */
export async function sharedAccountsOf(
  db: Kysely<Database>,
  user: Pick<Principal, 'id' | 'tenantId'>,
  only?: number,
): Promise<SharedAccount[]> {
  const rows = await db
    .selectFrom('mailbox_grants as g')
    .innerJoin('principals as p', 'p.id', 'g.target_id')
    .selectAll('p')
    .select('g.send_as')
    .where('g.grantee_id', '=', user.id)
    .where('g.full_access', '=', 1)
    // A grant is made within one tenant; this keeps it so whatever a row says.
    .where('p.tenant_id', '=', user.tenantId)
    .where('p.kind', '!=', 'group')
    .$if(only !== undefined, (q) => q.where('p.id', '=', only!))
    .orderBy('p.address')
    .execute();
  return rows.map((row) => ({
    owner: toPrincipal(row),
    // Sending from the shared mailbox takes a send-as grant besides full access (flow/sender-checks.ts).
    access: { rights: sharedMailboxRights, maySubmit: row.send_as === 1 },
  }));
}

/** Whether nothing but reading is allowed with these rights (RFC 8620 1.6.2 isReadOnly). */
export const isReadOnly = (access: AccountAccess) => !/[iwsted]/.test(access.rights);

/** The signed-in user (the account's owner in their own account). */
export const signedInUser = (context: JmapCallContext): Principal => context.signedIn ?? context.principal;

/** The user's access in the account the call works in. */
export const accessOf = (context: JmapCallContext): AccountAccess => context.access ?? ownAccess;

/**
 * The context of a call in `accountId`: the user's own account as it is, a shared one with its owner
 * as `principal`. Any other id gets the context as it is, and the method's requireAccount answers
 * accountNotFound.
 */
export async function accountContext(context: JmapCallContext, accountId: unknown): Promise<JmapCallContext> {
  const user = signedInUser(context);
  const id = parseAccountId(accountId);
  if (id === undefined || id === context.principal.id) return context;
  if (id === user.id) return { ...context, principal: user, signedIn: undefined, access: undefined };
  const [shared] = await sharedAccountsOf(context.mail.db, user, id);
  if (!shared) return context;
  return { ...context, principal: shared.owner, signedIn: user, access: shared.access };
}

/** A SetFailure `forbidden` unless the user holds each of `rights` (RFC 4314) in the account: `doing` says what needs them. */
export function requireRights(context: JmapCallContext, rights: string, doing: string): void {
  const missing = [...rights].filter((r) => !accessOf(context).rights.includes(r));
  if (missing.length)
    throw new SetFailure({
      type: 'forbidden',
      description: `${doing} in ${context.principal.address} takes the right "${missing.join('')}" (RFC 4314), which you do not hold`,
    });
}

/** A mail method that runs in whichever of the user's accounts its accountId names. */
export function inNamedAccount(method: JmapMethod<JmapCallContext>): JmapMethod<JmapCallContext> {
  return {
    capability: method.capability,
    run: async (args, context) => method.run(args, await accountContext(context, args.accountId)),
  };
}

/** Shared accounts carry the mail capability only: its methods run there, the others in the user's own. */
export const runsInSharedAccounts = (method: JmapMethod<JmapCallContext>) => method.capability === mailCapability;
