// Creation ids (RFC 8620 5.3): an object a /set (or /copy, /import) call creates under a client's
// creation id may be named `#<creation id>` in place of its id by any later call of the same request
// — Email/set creating a draft as "k1", then EmailSubmission/set sending {"emailId": "#k1"}. The
// request's `createdIds` (3.3) seeds the map and, when given, is answered with every id created.
//
// Replaced are only Id-typed places, as the RFC says: values of arguments and properties whose names
// say they hold ids (`ids`, `destroy`, `…Id`, `…Ids`, `inMailbox…`), the keys of maps keyed by id
// (`update`, `mailboxIds`) and `#…` steps of patch paths ("mailboxIds/#k1"). A subject or a
// signature that happens to read "#k1" stays as it is. A reference to no known creation id is left
// for the method, which answers it as an id it does not know (or, within one /set call, as one it
// created earlier in that call).

/** Names of arguments and properties whose values are ids or lists of ids. */
const idValued = (key: string) =>
  key === 'ids' || key === 'destroy' || key === 'inMailbox' || key === 'inMailboxOtherThan' || /[a-z]Ids?$/.test(key);
/** Names of maps whose keys are ids. */
const idKeyed = new Set(['update', 'mailboxIds']);

/** Nesting walked at most (arguments are bounded by the request's size already). */
const maxDepth = 16;

export class CreationIds {
  private readonly ids: Map<string, string>;

  constructor(given?: Record<string, string>) {
    this.ids = new Map(Object.entries(given ?? {}));
  }

  /** Records the ids a call's answer says it created (`created: {creationId: {id, …}}`). */
  record(result: Record<string, unknown>): void {
    const created = result.created;
    if (!isObject(created)) return;
    for (const [creationId, object] of Object.entries(created))
      if (isObject(object) && typeof object.id === 'string') this.ids.set(creationId, object.id);
  }

  /** The arguments with every known `#creationId` in an Id-typed place replaced by its id. */
  resolve(args: Record<string, unknown>): Record<string, unknown> {
    if (this.ids.size === 0) return args;
    return this.walk(args, '', 0) as Record<string, unknown>;
  }

  /** Every creation id with its id, for the response's `createdIds`. */
  toObject(): Record<string, string> {
    return Object.fromEntries(this.ids);
  }

  private id(value: string): string {
    return (value.startsWith('#') && this.ids.get(value.slice(1))) || value;
  }

  private walk(value: unknown, key: string, depth: number): unknown {
    if (depth > maxDepth) return value;
    if (typeof value === 'string') return idValued(key) ? this.id(value) : value;
    if (Array.isArray(value))
      return value.map((item) =>
        typeof item === 'string' ? (idValued(key) ? this.id(item) : item) : this.walk(item, key, depth + 1),
      );
    if (!isObject(value)) return value;
    const out: Record<string, unknown> = {};
    for (const [name, inner] of Object.entries(value)) {
      const resolvedName = idKeyed.has(key) ? this.id(name) : this.patchPath(name);
      out[resolvedName] = this.walk(inner, name, depth + 1);
    }
    return out;
  }

  /** A patch path's `#…` steps ("mailboxIds/#k1" → "mailboxIds/M12"); other names as they are. */
  private patchPath(name: string): string {
    if (!name.includes('/#')) return name;
    return name
      .split('/')
      .map((step) => this.id(step))
      .join('/');
  }
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
