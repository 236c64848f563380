// What a /set (and /copy, /import) call answers (RFC 8620 5.3-5.4): per object, the ids made or the
// SetError that refused it, and the states before and after. One shape for every type, so each
// method only decides what it does with an object, not how the answer is written.

/** A SetError (RFC 8620 5.3), with the extra properties some types carry (properties, notFound, maxSize). */
export type SetError = { type: string; description: string } & Record<string, unknown>;

/** The refusal of one object: thrown while handling it, answered in its notCreated/notUpdated/notDestroyed. */
export class SetFailure extends Error {
  constructor(readonly setError: SetError) {
    super(setError.description);
  }
}

/** invalidProperties naming the one property at fault. */
export const invalidProperty = (property: string, description: string) =>
  new SetFailure({ type: 'invalidProperties', description, properties: [property] });

/** What one /set did, per object. */
export interface SetOutcome {
  created?: Record<string, unknown>;
  notCreated?: Record<string, SetError>;
  updated?: Record<string, unknown>;
  notUpdated?: Record<string, SetError>;
  destroyed?: string[];
  notDestroyed?: Record<string, SetError>;
}

/** An empty map or list is answered as null (RFC 8620 5.3). */
export const orNull = (value: object | undefined) => (value && Object.keys(value).length ? value : null);

/** The /set response: every field present, empty ones null. */
export function setResponse(accountId: string, oldState: string, newState: string, outcome: SetOutcome) {
  return {
    accountId,
    oldState,
    newState,
    created: orNull(outcome.created),
    updated: orNull(outcome.updated),
    destroyed: outcome.destroyed?.length ? outcome.destroyed : null,
    notCreated: orNull(outcome.notCreated),
    notUpdated: orNull(outcome.notUpdated),
    notDestroyed: orNull(outcome.notDestroyed),
  };
}

/** The response of a call that only creates (Email/import; Email/copy): created and notCreated. */
export function createResponse(accountId: string, oldState: string, newState: string, outcome: SetOutcome) {
  return {
    accountId,
    oldState,
    newState,
    created: orNull(outcome.created),
    notCreated: orNull(outcome.notCreated),
  };
}
