// JMAP push (RFC 8620 7; RFC 8887 for WebSocket): the state strings of an account's data types, and
// the hub that tells every open push connection of an account when they change. The hub listens to
// the mailbox change feed, the one IMAP IDLE listens to: it carries the changes of this process, of
// the other workers of the machine and of the other nodes on PostgreSQL (mailbox/change-feed.ts), so
// a push connection hears of mail delivered anywhere. A change is only a hint: the hub reads the
// account's states again from the store and each connection sends what differs from what it sent
// last, so changes that come in a burst (or while a client is slow to read) make one event with the
// latest states, never a queue of them.
//
// Address books and cards are not in that feed: the hub hears of their changes in this process from
// contacts/contacts-changes.ts and reads the AddressBook and ContactCard states again every minute
// besides (other processes and nodes, the directory).
//
// A connection hears of every account its user may work in (RFC 8620 7.1): their own and the
// mailboxes shared with them (jmap-accounts.ts), as they are when it opens; its StateChange names
// each account whose states changed (AccountWatch).
import { createHash } from 'node:crypto';
import type { Principal } from '../../directory/principal.ts';
import type { Logger } from '../../logging/logger.ts';
import type { ChangeFeed } from '../../mailbox/change-feed.ts';
import type { MessageDeps } from '../../mailbox/messages.ts';
import { onContactsChange } from '../../contacts/contacts-changes.ts';
import { contactsStatesOf } from './contacts-methods.ts';
import { sharedAccountsOf } from './jmap-accounts.ts';
import { JmapRequestError } from './jmap-errors.ts';
import { accountId } from './jmap-ids.ts';
import { encodeState, folderStateOf } from './jmap-state.ts';
import { accountFolders } from './mail-folders.ts';

/** The data types whose states are pushed, as RFC 8620 7.1 TypeState names them. */
export const pushTypes = ['Email', 'Mailbox', 'Thread', 'EmailDelivery', 'AddressBook', 'ContactCard'] as const;
export type PushType = (typeof pushTypes)[number];
export type TypeStates = Record<PushType, string>;
/** The types of mail, whose states come from the account's folders. */
type MailStates = Omit<TypeStates, 'AddressBook' | 'ContactCard'>;
type ContactStates = Pick<TypeStates, 'AddressBook' | 'ContactCard'>;

export const pushLimits = {
  /**
   * Push connections (EventSource and WebSocket together) of one account open at once in one
   * process: a few per device is plenty, and each holds a socket and a timer.
   */
  maxPushConnectionsPerAccount: 10,
  /** Push connections of all accounts in one process: past it a client is told to come back later. */
  maxPushConnections: 5000,
  /** The ping interval a client may ask for, in seconds: RFC 8620 7.3 wants a minimum of at most 30 and a maximum of at least 300. */
  minPingSeconds: 5,
  maxPingSeconds: 300,
  /** A connection whose client has not read what was written for this long is closed (it holds one event at most meanwhile). */
  maxBlockedMs: 60_000,
  /**
   * How often the contacts states of the accounts with push connections are read again: address
   * books and cards changed in this process are pushed at once (contacts/contacts-changes.ts), those
   * of other processes and nodes, and the directory's, within this time.
   */
  contactsPollMs: 60_000,
} as const;

/**
 * The states of an account's types. Email, Mailbox and Thread share the account state the methods
 * answer (jmap-state.ts; Thread/get answers it too). EmailDelivery changes when the INBOX's
 * UIDNEXT does: mail delivered (delivery only ever goes to the INBOX), but not flag changes,
 * expunges or mail filed in other folders (drafts, sent copies).
 */
export function typeStatesOf(folders: Awaited<ReturnType<typeof accountFolders>>['folders']): MailStates {
  const state = encodeState(folders.map(folderStateOf));
  const inbox = folders.find((f) => f.name === 'INBOX');
  return {
    Email: state,
    Mailbox: state,
    Thread: state,
    EmailDelivery: inbox ? `d${Number(inbox.uidvalidity).toString(36)}.${Number(inbox.uidnext).toString(36)}` : 'd0',
  };
}

/** Which types a connection wants: all of them, or the ones named (unknown names are never pushed). */
export type TypeFilter = ReadonlySet<PushType>;

/** RFC 8620 7.3 `types`: `*` (or absent, or the session's unexpanded template) for all, else a comma-separated list. */
export function parseTypes(value: unknown): TypeFilter {
  if (typeof value !== 'string' || value === '*' || value === '' || value === '{types}') return new Set(pushTypes);
  return typesFrom(value.slice(0, 1000).split(','));
}

/** The known types among `names` (RFC 8887 `dataTypes`: null means all). */
export function typesFrom(names: unknown[] | null): TypeFilter {
  if (names === null) return new Set(pushTypes);
  return new Set(pushTypes.filter((t) => names.includes(t)));
}

