// Commands about the connection itself: CAPABILITY, NOOP, LOGOUT, ID, ENABLE, STARTTLS, COMPRESS.
import { version } from '../../../version.ts';
import { capabilities } from '../capabilities.ts';
import { ImapNo } from '../imap-error.ts';
import { ParseError } from '../parser/tokenizer.ts';
import { atom } from '../response/encode.ts';
import type { CommandInput } from './index.ts';

export async function capabilityCommand({ session, args }: CommandInput) {
  args.end();
  session.untagged(atom('CAPABILITY'), ...capabilities(session).map(atom));
  return 'CAPABILITY completed';
}

export async function noopCommand({ args }: CommandInput) {
  args.end();
  return 'NOOP completed';
}

export async function logoutCommand({ session, tag, args }: CommandInput) {
  args.end();
  session.send('* BYE Holdfast IMAP signing off');
  session.send(`${tag} OK LOGOUT completed`);
  session.end();
  return undefined;
}

export async function idCommand({ session, args }: CommandInput) {
  // The client's identification is logged (useful when troubleshooting one client); ours is sent back.
  const list = args.optionalList();
  if (!list) args.atom('NIL');
  args.end();
  if (list) {
    const fields: Record<string, string> = {};
    for (let i = 0; i < list.length && i < 60; i += 2) {
      // An odd last field name has no value: it is left out.
      const key = list[i];
      const value = list[i + 1];
      if (key && value && key.kind !== 'list' && value.kind !== 'list')
        fields[key.value.toLowerCase().slice(0, 64)] = value.value.slice(0, 256);
    }
    // `client` is already the session's address (its log binding): the ID fields get their own key.
    session.log.info({ imapId: fields }, 'imap: client identified itself');
  }
  session.untagged(atom('ID'), ['name', 'Holdfast', 'version', version, 'vendor', 'Holdfast']);
  return 'ID completed';
}

const enableable = new Set(['CONDSTORE', 'QRESYNC', 'UTF8=ACCEPT', 'IMAP4REV2']);

/**
 * ENABLED lists every extension asked for that is on once the command has run, also one already on
 * (an earlier ENABLE, or CONDSTORE turned on by FETCH MODSEQ): RFC 9051 §6.3.1 lists "all enabled
 * extensions" asked for, and Dovecot answers so, which tells a client that asks again where it stands.
 */
export async function enableCommand({ session, args }: CommandInput) {
  const enabled = new Set<string>();
  if (!args.more()) throw new ParseError('ENABLE needs at least one capability');
  while (args.more()) {
    const name = args.atom('capability').toUpperCase();
    if (!enableable.has(name)) continue;
    if (name === 'CONDSTORE' || name === 'QRESYNC') session.enableCondstore();
    session.enabled.add(name);
    enabled.add(name === 'IMAP4REV2' ? 'IMAP4rev2' : name);
  }
  session.untagged(atom('ENABLED'), ...[...enabled].map(atom));
  return 'ENABLE completed';
}

export async function startTlsCommand({ session, tag, args }: CommandInput) {
  args.end();
  if (session.secure) throw new ImapNo('TLS is already active');
  session.send(`${tag} OK Begin TLS negotiation now`);
  session.startTls();
  return undefined;
}

export async function compressCommand({ session, tag, args }: CommandInput) {
  const mechanism = args.atom('compression mechanism').toUpperCase();
  args.end();
  if (mechanism !== 'DEFLATE')
    throw new ImapNo(`Unknown compression mechanism ${mechanism}; only DEFLATE is supported`, 'CANNOT');
  if (session.compressed) throw new ImapNo('Compression is already active', 'COMPRESSIONACTIVE');
  session.send(`${tag} OK DEFLATE active`);
  session.startCompression();
  return undefined;
}
