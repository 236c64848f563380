// What a /set (and /copy, /import, Blob/copy) call answers (RFC 8620 5.3-5.4, 6.3): per object, the
// ids made or the SetError that refused it, and the states before and after. One shape for every
// type, so each method only decides what it does with an object, not how the answer is written.

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

/** An empty map or list is answered as null (RFC 8620 5.3). */
export const orNull = (value: object | undefined) => (value && Object.keys(value).length ? value : null);

/**
 * What one /set (or /import, /copy, Blob/copy) did, object by object, gathered as it goes: the ids
 * made, changed and destroyed, and the SetError of each object refused. Each method decides only
 * what it does with an object; how the answer is written is here.
 */
export class SetResults {
  readonly created: Record<string, unknown> = {};
  readonly notCreated: Record<string, SetError> = {};
  readonly updated: Record<string, unknown> = {};
  readonly notUpdated: Record<string, SetError> = {};
  readonly destroyed: string[] = [];
  readonly notDestroyed: Record<string, SetError> = {};

  /** Makes one object: created[id] is what `make` answers, notCreated[id] a SetFailure it throws. Whether it was made. */
  create(id: string, make: () => Promise<unknown>): Promise<boolean> {
    return attempt(this.notCreated, id, async () => {
      this.created[id] = await make();
    });
  }

  /** Changes one object: updated[id] is what `change` answers (null: nothing the client did not send). */
  update(id: string, change: () => Promise<unknown>): Promise<boolean> {
    return attempt(this.notUpdated, id, async () => {
      this.updated[id] = (await change()) ?? null;
    });
  }

  /** Destroys one object: in destroyed once `remove` returns, in notDestroyed with the SetFailure it throws. */
  destroy(id: string, remove: () => Promise<void>): Promise<boolean> {
    return attempt(this.notDestroyed, id, async () => {
      await remove();
      this.destroyed.push(id);
    });
  }

  /** The /set response: every field present, empty ones null. */
  setResponse(accountId: string, oldState: string, newState: string) {
    return {
      accountId,
      oldState,
      newState,
      created: orNull(this.created),
      updated: orNull(this.updated),
      destroyed: this.destroyed.length ? this.destroyed : null,
      notCreated: orNull(this.notCreated),
      notUpdated: orNull(this.notUpdated),
      notDestroyed: orNull(this.notDestroyed),
    };
  }

  /** The response of a call that only creates (Email/import; Email/copy): created and notCreated. */
  createResponse(accountId: string, oldState: string, newState: string) {
    const { created, notCreated } = this.setResponse(accountId, oldState, newState);
    return { accountId, oldState, newState, created, notCreated };
  }
}

/** Runs `step`; a SetFailure it throws is the object's SetError in `refused` (other errors go on). */
async function attempt(refused: Record<string, SetError>, id: string, step: () => Promise<void>): Promise<boolean> {
  try {
    await step();
    return true;
  } catch (error) {
    if (!(error instanceof SetFailure)) throw error;
    refused[id] = error.setError;
    return false;
  }
}
