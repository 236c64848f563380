// EmailSubmission/get, /changes, /query and /set (RFC 8621 7): sending an Email of the account's
// through the same path as SMTP submission (flow/local-submission.ts: send-as checks, sending limits,
// routing, DKIM, the queue). A submission is committed to the queue before /set answers, so its
// undoStatus is `final` from the start (there is no delayed send: maxDelayedSend is 0) and it cannot be
// canceled. deliveryStatus is read from the queue: each envelope recipient's state and last reply.
import { submitStoredMessage, type SubmissionEnvelope } from '../../flow/local-submission.ts';
import { maySendFrom } from '../../flow/sender-checks.ts';
import type { Selectable } from 'kysely';
import type { JmapSubmissionTable } from '../../store/schema.ts';
import { accountFolders } from './mail-folders.ts';
import { emailGetMethod, findEmails, utcDate } from './email-get.ts';
import { emailSetMethod } from './email-set.ts';
import type { JmapCallContext } from './jmap-context.ts';
import { MethodError, invalidArguments } from './jmap-errors.ts';
import { implicitResponses, type JmapMethod, type WithImplicitResponses } from './jmap-request.ts';
import { sendingOf, submissionCapability } from './jmap-sending.ts';
import { SetResults } from './set-outcome.ts';
import { findIdentity, identityId } from './identity-methods.ts';
import { changesOfTable, destroyRows, highestModseq, nextModseq } from './object-changes.ts';
import {
  filterInMemory,
  getIds,
  getProperties,
  parseFilter,
  parseSort,
  queryAnswer,
  queryWindow,
  requireAccount,
  requireInState,
  setArguments,
} from './method-arguments.ts';

type SubmissionRow = Selectable<JmapSubmissionTable>;

const properties = [
  'id',
  'identityId',
  'emailId',
  'threadId',
  'envelope',
  'sendAt',
  'undoStatus',
  'deliveryStatus',
  'dsnBlobIds',
  'mdnBlobIds',
] as const;
const knownProperties: ReadonlySet<string> = new Set(properties);
/** Submissions one /query considers (the newest). */
const maxQueried = 10_000;

export const submissionId = (id: number) => `s${id}`;
const parseSubmissionId = (id: unknown) =>
  typeof id === 'string' && /^s[1-9][0-9]{0,14}$/.test(id) ? Number(id.slice(1)) : undefined;

/**
 * The principal's live submissions (s) with their queue recipients (r): those of the submission's
 * entry and of its Junk copies' entry, when the spam filter split its local recipients.
 */
function recipientsOfSubmissions(context: JmapCallContext) {
  return context.mail.db
    .selectFrom('jmap_submissions as s')
    .innerJoin('queue_recipients as r', (join) =>
      join.on((eb) =>
        eb.or([
          eb('r.message_id', '=', eb.ref('s.queue_message_id')),
          eb('r.message_id', '=', eb.ref('s.junk_queue_message_id')),
        ]),
      ),
    )
    .where('s.principal_id', '=', context.principal.id)
    .where('s.destroyed', '=', 0);
}

/**
 * The state: the highest MODSEQ of the principal's submissions and the latest change the queue made to
 * their recipients (delivered, deferred, failed), so that a delivery changes the state too.
 */
async function submissionState(context: JmapCallContext): Promise<string> {
  const { db } = context.mail;
  const modseq = await highestModseq(db, 'jmap_submissions', context.principal.id);
  const row = await recipientsOfSubmissions(context)
    .select((eb) => eb.fn.max<number>('r.updated_at').as('at'))
    .executeTakeFirst();
  return `s${modseq}.${Number(row?.at ?? 0).toString(36)}`;
}

function deliveredAt(state: string | undefined): number {
  const match = typeof state === 'string' ? /^s[0-9]{1,15}\.([0-9a-z]{1,11})$/.exec(state) : null;
  return match ? Number.parseInt(match[1]!, 36) : 0;
}

async function liveRows(context: JmapCallContext, ids?: number[]): Promise<SubmissionRow[]> {
  return context.mail.db
    .selectFrom('jmap_submissions')
    .selectAll()
    .where('principal_id', '=', context.principal.id)
    .where('destroyed', '=', 0)
    .$if(ids !== undefined, (q) => q.where('id', 'in', ids!.length ? ids! : [0]))
    .orderBy('id', 'desc')
    .limit(maxQueried)
    .execute();
}

