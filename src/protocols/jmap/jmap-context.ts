// What a JMAP method call works with: the signed-in principal and the mailbox layer's parts, the
// same ones IMAP uses (one mailbox, two protocols).
import type { Principal } from '../../directory/directory.ts';
import type { Logger } from '../../logging/logger.ts';
import type { MessageDeps } from '../../mailbox/messages.ts';

export interface JmapCallContext {
  principal: Principal;
  mail: MessageDeps;
  log: Logger;
}
