// Mail the server itself sends to local mailboxes about filtering (quarantine digests, the alert that
// a user's sending was paused): composed here, from the postmaster, marked Auto-Submitted (RFC 3834)
// so no automatic reply answers it, and committed to the queue like any message, which delivers it.
import MailComposer from 'nodemailer/lib/mail-composer';
import type { Config } from '../../config/schema.ts';
import type { Store } from '../../store/store.ts';
import type { IntakeCommitter } from '../queue/intake-committer.ts';

export interface Notice {
  to: { address: string; tenantId: number }[];
  subject: string;
  text: string;
}

export interface NoticeDeps {
  config: Config;
  store: Store;
  committer: IntakeCommitter;
  now(): number;
}

export function createNoticeSender(deps: NoticeDeps): (notice: Notice) => Promise<void> {
  return async (notice) => {
    if (!notice.to.length) return;
    const from = `postmaster@${deps.config.hostname}`;
    const content = await new MailComposer({
      from: { name: 'Holdfast', address: from },
      to: notice.to.map((r) => r.address),
      subject: notice.subject,
      text: notice.text,
      date: new Date(deps.now()),
      messageId: `<filtering-${deps.now()}-${Math.random().toString(36).slice(2)}@${deps.config.hostname}>`,
      headers: { 'Auto-Submitted': 'auto-generated' },
    })
      .compile()
      .build();
    const blob = await deps.store.blobs.put(content);
    await deps.committer.submit({
      blobHash: blob.hash,
      prefix: '',
      size: blob.size,
      sender: '',
      messageId: null,
      subject: notice.subject.slice(0, 500),
      source: 'dsn',
      receivedAt: deps.now(),
      recipients: notice.to.map((r) => ({
        recipient: r.address,
        originalRecipient: r.address,
        route: 'local',
        domain: r.address.split('@')[1]!,
        tenantId: r.tenantId,
      })),
      receivedDetail: { source: 'filtering' },
    });
  };
}