/** deliveryStatus (RFC 8621 7) of each submission, by its queue entry: per envelope recipient. */
async function deliveryStatuses(context: JmapCallContext, rows: SubmissionRow[]) {
  // Its entry, and its Junk copies' entry when the spam filter split its local recipients.
  const copiesIn = (row: SubmissionRow) =>
    [row.queue_message_id, row.junk_queue_message_id].filter((id) => id !== null).map(Number);
  const queueIds = [...new Set(rows.flatMap(copiesIn))];
  const recipients = queueIds.length
    ? await context.mail.db
        .selectFrom('queue_recipients')
        .select(['message_id', 'original_recipient', 'state', 'last_reply'])
        .where('message_id', 'in', queueIds)
        .execute()
    : [];
  const out = new Map<number, Record<string, unknown>>();
  for (const row of rows) {
    const envelope = JSON.parse(row.envelope) as SubmissionEnvelope;
    const entries = copiesIn(row);
    const mine = recipients.filter((r) => entries.includes(Number(r.message_id)));
    const status: Record<string, unknown> = {};
    for (const email of envelope.rcptTo) {
      const reached = mine.filter((r) => r.original_recipient.toLowerCase() === email.toLowerCase());
      let delivered = 'unknown';
      if (reached.some((r) => r.state === 'queued' || r.state === 'inflight' || r.state === 'deferred'))
        delivered = 'queued';
      else if (reached.length && reached.every((r) => r.state === 'failed')) delivered = 'no';
      else if (reached.some((r) => r.state === 'delivered')) delivered = 'yes';
      const reply = reached.find((r) => r.last_reply)?.last_reply;
      status[email] = {
        smtpReply: reply ?? (delivered === 'unknown' ? '250 2.0.0 Accepted' : '250 2.0.0 Queued'),
        delivered,
        displayed: 'unknown',
      };
    }
    out.set(Number(row.id), status);
  }
  return out;
}

const envelopeObject = (envelope: SubmissionEnvelope) => ({
  mailFrom: { email: envelope.mailFrom, parameters: null },
  rcptTo: envelope.rcptTo.map((email) => ({ email, parameters: null })),
});

async function submissionObjects(context: JmapCallContext, rows: SubmissionRow[], wanted: string[]) {
  const statuses = wanted.includes('deliveryStatus') ? await deliveryStatuses(context, rows) : new Map();
  return rows.map((row) => {
    const all: Record<string, unknown> = {
      id: submissionId(Number(row.id)),
      identityId: identityId(Number(row.identity_id)),
      emailId: row.email_id,
      threadId: row.thread_id,
      envelope: envelopeObject(JSON.parse(row.envelope)),
      sendAt: utcDate(Number(row.send_at)),
      undoStatus: 'final',
      deliveryStatus: statuses.get(Number(row.id)) ?? null,
      dsnBlobIds: [],
      mdnBlobIds: [],
    };
    return Object.fromEntries(wanted.map((p) => [p, all[p]]));
  });
}

const submissionGet: JmapMethod<JmapCallContext> = {
  capability: submissionCapability,
  async run(args, context) {
    const accountId = requireAccount(args, context);
    const ids = getIds(args, true);
    const wanted = getProperties(args.properties, knownProperties, properties);
    const state = await submissionState(context);
    const numbers = ids?.map(parseSubmissionId).filter((n): n is number => n !== undefined);
    const rows = (await liveRows(context, numbers)).reverse();
    const found = new Set(rows.map((r) => submissionId(Number(r.id))));
    return {
      accountId,
      state,
      list: await submissionObjects(context, rows, wanted),
      notFound: (ids ?? []).filter((id) => !found.has(id)),
    };
  },
};

