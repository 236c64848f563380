// Identity/get, /changes and /set (RFC 8621 6): how a user sends from an address they may send as.
// The server keeps one identity for each mailbox address the user may send as — their own, and each
// mailbox they hold a send-as grant on (`holdfast grant`) — made when first listed and not deletable;
// the user adds others (another name or signature, an alias) for addresses the same check allows: the
// one SMTP submission makes (flow/sender-checks.ts). An identity whose address the user may no longer
// send as (a grant taken back, an alias removed) is destroyed the next time identities are read.
import type { Principal } from '../../directory/directory.ts';
import { maySendFrom } from '../../flow/sender-checks.ts';
import type { Database, JmapIdentityTable } from '../../store/schema.ts';
import type { Kysely, Selectable } from 'kysely';
import type { JmapCallContext } from './jmap-context.ts';
import type { JmapMethod } from './jmap-request.ts';
import { boundedString, emailAddresses, sendingOf, submissionCapability } from './jmap-sending.ts';
import { SetResults, type SetError } from './set-outcome.ts';
import { changesOfTable, destroyRows, highestModseq, nextModseq } from './object-changes.ts';
import { getIds, getList, getProperties, requireAccount, requireInState, setArguments } from './method-arguments.ts';

const properties = ['id', 'name', 'email', 'replyTo', 'bcc', 'textSignature', 'htmlSignature', 'mayDelete'] as const;
const knownProperties: ReadonlySet<string> = new Set(properties);
/** Identities one principal may have (the server's own ones included). */
export const maxIdentities = 100;
const maxSignature = 64 * 1024;

type IdentityRow = Selectable<JmapIdentityTable>;
/** The columns an Identity's properties set. */
type IdentityValues = Partial<Omit<IdentityRow, 'id'>>;

export const identityId = (id: number) => `i${id}`;
export const parseIdentityId = (id: unknown) =>
  typeof id === 'string' && /^i[1-9][0-9]{0,14}$/.test(id) ? Number(id.slice(1)) : undefined;
export const identityState = (modseq: number) => `i${modseq}`;

function identityObject(row: IdentityRow): Record<string, unknown> {
  return {
    id: identityId(Number(row.id)),
    name: row.name,
    email: row.email,
    replyTo: row.reply_to === null ? null : JSON.parse(row.reply_to),
    bcc: row.bcc === null ? null : JSON.parse(row.bcc),
    textSignature: row.text_signature,
    htmlSignature: row.html_signature,
    mayDelete: row.is_default !== 1,
  };
}

/** The mailboxes the principal may send as by right: their own, and those with a send-as grant to them. */
async function mailboxesToSendAs(db: Kysely<Database>, principal: Principal) {
  const granted = await db
    .selectFrom('mailbox_grants as g')
    .innerJoin('principals as p', 'p.id', 'g.target_id')
    .select(['p.address', 'p.display_name'])
    .where('g.grantee_id', '=', principal.id)
    .where('g.send_as', '=', 1)
    .where('p.kind', '!=', 'group')
    .orderBy('p.address')
    .execute();
  return [
    { email: principal.address, name: principal.displayName ?? '' },
    ...granted.map((g) => ({ email: g.address, name: g.display_name ?? '' })),
  ];
}

/**
 * The principal's live identities, brought in line with what they may send as first (the server's
 * own made, those of addresses no longer allowed destroyed), and the state after.
 */
export async function currentIdentities(context: JmapCallContext): Promise<{ rows: IdentityRow[]; state: string }> {
  const { principal } = context;
  const { db } = context.mail;
  const { directory } = sendingOf(context).deps;
  const live = () =>
    db
      .selectFrom('jmap_identities')
      .selectAll()
      .where('principal_id', '=', principal.id)
      .where('destroyed', '=', 0)
      .orderBy('id')
      .execute();
  let rows = await live();
  const byRight = await mailboxesToSendAs(db, principal);
  const missing = byRight.filter((m) => !rows.some((r) => r.is_default === 1 && r.email === m.email));
  const gone: number[] = [];
  for (const row of rows) {
    const stillDefault = row.is_default !== 1 || byRight.some((m) => m.email === row.email);
    if (!stillDefault || !(await maySendFrom(directory, principal, row.email))) gone.push(Number(row.id));
  }
  if (missing.length || gone.length) {
    await db.transaction().execute(async (trx) => {
      let modseq = await nextModseq(trx, 'jmap_identities', principal.id);
      for (const id of gone)
        await trx
          .updateTable('jmap_identities')
          .set({ destroyed: 1, modseq: modseq++ })
          .where('id', '=', id)
          .where('principal_id', '=', principal.id)
          .execute();
      // Made again only if no other writer made it meanwhile.
      const now = await trx
        .selectFrom('jmap_identities')
        .select('email')
        .where('principal_id', '=', principal.id)
        .where('destroyed', '=', 0)
        .where('is_default', '=', 1)
        .execute();
      for (const m of missing) {
        if (now.some((r) => r.email === m.email)) continue;
        await trx
          .insertInto('jmap_identities')
          .values({
            principal_id: principal.id,
            tenant_id: principal.tenantId,
            email: m.email,
            name: m.name,
            reply_to: null,
            bcc: null,
            text_signature: '',
            html_signature: '',
            is_default: 1,
            created_modseq: modseq,
            modseq: modseq++,
            destroyed: 0,
          })
          .execute();
      }
    });
    rows = await live();
  }
  return { rows, state: identityState(await highestModseq(db, 'jmap_identities', principal.id)) };
}

