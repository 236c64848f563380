// Change events for mailboxes (a message appended, flags changed, expunged), which IMAP IDLE, JMAP
// push and the web app listen to. In-process for now; across nodes it will ride on PostgreSQL
// LISTEN/NOTIFY with the same shape.
import { EventEmitter } from 'node:events';

export interface MailboxChange {
  tenantId: number;
  principalId: number;
  mailboxId: number;
  kind: 'append' | 'flags' | 'expunge';
  /** The message, when one message changed. */
  uid?: number;
  modseq: number;
}

export class ChangeFeed {
  private readonly emitter = new EventEmitter().setMaxListeners(0);

  publish(change: MailboxChange) {
    this.emitter.emit('change', change);
  }

  subscribe(listener: (change: MailboxChange) => void): () => void {
    this.emitter.on('change', listener);
    return () => this.emitter.off('change', listener);
  }
}
