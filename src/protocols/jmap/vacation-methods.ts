// VacationResponse/get and VacationResponse/set (RFC 8621 8): the one VacationResponse of an
// account ("singleton") is the user's automatic reply settings (mailbox/vacation.ts), the ones
// `holdfast vacation` shows and the responder at local delivery reads (flow/vacation-responder.ts).
// It cannot be created or destroyed, only updated. How often a sender is answered (`days`) is not
// a JMAP property: it keeps its value (7 unless an administrator set another).
import { createHash } from 'node:crypto';
import { HoldfastError } from '../../errors.ts';
import { setVacation, vacationOf, type VacationSettings } from '../../mailbox/vacation.ts';
import type { JmapCallContext } from './jmap-context.ts';
import { MethodError } from './jmap-errors.ts';
import { vacationResponseCapability, type JmapMethod } from './jmap-request.ts';
import { getIds, getProperties, requireAccount, requireInState, setArguments } from './method-arguments.ts';
import { SetResults } from './set-outcome.ts';

const singleton = 'singleton';
const properties = ['id', 'isEnabled', 'fromDate', 'toDate', 'subject', 'textBody', 'htmlBody'] as const;
const knownProperties: ReadonlySet<string> = new Set(properties);

/** A UTCDate (RFC 8620 1.4): no fraction of a second when it is zero. */
const utcDate = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString().replace(/\.000Z$/, 'Z'));

/** The state: a hash of the settings, so it changes exactly when what a client sees does. */
function stateOf(settings: VacationSettings): string {
  return createHash('sha256').update(JSON.stringify(settings)).digest('base64url').slice(0, 12);
}

function objectOf(settings: VacationSettings): Record<string, unknown> {
  return {
    id: singleton,
    isEnabled: settings.isEnabled,
    fromDate: utcDate(settings.fromDate),
    toDate: utcDate(settings.toDate),
    subject: settings.subject,
    textBody: settings.textBody,
    htmlBody: settings.htmlBody,
  };
}

const vacationGet: JmapMethod<JmapCallContext> = {
  capability: vacationResponseCapability,
  async run(args, context) {
    const accountId = requireAccount(args, context);
    const ids = getIds(args, true);
    const wanted = getProperties(args.properties, knownProperties, properties);
    const settings = await vacationOf(context.mail.db, context.principal.id);
    const object = objectOf(settings);
    const list = ids === null || ids.includes(singleton) ? [Object.fromEntries(wanted.map((p) => [p, object[p]]))] : [];
    return { accountId, state: stateOf(settings), list, notFound: (ids ?? []).filter((id) => id !== singleton) };
  },
};

class PatchError extends Error {
  constructor(
    readonly property: string,
    description: string,
  ) {
    super(description);
  }
}

function parseDate(property: string, value: unknown): number | null {
  if (value === null) return null;
  const ms =
    typeof value === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(value)
      ? Date.parse(value)
      : Number.NaN;
  if (Number.isNaN(ms)) throw new PatchError(property, `${property} must be a UTCDate (2026-07-01T00:00:00Z) or null`);
  return ms;
}

function optionalText(property: string, value: unknown): string | null {
  if (value !== null && typeof value !== 'string')
    throw new PatchError(property, `${property} must be a string or null`);
  return value;
}

/** The settings a patch makes of the current ones. */
function applyPatch(settings: VacationSettings, patch: Record<string, unknown>): VacationSettings {
  const next = { ...settings };
  for (const [property, value] of Object.entries(patch)) {
    switch (property) {
      case 'id':
        if (value !== singleton) throw new PatchError(property, 'id is set by the server');
        break;
      case 'isEnabled':
        if (typeof value !== 'boolean') throw new PatchError(property, 'isEnabled must be true or false');
        next.isEnabled = value;
        break;
      case 'fromDate':
        next.fromDate = parseDate(property, value);
        break;
      case 'toDate':
        next.toDate = parseDate(property, value);
        break;
      case 'subject':
        next.subject = optionalText(property, value);
        break;
      case 'textBody':
        next.textBody = optionalText(property, value);
        break;
      case 'htmlBody':
        next.htmlBody = optionalText(property, value);
        break;
      default:
        throw new PatchError(property, `VacationResponse has no property ${property}`);
    }
  }
  return next;
}

/** Which property a refusal of the settings is about (mailbox/vacation.ts names it in its code). */
const propertyOfCode: Record<string, string> = {
  'bad-vacation-dates': 'toDate',
  'bad-vacation-subject': 'subject',
  'bad-vacation-body': 'textBody',
};

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const vacationSet: JmapMethod<JmapCallContext> = {
  capability: vacationResponseCapability,
  async run(args, context) {
    const accountId = requireAccount(args, context);
    const { create, update, destroy } = setArguments(args);
    const { db, now } = context.mail;
    const principalId = context.principal.id;
    const before = await vacationOf(db, principalId);
    const oldState = stateOf(before);
    requireInState(args, oldState, 'the VacationResponse');

    const results = new SetResults();
    const { notCreated, notDestroyed, updated, notUpdated } = results;
    for (const creationId of Object.keys(create))
      notCreated[creationId] = { type: 'singleton', description: 'there is one VacationResponse: update it' };
    for (const id of destroy)
      notDestroyed[id] = { type: 'singleton', description: 'the VacationResponse cannot be destroyed: turn it off' };
    for (const [id, patch] of Object.entries(update)) {
      if (id !== singleton) {
        notUpdated[id] = { type: 'notFound', description: `the VacationResponse is "${singleton}"` };
        continue;
      }
      try {
        if (!isObject(patch)) throw new MethodError('invalidArguments', 'a patch is an object');
        await setVacation(db, principalId, applyPatch(before, patch), now());
        updated[id] = null;
      } catch (error) {
        if (error instanceof PatchError)
          notUpdated[id] = { type: 'invalidProperties', description: error.message, properties: [error.property] };
        else if (error instanceof HoldfastError && error.kind === 'invalid')
          notUpdated[id] = {
            type: 'invalidProperties',
            description: error.message,
            properties: [propertyOfCode[error.code] ?? 'id'],
          };
        else if (error instanceof MethodError) notUpdated[id] = { type: 'invalidPatch', description: error.message };
        else throw error;
      }
    }
    return results.setResponse(accountId, oldState, stateOf(await vacationOf(db, principalId)));
  },
};

export const vacationMethods: [string, JmapMethod<JmapCallContext>][] = [
  ['VacationResponse/get', vacationGet],
  ['VacationResponse/set', vacationSet],
];