const submissionChanges: JmapMethod<JmapCallContext> = {
  capability: submissionCapability,
  async run(args, context) {
    const accountId = requireAccount(args, context);
    const sinceDelivery = deliveredAt(args.sinceState as string);
    const state = await submissionState(context);
    const found = await changesOfTable(args, context.mail.db, 'jmap_submissions', context.principal.id, 's', state);
    const { created, destroyed } = found;
    const updated = new Set(found.updated);
    if (!found.hasMore) {
      // Deliveries since the state: their submissions are updated (deliveryStatus).
      const delivered = await recipientsOfSubmissions(context)
        .select('s.id')
        .distinct()
        .where('r.updated_at', '>', sinceDelivery)
        .execute();
      for (const { id } of delivered) if (!created.includes(Number(id))) updated.add(Number(id));
    }
    return {
      accountId,
      oldState: args.sinceState,
      newState: found.hasMore ? `s${found.upTo}.${sinceDelivery.toString(36)}` : state,
      hasMoreChanges: found.hasMore,
      created: created.map(submissionId),
      updated: [...updated].map(submissionId),
      destroyed: destroyed.map(submissionId),
    };
  },
};

type SubmissionCondition = (row: SubmissionRow) => boolean;

function submissionCondition(condition: Record<string, unknown>): SubmissionCondition {
  const tests: SubmissionCondition[] = [];
  const idList = (name: string, value: unknown) => {
    if (!Array.isArray(value) || !value.every((v) => typeof v === 'string'))
      throw invalidArguments(`${name} must be a list of ids`);
    return new Set(value as string[]);
  };
  const date = (name: string, value: unknown) => {
    const ms = typeof value === 'string' ? Date.parse(value) : Number.NaN;
    if (Number.isNaN(ms)) throw invalidArguments(`${name} must be a UTCDate`);
    return ms;
  };
  for (const [name, value] of Object.entries(condition)) {
    switch (name) {
      case 'identityIds': {
        const ids = idList(name, value);
        tests.push((r) => ids.has(identityId(Number(r.identity_id))));
        break;
      }
      case 'emailIds': {
        const ids = idList(name, value);
        tests.push((r) => ids.has(r.email_id));
        break;
      }
      case 'threadIds': {
        const ids = idList(name, value);
        tests.push((r) => ids.has(r.thread_id));
        break;
      }
      case 'undoStatus':
        if (value !== 'pending' && value !== 'final' && value !== 'canceled')
          throw invalidArguments('undoStatus must be pending, final or canceled');
        tests.push(() => value === 'final');
        break;
      case 'before': {
        const ms = date(name, value);
        tests.push((r) => Number(r.send_at) < ms);
        break;
      }
      case 'after': {
        const ms = date(name, value);
        tests.push((r) => Number(r.send_at) >= ms);
        break;
      }
      default:
        throw new MethodError('unsupportedFilter', `EmailSubmission/query does not filter by ${name}`);
    }
  }
  return (row) => tests.every((test) => test(row));
}

const submissionQuery: JmapMethod<JmapCallContext> = {
  capability: submissionCapability,
  async run(args, context) {
    const accountId = requireAccount(args, context);
    const filter = parseFilter(args.filter, submissionCondition);
    const sort = parseSort(args.sort, new Set(['emailId', 'threadId', 'sentAt']));
    const window = queryWindow(args);
    const state = await submissionState(context);
    const rows = await liveRows(context);
    const sorted = await filterInMemory(filter, rows);
    sorted.sort((a, b) => {
      for (const { property, isAscending } of sort) {
        const order =
          property === 'sentAt'
            ? Number(a.send_at) - Number(b.send_at)
            : (property === 'emailId' ? a.email_id : a.thread_id).localeCompare(
                property === 'emailId' ? b.email_id : b.thread_id,
              );
        if (order) return isAscending ? order : -order;
      }
      return Number(a.id) - Number(b.id);
    });
    return queryAnswer(
      accountId,
      state,
      sorted.map((r) => submissionId(Number(r.id))),
      window,
      args,
    );
  },
};

/** The envelope of a create, checked: undefined when none was given, a string when it is malformed. */
function parseEnvelope(value: unknown): SubmissionEnvelope | undefined | string {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) return 'envelope must be an object';
  const { mailFrom, rcptTo } = value as { mailFrom?: unknown; rcptTo?: unknown };
  const address = (item: unknown): string | undefined => {
    if (typeof item !== 'object' || item === null) return undefined;
    const { email, parameters } = item as { email?: unknown; parameters?: unknown };
    if (typeof email !== 'string' || email.length > 320) return undefined;
    // No SMTP extensions are offered (submissionExtensions is empty).
    if (parameters !== undefined && parameters !== null) return undefined;
    return email;
  };
  const from = address(mailFrom);
  if (from === undefined) return 'envelope.mailFrom must be {email, parameters: null}';
  if (!Array.isArray(rcptTo) || rcptTo.length > 10_000) return 'envelope.rcptTo must be a list of addresses';
  const to = rcptTo.map(address);
  if (to.some((t) => t === undefined)) return 'each envelope.rcptTo is {email, parameters: null}';
  return { mailFrom: from, rcptTo: [...new Set(to as string[])] };
}

