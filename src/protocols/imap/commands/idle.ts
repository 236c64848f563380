// IDLE (RFC 2177): the client waits for news; changes to its selected folder are sent as they happen
// (a delivery, another session's flag change or expunge) until the client says DONE.
import type { CommandFrame } from '../parser/command-reader.ts';
import { ParseError } from '../parser/tokenizer.ts';
import type { CommandInput } from './index.ts';
import { syncSelected } from './sync.ts';

export async function idleCommand({ session, args }: CommandInput) {
  args.end();
  const folderId = session.selected?.folder.id;
  let syncing = Promise.resolve();
  let again = false;
  const catchUp = () => {
    // One sync at a time; a change during a sync asks for one more.
    if (again) return;
    again = true;
    syncing = syncing.then(async () => {
      again = false;
      await syncSelected(session, true).catch((error) => session.log.warn({ err: error }, 'imap: IDLE update failed'));
      session.flush();
    });
  };
  const { changes } = session.context.mail;
  const unsubscribeChanges =
    folderId === undefined
      ? () => {}
      : changes.subscribe((change) => {
          if (change.mailboxId === folderId) catchUp();
        });
  // The feed lost its link to other nodes for a while (a database failover): their changes were not heard.
  const unsubscribeResync = folderId === undefined ? () => {} : changes.onResync(catchUp);
  const unsubscribe = () => {
    unsubscribeChanges();
    unsubscribeResync();
  };
  let onClose = () => {};
  const frame = await new Promise<CommandFrame | undefined>((resolve) => {
    onClose = () => resolve(undefined);
    session.onClose.push(onClose);
    const waiting = session.nextLine();
    session.send('+ idling');
    session.flush();
    catchUp();
    void waiting.then(resolve);
  });
  unsubscribe();
  const at = session.onClose.indexOf(onClose);
  if (at >= 0) session.onClose.splice(at, 1);
  await syncing;
  if (!frame) return undefined;
  const line = frame.parts[0];
  if (frame.parts.length !== 1 || typeof line !== 'string' || line.toUpperCase() !== 'DONE')
    throw new ParseError('Expected DONE to end IDLE');
  return 'IDLE terminated';
}