const identityGet: JmapMethod<JmapCallContext> = {
  capability: submissionCapability,
  async run(args, context) {
    const accountId = requireAccount(args, context);
    const ids = getIds(args, true);
    const wanted = getProperties(args.properties, knownProperties, properties);
    const { rows, state } = await currentIdentities(context);
    const byId = new Map(rows.map((r) => [identityId(Number(r.id)), r]));
    const { list, notFound } = await getList(ids, byId, (row) => {
      const all = identityObject(row);
      return Object.fromEntries(wanted.map((p) => [p, all[p]]));
    });
    return { accountId, state, list, notFound };
  },
};

const identityChanges: JmapMethod<JmapCallContext> = {
  capability: submissionCapability,
  async run(args, context) {
    const accountId = requireAccount(args, context);
    const { state } = await currentIdentities(context);
    const changes = await changesOfTable(args, context.mail.db, 'jmap_identities', context.principal.id, 'i', state);
    return {
      accountId,
      oldState: args.sinceState,
      newState: changes.hasMore ? identityState(changes.upTo) : state,
      hasMoreChanges: changes.hasMore,
      created: changes.created.map(identityId),
      updated: changes.updated.map(identityId),
      destroyed: changes.destroyed.map(identityId),
    };
  },
};

/** The columns a create or update sets, or the SetError of the first bad property. */
function identityValues(
  object: Record<string, unknown>,
  creating: boolean,
  current?: IdentityRow,
): { values: IdentityValues } | { error: SetError } {
  const bad = (property: string, description: string) => ({
    error: { type: 'invalidProperties', description, properties: [property] },
  });
  const values: IdentityValues = {};
  for (const [property, value] of Object.entries(object)) {
    switch (property) {
      case 'name': {
        const name = boundedString(value, 200);
        if (name === undefined) return bad(property, 'name is a string of at most 200 characters');
        values.name = name;
        break;
      }
      case 'email':
        if (creating) {
          if (typeof value !== 'string' || value.length > 320) return bad(property, 'email is an address');
          values.email = value.trim().toLowerCase();
        } else if (value !== current?.email) return bad(property, 'email cannot be changed: make another identity');
        break;
      case 'replyTo':
      case 'bcc': {
        const list = emailAddresses(value);
        if (list === undefined) return bad(property, `${property} is null or a list of EmailAddress objects`);
        values[property === 'replyTo' ? 'reply_to' : 'bcc'] = list === null ? null : JSON.stringify(list);
        break;
      }
      case 'textSignature':
      case 'htmlSignature': {
        const text = boundedString(value, maxSignature);
        if (text === undefined) return bad(property, `${property} is a string of at most ${maxSignature} characters`);
        values[property === 'textSignature' ? 'text_signature' : 'html_signature'] = text;
        break;
      }
      case 'id':
      case 'mayDelete':
        if (creating || value !== (property === 'id' ? identityId(Number(current!.id)) : current!.is_default !== 1))
          return bad(property, `${property} is set by the server`);
        break;
      default:
        return bad(property, `${property} is not a property of an Identity`);
    }
  }
  if (creating && typeof values.email !== 'string') return bad('email', 'email is required');
  return { values };
}

