// Change events for mailboxes (a message appended, flags changed, expunged), which IMAP IDLE, JMAP
// push and the web app listen to. Within a node they are events; between nodes sharing a PostgreSQL
// database a relay carries them (LISTEN/NOTIFY, see server/start.ts). An event is a hint to look:
// sessions read what changed from the store by MODSEQ, so a lost event delays, never loses, a change.
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { resubscribed } from '../store/channel-signals.ts';

export interface MailboxChange {
  tenantId: number;
  principalId: number;
  mailboxId: number;
  kind: 'append' | 'flags' | 'expunge';
  /** The message, when one message changed. */
  uid?: number;
  modseq: number;
}

/** Carries changes to the other nodes. */
export interface ChangeRelay {
  send(message: string): Promise<void>;
}

/**
 * How long changes wait to be relayed together. A relay message costs a NOTIFY on PostgreSQL, and
 * a NOTIFY takes a database-wide lock at commit and wakes every listening node: one per delivered
 * message cost a fifth of the mail rate (bench/smtp-intake). Within this pause the changes of a
 * folder collapse into its latest one (a change is a hint to look: the last says all the others do).
 */
const relayPauseMs = 10;

/** NOTIFY payloads must stay under 8000 bytes; a relay message is cut below that. */
const maxMessageBytes = 7000;

export class ChangeFeed {
  private readonly emitter = new EventEmitter().setMaxListeners(0);
  private relay: ChangeRelay | undefined;
  /** Changes waiting to be relayed, the latest per folder. */
  private pending = new Map<number, MailboxChange>();
  private flushTimer: NodeJS.Timeout | undefined;
  /** Tells this node's own changes apart when the relay brings them back. */
  readonly nodeId = randomUUID();

  publish(change: MailboxChange) {
    this.emitter.emit('change', change);
    if (!this.relay) return;
    const waiting = this.pending.get(change.mailboxId);
    if (!waiting || waiting.modseq <= change.modseq) this.pending.set(change.mailboxId, change);
    this.flushTimer ??= setTimeout(() => this.flush(), relayPauseMs);
  }

  private flush() {
    this.flushTimer = undefined;
    const changes = [...this.pending.values()];
    this.pending = new Map();
    const relay = this.relay;
    if (!relay) return;
    const head = `{"node":${JSON.stringify(this.nodeId)},"changes":[`;
    let parts: string[] = [];
    let bytes = head.length;
    const send = () => {
      if (parts.length === 0) return;
      relay.send(`${head}${parts.join(',')}]}`).catch(() => {
        // The relay logs its own trouble; other nodes' sessions catch up at their next command.
      });
      parts = [];
      bytes = head.length;
    };
    for (const change of changes) {
      const part = JSON.stringify(change);
      if (bytes + part.length + 3 > maxMessageBytes) send();
      parts.push(part);
      bytes += part.length + 1;
    }
    send();
  }

  /** Changes from other nodes arrive here (a relay's message). */
  receive(message: string) {
    // The relay lost its connection for a while: what other nodes changed meanwhile was not heard.
    if (message === resubscribed) return this.resync();
    let parsed: { node?: string; change?: MailboxChange; changes?: MailboxChange[] };
    try {
      parsed = JSON.parse(message) as typeof parsed;
    } catch {
      return;
    }
    if (parsed.node === this.nodeId) return;
    // One change per message is what nodes of an earlier version send.
    for (const change of parsed.changes ?? (parsed.change ? [parsed.change] : [])) this.emitter.emit('change', change);
  }

  connect(relay: ChangeRelay | undefined) {
    this.relay = relay;
    if (!relay) {
      clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
      this.pending.clear();
    }
  }

  subscribe(listener: (change: MailboxChange) => void): () => void {
    this.emitter.on('change', listener);
    return () => this.emitter.off('change', listener);
  }

  /** Every listener should look again at whatever it shows: changes may have been missed. */
  resync() {
    this.emitter.emit('resync');
  }

  /** Called at each resync(); IDLE sessions catch up with their folder. */
  onResync(listener: () => void): () => void {
    this.emitter.on('resync', listener);
    return () => this.emitter.off('resync', listener);
  }
}