const serverSet = new Set(['id', 'threadId', 'sendAt', 'undoStatus', 'deliveryStatus', 'dsnBlobIds', 'mdnBlobIds']);

const submissionSet: JmapMethod<JmapCallContext> = {
  capability: submissionCapability,
  async run(args, context) {
    const accountId = requireAccount(args, context);
    const { principal, mail } = context;
    const sending = sendingOf(context);
    const { create, update, destroy } = setArguments(args);
    const onSuccessUpdate = args.onSuccessUpdateEmail ?? null;
    const onSuccessDestroy = args.onSuccessDestroyEmail ?? null;
    if (onSuccessUpdate !== null && (typeof onSuccessUpdate !== 'object' || Array.isArray(onSuccessUpdate)))
      throw invalidArguments('onSuccessUpdateEmail must be an object');
    if (onSuccessDestroy !== null && !Array.isArray(onSuccessDestroy))
      throw invalidArguments('onSuccessDestroyEmail must be a list');
    const oldState = await submissionState(context);
    requireInState(args, oldState, 'the submissions');

    const results = new SetResults();
    const { created, notCreated, updated, notUpdated, destroyed, notDestroyed } = results;
    /** Email id of each submission this call created, updated or destroyed, by id and by #creation id. */
    const emailOf = new Map<string, string>();
    const { folders } = await accountFolders(mail.db, principal, mail.now());
    for (const [creationId, object] of Object.entries(create)) {
      const bad = (property: string, description: string) =>
        void (notCreated[creationId] = { type: 'invalidProperties', description, properties: [property] });
      if (typeof object !== 'object' || object === null || Array.isArray(object)) {
        notCreated[creationId] = { type: 'invalidProperties', description: 'an EmailSubmission is an object' };
        continue;
      }
      const given = object as Record<string, unknown>;
      const extra = Object.keys(given).find(
        (k) => !['identityId', 'emailId', 'envelope'].includes(k) && !(k === 'undoStatus' && given[k] === 'final'),
      );
      if (extra) {
        bad(extra, serverSet.has(extra) ? `${extra} is set by the server` : `${extra} is not a property`);
        continue;
      }
      const identity = await findIdentity(context, given.identityId);
      if (!identity) {
        bad('identityId', `no Identity ${String(given.identityId)}`);
        continue;
      }
      const [email] =
        typeof given.emailId === 'string' ? (await findEmails(context, folders, [given.emailId])).found : [];
      if (!email) {
        bad('emailId', `no Email ${String(given.emailId)}`);
        continue;
      }
      const envelope = parseEnvelope(given.envelope);
      if (typeof envelope === 'string') {
        bad('envelope', envelope);
        continue;
      }
      if (!(await maySendAsIdentity(context, identity.email))) {
        notCreated[creationId] = {
          type: 'forbiddenFrom',
          description: `${principal.address} may no longer send as <${identity.email}> (the identity's address)`,
        };
        continue;
      }
      const outcome = await submitStoredMessage(sending.deps, {
        principal,
        message: { prefix: email.row.prefix, blobHash: email.row.blobHash },
        envelope,
        client: sending.client,
      });
      if (!outcome.ok) {
        notCreated[creationId] = { ...outcome.refusal };
        continue;
      }
      const [got] = (await emailGetMethod[1].run({ accountId, ids: [email.id], properties: ['threadId'] }, context))
        .list as { threadId?: string }[];
      const row = await mail.db.transaction().execute(async (trx) => {
        const modseq = await nextModseq(trx, 'jmap_submissions', principal.id);
        return trx
          .insertInto('jmap_submissions')
          .values({
            principal_id: principal.id,
            tenant_id: principal.tenantId,
            identity_id: Number(identity.id),
            email_id: email.id,
            thread_id: got?.threadId ?? email.id,
            queue_message_id: outcome.queueId,
            junk_queue_message_id: outcome.junkQueueId ?? null,
            envelope: JSON.stringify(outcome.envelope),
            send_at: outcome.sentAt,
            created_modseq: modseq,
            modseq,
            destroyed: 0,
          })
          .returning('id')
          .executeTakeFirstOrThrow();
      });
      const id = submissionId(Number(row.id));
      created[creationId] = { id, sendAt: utcDate(outcome.sentAt), undoStatus: 'final', threadId: got?.threadId };
      emailOf.set(`#${creationId}`, email.id);
      emailOf.set(id, email.id);
      context.log.info(
        {
          principal: principal.address,
          submission: id,
          queueId: outcome.queueId,
          recipients: outcome.envelope.rcptTo.length,
        },
        'jmap: email submitted',
      );
    }

    const existing = new Map(
      (
        await liveRows(
          context,
          [...Object.keys(update), ...destroy].map(parseSubmissionId).filter((n) => n !== undefined),
        )
      ).map((r) => [submissionId(Number(r.id)), r]),
    );
    for (const [id, patch] of Object.entries(update)) {
      const row = existing.get(id);
      if (!row) notUpdated[id] = { type: 'notFound', description: `no EmailSubmission ${id}` };
      else if (typeof patch !== 'object' || patch === null || Array.isArray(patch))
        notUpdated[id] = { type: 'invalidPatch', description: 'a patch is an object' };
      else if (Object.keys(patch).some((k) => k !== 'undoStatus'))
        notUpdated[id] = {
          type: 'invalidProperties',
          description: 'only undoStatus may be changed',
          properties: Object.keys(patch).filter((k) => k !== 'undoStatus'),
        };
      else if ((patch as Record<string, unknown>).undoStatus === 'final') {
        updated[id] = null;
        emailOf.set(id, row.email_id);
      } else
        notUpdated[id] = {
          type: 'cannotUnsend',
          description: 'the message was handed to the queue when it was submitted (undoStatus is final)',
        };
    }

    const removals = destroy.filter((id) => {
      if (existing.has(id)) return true;
      notDestroyed[id] = { type: 'notFound', description: `no EmailSubmission ${id}` };
      return false;
    });
    if (removals.length)
      await mail.db.transaction().execute(async (trx) => {
        // The record goes; the message does not come back (it is in the queue or delivered).
        const modseq = await nextModseq(trx, 'jmap_submissions', principal.id);
        await destroyRows(
          trx,
          'jmap_submissions',
          principal.id,
          removals.map((id) => parseSubmissionId(id)!),
          modseq,
        );
        for (const id of removals) {
          destroyed.push(id);
          emailOf.set(id, existing.get(id)!.email_id);
        }
      });

    const result: WithImplicitResponses = results.setResponse(accountId, oldState, await submissionState(context));

    // onSuccessUpdateEmail / onSuccessDestroyEmail: one implicit Email/set for the successes.
    const emailUpdate: Record<string, unknown> = {};
    for (const [key, patch] of Object.entries((onSuccessUpdate ?? {}) as Record<string, unknown>)) {
      const id = emailOf.get(key);
      if (id) emailUpdate[id] = patch;
    }
    const emailDestroy = ((onSuccessDestroy ?? []) as unknown[]).flatMap((key) => {
      const id = typeof key === 'string' ? emailOf.get(key) : undefined;
      return id ? [id] : [];
    });
    if (Object.keys(emailUpdate).length || emailDestroy.length) {
      const implicit = await emailSetMethod[1].run(
        {
          accountId,
          ...(Object.keys(emailUpdate).length ? { update: emailUpdate } : {}),
          ...(emailDestroy.length ? { destroy: emailDestroy } : {}),
        },
        context,
      );
      result[implicitResponses] = [['Email/set', implicit]];
    }
    return result;
  },
};

const maySendAsIdentity = (context: JmapCallContext, email: string) =>
  maySendFrom(sendingOf(context).deps.directory, context.principal, email);

export const submissionMethods: [string, JmapMethod<JmapCallContext>][] = [
  ['EmailSubmission/get', submissionGet],
  ['EmailSubmission/changes', submissionChanges],
  ['EmailSubmission/query', submissionQuery],
  ['EmailSubmission/set', submissionSet],
];
