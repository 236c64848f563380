// A signal, within this process, that address books or cards changed (of one tenant, or of any when
// no tenant is named): JMAP push (protocols/jmap/jmap-push.ts) listens to it to tell clients at
// once. It is a hint to look, as the mailbox change feed is: push reads the states from the store,
// and reads them again every minute besides, which covers the writes of other processes and nodes.
import { EventEmitter } from 'node:events';

const emitter = new EventEmitter().setMaxListeners(0);

/** Says that address books or cards of `tenantId` (of any tenant when undefined) changed. */
export function contactsChanged(tenantId?: number): void {
  emitter.emit('change', tenantId);
}

/** Calls `listener` at every contacts change of this process; the function returned stops it. */
export function onContactsChange(listener: (tenantId: number | undefined) => void): () => void {
  emitter.on('change', listener);
  return () => {
    emitter.off('change', listener);
  };
}
