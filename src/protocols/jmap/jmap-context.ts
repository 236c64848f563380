// What a JMAP method call works with: the signed-in principal and the mailbox layer's parts, the
// same ones IMAP uses (one mailbox, two protocols).
import type { Principal } from '../../directory/directory.ts';
import type { Logger } from '../../logging/logger.ts';
import type { MessageDeps } from '../../mailbox/messages.ts';
import type { LocalSubmissionDeps } from '../../flow/local-submission.ts';

export interface JmapCallContext {
  /**
   * The owner of the account the call works in, whose folders and messages it reads and changes: the
   * signed-in user in their own account, the shared mailbox in a shared one (jmap-accounts.ts).
   */
  principal: Principal;
  /** Who signed in, in a shared account (absent: `principal` signed in). */
  signedIn?: Principal;
  /** The signed-in user's access in a shared account (absent: their own account, where they may do everything). */
  access?: AccountAccess;
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

/** What the signed-in user may do in an account: RFC 4314 rights on its folders, and sending as its owner. */
export interface AccountAccess {
  rights: string;
  maySubmit: boolean;
}
