// What the server announces, by session state: before login only what is needed to log in safely.
import { threadAlgorithms } from './commands/sort-thread.ts';
import type { ImapSession } from './session.ts';

export function capabilities(session: ImapSession): string[] {
  const loggedIn = session.state.name !== 'not-authenticated';
  // Before login non-synchronising literals are held to 4096 bytes (LITERAL-, parser/literal-limits.ts).
  const list = ['IMAP4rev1', 'IMAP4rev2', loggedIn ? 'LITERAL+' : 'LITERAL-', 'SASL-IR', 'ID', 'ENABLE', 'NAMESPACE'];
  if (!loggedIn) {
    if (!session.secure) list.push('STARTTLS');
    if (loginAllowed(session)) list.push('AUTH=PLAIN');
    else list.push('LOGINDISABLED');
    return list;
  }
  list.push(
    'IDLE',
    'UIDPLUS',
    'MOVE',
    'UNSELECT',
    'CHILDREN',
    'SPECIAL-USE',
    'CREATE-SPECIAL-USE',
    'CONDSTORE',
    'QRESYNC',
    'ESEARCH',
    'SEARCHRES',
    'LIST-EXTENDED',
    'LIST-STATUS',
    'STATUS=SIZE',
    `APPENDLIMIT=${session.context.config.appendLimit}`,
    'QUOTA',
    'QUOTA=RES-STORAGE',
    'UTF8=ACCEPT',
    'BINARY',
    'OBJECTID',
    'SORT',
    ...threadAlgorithms.map((a) => `THREAD=${a}`),
    'ACL',
    'RIGHTS=texk',
  );
  if (!session.compressed) list.push('COMPRESS=DEFLATE');
  return list;
}

/** Passwords only over TLS, unless the administrator allowed plain-text logins. */
export function loginAllowed(session: ImapSession): boolean {
  return session.secure || session.context.config.plaintextLogin;
}
