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

export class ChangeFeed {
  private readonly emitter = new EventEmitter().setMaxListeners(0);
  private relay: ChangeRelay | undefined;
  /** Tells this node's own changes apart when the relay brings them back. */
  readonly nodeId = randomUUID();

  publish(change: MailboxChange) {
    this.emitter.emit('change', change);
    this.relay?.send(JSON.stringify({ node: this.nodeId, change })).catch(() => {
      // The relay logs its own trouble; other nodes' sessions catch up at their next command.
    });
  }

  /** Changes from other nodes arrive here (a relay's message). */
  receive(message: string) {
    // The relay lost its connection for a while: what other nodes changed meanwhile was not heard.
    if (message === resubscribed) return this.resync();
    let parsed: { node?: string; change?: MailboxChange };
    try {
      parsed = JSON.parse(message) as typeof parsed;
    } catch {
      return;
    }
    if (parsed.node === this.nodeId || !parsed.change) return;
    this.emitter.emit('change', parsed.change);
  }

  connect(relay: ChangeRelay | undefined) {
    this.relay = relay;
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
