// The reference server: Debian's Dovecot (test/helpers/dovecot.ts), started for one run on loopback
// from a directory of its own. Unlike the benchmarks' Dovecot (bench/lib/peers.ts) it is shaped like
// a Holdfast mailbox, so that replies can be compared line by line: "/" as the hierarchy delimiter,
// and Drafts, Sent, Trash, Junk and Archive with their special uses, existing and subscribed from the
// start, INBOX subscribed.
import { withStarted } from '../../bench/lib/cleanup.ts';
import { startDovecot } from '../../test/helpers/dovecot.ts';

/** Every user logs in with this password. */
export const dovecotPassword = 'conformance';

const specialUse = ['Drafts', 'Sent', 'Trash', 'Junk', 'Archive'];

/**
 * Runs `use` against a fresh Dovecot on 127.0.0.1 (a free port, a directory of this run's own, so
 * that two runs at once do not meet); stopped and removed after, however it ends.
 */
export async function withReferenceDovecot<T>(use: (port: number) => Promise<T>): Promise<T> {
  return withStarted(
    () =>
      startDovecot({
        name: 'conformance-dovecot',
        password: dovecotPassword,
        imapPort: 'free',
        layout: 'fs',
        mailboxes: [
          { name: 'INBOX', auto: 'subscribe' },
          ...specialUse.map((name) => ({ name, specialUse: name, auto: 'subscribe' as const })),
        ],
      }),
    (dovecot) => dovecot.stop(),
    async (dovecot) => {
      await new Promise((r) => setTimeout(r, 500));
      return use(dovecot.imapPort);
    },
  );
}