const identitySet: JmapMethod<JmapCallContext> = {
  capability: submissionCapability,
  async run(args, context) {
    const accountId = requireAccount(args, context);
    const { principal } = context;
    const { db } = context.mail;
    const { directory } = sendingOf(context).deps;
    const { create, update, destroy } = setArguments(args);
    const before = await currentIdentities(context);
    requireInState(args, before.state, 'the identities');
    const byId = new Map(before.rows.map((r) => [identityId(Number(r.id)), r]));

    const results = new SetResults();
    const { created, notCreated, updated, notUpdated, destroyed, notDestroyed } = results;

    // Checked first (the directory is read outside the transaction), written in one transaction.
    const inserts: [string, IdentityValues][] = [];
    let count = before.rows.length;
    for (const [creationId, object] of Object.entries(create)) {
      if (typeof object !== 'object' || object === null || Array.isArray(object)) {
        notCreated[creationId] = { type: 'invalidProperties', description: 'an Identity is an object' };
        continue;
      }
      const checked = identityValues(object as Record<string, unknown>, true);
      if ('error' in checked) {
        notCreated[creationId] = checked.error;
        continue;
      }
      const email = checked.values.email!;
      if (!(await maySendFrom(directory, principal, email))) {
        notCreated[creationId] = {
          type: 'forbiddenFrom',
          description: `<${email}> is not an address ${principal.address} may send as`,
        };
        continue;
      }
      if (count >= maxIdentities) {
        notCreated[creationId] = { type: 'overQuota', description: `at most ${maxIdentities} identities` };
        continue;
      }
      count++;
      inserts.push([creationId, checked.values]);
    }
    const changes: [string, IdentityValues][] = [];
    for (const [id, patch] of Object.entries(update)) {
      const row = byId.get(id);
      if (!row) {
        notUpdated[id] = { type: 'notFound', description: `no Identity ${id}` };
        continue;
      }
      if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) {
        notUpdated[id] = { type: 'invalidPatch', description: 'a patch is an object' };
        continue;
      }
      const checked = identityValues(patch as Record<string, unknown>, false, row);
      if ('error' in checked) notUpdated[id] = checked.error;
      else changes.push([id, checked.values]);
    }
    const removals: string[] = [];
    for (const id of destroy) {
      const row = byId.get(id);
      if (!row) notDestroyed[id] = { type: 'notFound', description: `no Identity ${id}` };
      else if (row.is_default === 1)
        notDestroyed[id] = {
          type: 'forbidden',
          description: `${id} is the identity of ${row.email}, an address ${principal.address} sends as by right`,
        };
      else removals.push(id);
    }

    if (inserts.length || changes.length || removals.length)
      await db.transaction().execute(async (trx) => {
        let modseq = await nextModseq(trx, 'jmap_identities', principal.id);
        for (const [creationId, values] of inserts) {
          const row = await trx
            .insertInto('jmap_identities')
            .values({
              principal_id: principal.id,
              tenant_id: principal.tenantId,
              email: values.email!,
              name: values.name ?? '',
              reply_to: values.reply_to ?? null,
              bcc: values.bcc ?? null,
              text_signature: values.text_signature ?? '',
              html_signature: values.html_signature ?? '',
              is_default: 0,
              created_modseq: modseq,
              modseq: modseq++,
              destroyed: 0,
            })
            .returning('id')
            .executeTakeFirstOrThrow();
          created[creationId] = { id: identityId(Number(row.id)), mayDelete: true };
        }
        for (const [id, values] of changes) {
          await trx
            .updateTable('jmap_identities')
            .set({ ...values, modseq: modseq++ })
            .where('id', '=', parseIdentityId(id)!)
            .where('principal_id', '=', principal.id)
            .execute();
          updated[id] = null;
        }
        modseq = await destroyRows(
          trx,
          'jmap_identities',
          principal.id,
          removals.map((id) => parseIdentityId(id)!),
          modseq,
        );
        destroyed.push(...removals);
      });
    const newState = identityState(await highestModseq(db, 'jmap_identities', principal.id));
    return results.setResponse(accountId, before.state, newState);
  },
};

/** A live identity of the principal's, by id (EmailSubmission names one). */
export async function findIdentity(context: JmapCallContext, id: unknown): Promise<IdentityRow | undefined> {
  const number = parseIdentityId(id);
  if (number === undefined) return undefined;
  return context.mail.db
    .selectFrom('jmap_identities')
    .selectAll()
    .where('id', '=', number)
    .where('principal_id', '=', context.principal.id)
    .where('destroyed', '=', 0)
    .executeTakeFirst();
}

export const identityMethods: [string, JmapMethod<JmapCallContext>][] = [
  ['Identity/get', identityGet],
  ['Identity/changes', identityChanges],
  ['Identity/set', identitySet],
];