/** The part of `states` a connection wants. */
export function filterStates(states: TypeStates, types: TypeFilter): Partial<TypeStates> {
  const out: Partial<TypeStates> = {};
  for (const type of pushTypes) if (types.has(type)) out[type] = states[type];
  return out;
}

/** The types whose state differs between what was sent and what is now, among those wanted. */
export function changedStates(
  sent: Partial<TypeStates> | undefined,
  now: TypeStates,
  types: TypeFilter,
): Partial<TypeStates> {
  const out: Partial<TypeStates> = {};
  for (const type of pushTypes) if (types.has(type) && sent?.[type] !== now[type]) out[type] = now[type];
  return out;
}

/** The states of each account a connection hears of, by account id. */
export type AccountStates = Record<string, TypeStates>;
export type WantedStates = Record<string, Partial<TypeStates>>;

/** The part of every account's states a connection wants. */
export function filterAccountStates(all: AccountStates, types: TypeFilter): WantedStates {
  return Object.fromEntries(Object.entries(all).map(([account, states]) => [account, filterStates(states, types)]));
}

/** StateChange's `changed`: the accounts (and their types) whose state differs from what was sent. */
export function changedAccountStates(
  sent: WantedStates | undefined,
  all: AccountStates,
  types: TypeFilter,
): WantedStates {
  const out: WantedStates = {};
  for (const [account, states] of Object.entries(all)) {
    const changed = changedStates(sent?.[account], states, types);
    if (Object.keys(changed).length) out[account] = changed;
  }
  return out;
}

/**
 * A short name for a set of states: an EventSource event's id (the client sends it back as
 * Last-Event-ID when it reconnects) and a WebSocket's pushState.
 */
export function statesId(states: WantedStates): string {
  return createHash('sha256').update(JSON.stringify(states)).digest('base64url').slice(0, 22);
}

/** One open push connection, as the hub sees it. */
export interface PushSink {
  /** The account's states now: the sink sends what differs from what it sent last (when its client can take it). */
  update(states: TypeStates): void;
}

interface Account {
  principal: Principal;
  sinks: Set<PushSink>;
  /** The sinks of connections the account's own user opened (the limit counts these). */
  own: number;
  states?: TypeStates;
  /** The AddressBook and ContactCard states last read, and whether a contacts change asks for a new read. */
  contacts?: ContactStates;
  contactsStale: boolean;
  reading: boolean;
  again: boolean;
}

/** A refusal to open one more push connection. */
export class PushRefused extends JmapRequestError {}

