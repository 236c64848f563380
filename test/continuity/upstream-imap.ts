// The upstream provider's IMAP side for continuity tests: Debian's Dovecot on loopback
// (test/helpers/dovecot.ts), implicit TLS with a self-signed certificate, one password for every
// user, a master user `holdfast` (who may sign in as anyone: SASL PLAIN with the user as
// authorization identity, or "user*holdfast"), and the Sent folder under Exchange's name "Sent
// Items", marked \Sent.
import { startDovecot } from '../helpers/dovecot.ts';

export { dovecotInstalled } from '../helpers/dovecot.ts';

export interface UpstreamImap {
  imapsPort: number;
  /** Every user's own password. */
  password: string;
  masterUser: string;
  masterPassword: string;
  /** Message-IDs in a user's folder (Maildir++: "Sent Items" is ".Sent Items"). */
  messageIds(user: string, folder: string): string[];
  stop(): void;
}

export async function startUpstreamImap(): Promise<UpstreamImap> {
  const master = { user: 'holdfast', password: 'upstream-Master-93' };
  const dovecot = await startDovecot({
    name: 'continuity-dovecot',
    password: 'upstream-User-58',
    master,
    tls: { commonName: 'imap.upstream.test' },
    imapsPort: 'free',
    mailboxes: [{ name: 'Sent Items', specialUse: 'Sent', auto: 'create' }],
  });
  return { ...dovecot, masterUser: master.user, masterPassword: master.password };
}
