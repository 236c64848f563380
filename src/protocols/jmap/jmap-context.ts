// What a JMAP method call works with: the signed-in principal and the mailbox layer's parts, the
// same ones IMAP uses (one mailbox, two protocols).
import type { Principal } from '../../directory/directory.ts';
import type { Logger } from '../../logging/logger.ts';
import type { MessageDeps } from '../../mailbox/messages.ts';
import type { LocalSubmissionDeps } from '../../flow/local-submission.ts';

export interface JmapCallContext {
  principal: Principal;
  mail: MessageDeps;
  log: Logger;
  /** Identity and EmailSubmission: the directory and the mail flow (absent where sending is not served). */
  sending?: JmapSending;
  /** maxSizeUpload, also the largest message Email/set and Email/import make (absent: jmap-limits.ts). */
  maxSizeUpload?: number;
}

/** What the sending methods need: the directory and mail flow (flow/local-submission.ts) and the client. */
export interface JmapSending {
  deps: LocalSubmissionDeps;
  client: { ip: string; protocol: string; via: string };
}