/** The push connections of one process, by account, and the one listener to the change feed they share. */
export class PushHub {
  private readonly accounts = new Map<number, Account>();
  private open = 0;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly mail: MessageDeps,
    private readonly log: Logger,
  ) {}

  private get changes(): ChangeFeed {
    return this.mail.changes;
  }

  /** Connections open now (all accounts). */
  get size(): number {
    return this.open;
  }

  /**
   * Adds a sink for the account of `principal`; it is sent the account's states as soon as they are
   * read. A connection of the account's own user is counted: a PushRefused (429, or 503 for the whole
   * process) when the limit is reached. One of another user, who was shared the account, is not
   * (their connection is counted in their own account).
   */
  add(principal: Principal, sink: PushSink, counted = true): () => void {
    if (counted) {
      const refused = this.refusal(principal.id);
      if (refused) throw refused;
    }
    let account = this.accounts.get(principal.id);
    if (!account) {
      account = { principal, sinks: new Set(), own: 0, contactsStale: true, reading: false, again: false };
      this.accounts.set(principal.id, account);
    }
    account.sinks.add(sink);
    if (counted) {
      account.own++;
      this.open++;
    }
    this.listen();
    this.refresh(account);
    let removed = false;
    return () => {
      if (removed) return;
      removed = true;
      if (counted) {
        account.own--;
        this.open--;
      }
      account.sinks.delete(sink);
      if (account.sinks.size === 0 && this.accounts.get(principal.id) === account) this.accounts.delete(principal.id);
      if (this.accounts.size === 0) this.stopListening();
    };
  }

  /** Why one more connection of this principal would be refused, if it would. */
  refusal(principalId: number): PushRefused | undefined {
    if ((this.accounts.get(principalId)?.own ?? 0) >= pushLimits.maxPushConnectionsPerAccount)
      return new PushRefused(
        429,
        'limit',
        `${pushLimits.maxPushConnectionsPerAccount} push connections of this account are open already`,
        'maxPushConnections',
      );
    if (this.open >= pushLimits.maxPushConnections)
      return new PushRefused(503, 'limit', 'The server has as many push connections as it takes; try again later');
    return undefined;
  }

  /** The mailboxes shared with `user` (jmap-accounts.ts), each an account a connection of theirs hears of. */
  sharedAccountsOf(user: Principal) {
    return sharedAccountsOf(this.mail.db, user);
  }

  warn(error: unknown, user: Principal, message: string) {
    this.log.warn({ err: error, principal: user.address }, message);
  }

  /** The account's states now, read from the store (the contacts ones when a contacts change or the poll asked). */
  private async statesOf(account: Account): Promise<TypeStates> {
    const { principal } = account;
    const { folders } = await accountFolders(this.mail.db, principal, this.mail.now());
    if (account.contactsStale || !account.contacts) {
      account.contactsStale = false;
      account.contacts = await contactsStatesOf(this.mail.db, principal, this.mail.now());
    }
    return { ...typeStatesOf(folders), ...account.contacts };
  }

  private listen() {
    if (this.unsubscribe) return;
    const offChanges = this.changes.subscribe((change) => {
      const account = this.accounts.get(change.principalId);
      if (account) this.refresh(account);
    });
    // The feed lost its link to the other nodes for a while: what they changed meanwhile was not heard.
    const offResync = this.changes.onResync(() => {
      for (const account of this.accounts.values()) this.refresh(account);
    });
    // Address books and cards are not in the mailbox feed: their own signal, within this process.
    const offContacts = onContactsChange((tenantId) => {
      for (const account of this.accounts.values())
        if (tenantId === undefined || account.principal.tenantId === tenantId) this.refresh(account, true);
    });
    const poll = setInterval(() => {
      for (const account of this.accounts.values()) this.refresh(account, true);
    }, pushLimits.contactsPollMs);
    poll.unref();
    this.unsubscribe = () => {
      offChanges();
      offResync();
      offContacts();
      clearInterval(poll);
    };
  }

  private stopListening() {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  /** Reads the account's states and hands them to its sinks; one read at a time, a change meanwhile asks for one more. */
  private refresh(account: Account, contacts = false) {
    if (contacts) account.contactsStale = true;
    if (account.reading) {
      account.again = true;
      return;
    }
    account.reading = true;
    void (async () => {
      try {
        do {
          account.again = false;
          if (account.sinks.size === 0) break;
          const states = await this.statesOf(account);
          account.states = states;
          for (const sink of account.sinks) sink.update(states);
        } while (account.again);
      } catch (error) {
        // The next change (or a resync) reads again; the clients' states are only late meanwhile.
        this.log.warn({ err: error, principal: account.principal.address }, 'jmap push: could not read the states');
      } finally {
        account.reading = false;
      }
    })();
  }
}

/**
 * What one push connection hears: the states of the user's own account and of each account shared
 * with them, handed to `onStates` all together once each has been read, then at every change. The
 * user's own account is added at once (counted: it may be refused); the shared ones after they are
 * looked up. `close` takes them all off the hub.
 */
export class AccountWatch {
  private readonly states = new Map<string, TypeStates>();
  private expected: string[] | undefined;
  private readonly removers: (() => void)[] = [];
  private closed = false;

  constructor(
    private readonly hub: PushHub,
    user: Principal,
    private readonly onStates: (all: AccountStates) => void,
  ) {
    this.removers.push(hub.add(user, this.sinkOf(user)));
    void this.addShared(user);
  }

  private sinkOf(owner: Principal): PushSink {
    const account = accountId(owner.id);
    return {
      update: (states) => {
        this.states.set(account, states);
        this.deliver();
      },
    };
  }

  private async addShared(user: Principal) {
    let shared: Awaited<ReturnType<typeof sharedAccountsOf>> = [];
    try {
      shared = await this.hub.sharedAccountsOf(user);
    } catch (error) {
      // The user's own account is still pushed; the shared ones are read again at the next connection.
      this.hub.warn(error, user, 'jmap push: could not list the shared accounts');
    }
    if (this.closed) return;
    this.expected = [accountId(user.id), ...shared.map((s) => accountId(s.owner.id))];
    for (const { owner } of shared) this.removers.push(this.hub.add(owner, this.sinkOf(owner), false));
    this.deliver();
  }

  private deliver() {
    if (this.closed || !this.expected?.every((account) => this.states.has(account))) return;
    this.onStates(Object.fromEntries(this.expected.map((account) => [account, this.states.get(account)!])));
  }

  close() {
    this.closed = true;
    for (const remove of this.removers.splice(0)) remove();
  }
}

/** One hub per change feed (one per running server), shared by the HTTP and HTTPS listeners. */
const hubs = new WeakMap<ChangeFeed, PushHub>();

export function pushHubFor(mail: MessageDeps, log: Logger): PushHub {
  let hub = hubs.get(mail.changes);
  if (!hub) {
    hub = new PushHub(mail, log);
    hubs.set(mail.changes, hub);
  }
  return hub;
}

/** Push connections open now on the server whose change feed is `changes` (for tests and figures). */
export function openPushConnections(changes: ChangeFeed): number {
  return hubs.get(changes)?.size ?? 0;
}
