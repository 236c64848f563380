// A private Dovecot on loopback as the source of IMAP imports (test/helpers/dovecot.ts), with TLS
// from a self-signed certificate on both an imap (STARTTLS) and an imaps port, one password for every
// user, Maildir++ storage with "." as the hierarchy separator, and special-use folders under names
// that are not Holdfast's ("Sent Messages", "Deleted Messages").
import { startDovecot } from '../helpers/dovecot.ts';

export { dovecotInstalled } from '../helpers/dovecot.ts';

export interface DovecotSource {
  imapPort: number;
  imapsPort: number;
  password: string;
  /** Where user `name`'s Maildir is. */
  maildirOf(user: string): string;
  stop(): void;
}

export async function startDovecotSource(): Promise<DovecotSource> {
  const dovecot = await startDovecot({
    name: 'import-dovecot',
    password: 'source-Secret-42',
    tls: { commonName: 'dovecot.test' },
    imapPort: 'free',
    imapsPort: 'free',
    mailboxes: [
      { name: 'Sent Messages', specialUse: 'Sent', auto: 'create' },
      { name: 'Deleted Messages', specialUse: 'Trash', auto: 'create' },
      { name: 'Drafts', specialUse: 'Drafts', auto: 'create' },
      { name: 'All Mail', specialUse: 'All' },
    ],
  });
  return { ...dovecot, maildirOf: (user) => dovecot.maildir(user) };
}
