// LOGIN and AUTHENTICATE PLAIN (with SASL-IR). Passwords only over TLS unless configured otherwise;
// failures are throttled per source address and per (source, account) by the shared login limiter.
import { ensureDefaultFolders } from '../../../mailbox/folders.ts';
import { capabilities, loginAllowed } from '../capabilities.ts';
import { asImapNo, ImapNo } from '../imap-error.ts';
import { ParseError } from '../parser/tokenizer.ts';
import type { ImapSession } from '../session.ts';
import type { CommandInput } from './index.ts';

export async function loginCommand({ session, args }: CommandInput) {
  const user = args.astring('user name');
  const password = args.astring('password');
  args.end();
  return logIn(session, user, password);
}

export async function authenticateCommand({ session, args }: CommandInput) {
  const mechanism = args.atom('SASL mechanism').toUpperCase();
  const initial = args.more() ? args.atom('initial response') : undefined;
  args.end();
  if (mechanism !== 'PLAIN') throw new ImapNo(`SASL mechanism ${mechanism} is not supported; use PLAIN`, 'CANNOT');
  if (!loginAllowed(session)) throw privacyRequired();
  let response = initial;
  if (response === undefined) {
    const frame = await session.continueWith('');
    const line = frame.parts[0];
    if (frame.parts.length !== 1 || typeof line !== 'string') throw new ParseError('Expected a base64 line');
    response = line.trim();
  }
  if (response === '*') throw new ParseError('Authentication cancelled');
  if (response === '=') response = '';
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(response)) throw new ParseError('Invalid base64 in AUTHENTICATE response');
  const [authzid, authcid, password, extra] = Buffer.from(response, 'base64').toString('utf8').split('\0');
  if (authcid === undefined || password === undefined || extra !== undefined)
    throw new ParseError('Malformed PLAIN response (expected authzid NUL authcid NUL password)');
  if (authzid && authzid.toLowerCase() !== authcid.toLowerCase())
    throw new ImapNo(
      'Logging in as another user is not supported; open shared mailboxes under "Shared/" instead',
      'AUTHORIZATIONFAILED',
    );
  return logIn(session, authcid, password);
}

const privacyRequired = () => new ImapNo('Log in over TLS: use STARTTLS first, or port 993', 'PRIVACYREQUIRED');

async function logIn(session: ImapSession, user: string, password: string): Promise<string> {
  const { context } = session;
  if (!loginAllowed(session)) throw privacyRequired();
  // A check that cannot run now (too many wait for the password KDF) is NO [UNAVAILABLE]: try later.
  const outcome = await context.logins
    .attempt(session.remoteAddress, user, () => context.directory.authenticate(user, password))
    .catch(asImapNo);
  if (!outcome.ok) {
    session.log.info({ user, throttled: outcome.throttled }, 'imap: login failed');
    if (outcome.throttled) throw new ImapNo(outcome.message, 'UNAVAILABLE');
    throw new ImapNo('Invalid user name or password', 'AUTHENTICATIONFAILED');
  }
  const { principal } = outcome;
  // Synchronous in one process; under --workers the primary answers for the whole machine.
  const may = context.mayOpen(principal.id);
  if (may === false || (may !== true && !(await may))) {
    throw new ImapNo(
      `Too many open sessions for ${principal.address} (limit ${context.config.maxConnectionsPerUser}); close some on other devices`,
      'LIMIT',
    );
  }
  try {
    await ensureDefaultFolders(context.mail.db, principal, context.mail.now());
  } catch (error) {
    context.openAbandoned(principal.id);
    throw error;
  }
  // The client left while its folders were made: no session opens, so none is counted.
  if (!context.sessions.has(session)) {
    context.openAbandoned(principal.id);
    throw new ImapNo('The connection closed during login');
  }
  session.loggedIn(principal);
  session.log.info({ user: principal.address }, 'imap: logged in');
  return `[CAPABILITY ${capabilities(session).join(' ')}] Logged in`;
}
