// A tiny IMAP server on loopback (imaps, a self-signed certificate) as a source for
// `holdfast import imap` where Dovecot cannot play the part: one that takes only SASL XOAUTH2 and
// checks the client's string exactly as Google's and Microsoft's documentation give it, and one
// that announces a message smaller than it is and, asked for a window of it, may send all of it.
// It speaks just the IMAP4rev1 an import uses (LOGIN, AUTHENTICATE XOAUTH2, LIST, EXAMINE,
// UID SEARCH, UID FETCH with partial BODY[]) and records every command it is sent.
import { createServer, type TLSSocket } from 'node:tls';
import selfsigned from 'selfsigned';

export interface ScriptedMessage {
  folder: string;
  bytes: Buffer;
  flags: string[];
  /** As IMAP writes it: "01-Dec-2025 10:00:00 +0000". */
  internalDate: string;
  /** RFC822.SIZE as announced; the real size when unset. */
  announcedSize?: number;
  /** Answer a request for a window of the message with the whole message (a broken server). */
  ignoreWindow?: boolean;
}

export interface ScriptedSource {
  url: string;
  /** Every command received, the tag left off (AUTHENTICATE's argument and continuations included). */
  commands: string[];
  /** Message bytes sent per folder and UID: "INBOX/3" → bytes. */
  sent: Map<string, number>;
  stop(): Promise<void>;
}

export interface ScriptedOptions {
  user: string;
  /** The password LOGIN accepts; LOGIN is refused when unset. */
  password?: string;
  /** The bearer token AUTHENTICATE XOAUTH2 accepts; XOAUTH2 is not offered when unset. */
  accessToken?: string;
  folders: { name: string; specialUse?: string }[];
  messages: ScriptedMessage[];
}

const quote = (text: string) => `"${text.replace(/["\\]/g, '\\$&')}"`;

/** The UIDs (1-based positions) a sequence set names among `count` messages. */
function uidsOf(set: string, count: number): number[] {
  const uids = new Set<number>();
  for (const part of set.split(',')) {
    const [from, to = from] = part.split(':').map((n) => (n === '*' ? count : Number(n)));
    for (let uid = Math.min(from!, to!); uid <= Math.max(from!, to!) && uid <= count; uid++) uids.add(uid);
  }
  return [...uids].sort((a, b) => a - b);
}

function headerFields(bytes: Buffer, names: string[]): Buffer {
  const text = bytes.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  const header = end < 0 ? text : text.slice(0, end + 2);
  const wanted = new Set(names.map((n) => n.toLowerCase()));
  const lines = header.split(/\r\n(?![ \t])/).filter((l) => wanted.has(l.split(':')[0]!.trim().toLowerCase()));
  return Buffer.from(`${lines.map((l) => `${l}\r\n`).join('')}\r\n`, 'latin1');
}

export async function startScriptedSource(options: ScriptedOptions): Promise<ScriptedSource> {
  const pems = selfsigned.generate([{ name: 'commonName', value: 'scripted.test' }], { days: 2, keySize: 2048 });
  const commands: string[] = [];
  const sent = new Map<string, number>();
  const capabilities = ['IMAP4rev1', 'SASL-IR', 'SPECIAL-USE', ...(options.accessToken ? ['AUTH=XOAUTH2'] : [])];
  const sockets = new Set<TLSSocket>();

  const server = createServer({ key: pems.private, cert: pems.cert }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let input = '';
    let signedIn = false;
    let selected: ScriptedMessage[] | undefined;
    let selectedName = '';
    /** An AUTHENTICATE waiting for its payload (no SASL-IR) or for the client to end a failed exchange. */
    let pending: { tag: string; state: 'payload' | 'failed' } | undefined;
    const write = (text: string | Buffer) => socket.write(text);
    const line = (text: string) => write(`${text}\r\n`);

    const xoauth2 = (tag: string, payload: string) => {
      const expected = `user=${options.user}\x01auth=Bearer ${options.accessToken}\x01\x01`;
      if (Buffer.from(payload, 'base64').toString('utf8') === expected) {
        signedIn = true;
        line(`${tag} OK AUTHENTICATE completed`);
        return;
      }
      // As Gmail and Exchange Online answer: a challenge with the error, then NO once the client ends it.
      pending = { tag, state: 'failed' };
      const error = { status: '401', schemes: 'bearer', scope: 'https://mail.google.com/' };
      line(`+ ${Buffer.from(JSON.stringify(error)).toString('base64')}`);
    };

    const fetch = (tag: string, set: string, items: string) => {
      const messages = selected ?? [];
      const fields = /BODY\.PEEK\[HEADER\.FIELDS \(([^)]*)\)\]/i.exec(items);
      const whole = /BODY\.PEEK\[\](?:<(\d+)\.(\d+)>)?/i.exec(items);
      for (const uid of uidsOf(set, messages.length)) {
        const message = messages[uid - 1]!;
        const parts: (string | Buffer)[] = [`* ${uid} FETCH (UID ${uid}`];
        if (/\bFLAGS\b/i.test(items)) parts.push(` FLAGS (${message.flags.join(' ')})`);
        if (/\bINTERNALDATE\b/i.test(items)) parts.push(` INTERNALDATE ${quote(message.internalDate)}`);
        if (/\bRFC822\.SIZE\b/i.test(items))
          parts.push(` RFC822.SIZE ${message.announcedSize ?? message.bytes.length}`);
        if (fields) {
          const data = headerFields(message.bytes, fields[1]!.split(/\s+/));
          parts.push(` BODY[HEADER.FIELDS (${fields[1]})] {${data.length}}\r\n`, data);
        }
        if (/BODY\.PEEK\[HEADER\]/i.test(items)) {
          const end = message.bytes.indexOf('\r\n\r\n');
          const data = message.bytes.subarray(0, end < 0 ? message.bytes.length : end + 4);
          parts.push(` BODY[HEADER] {${data.length}}\r\n`, data);
        }
        if (whole) {
          const start = whole[1] === undefined || message.ignoreWindow ? 0 : Number(whole[1]);
          const end = whole[2] === undefined || message.ignoreWindow ? message.bytes.length : start + Number(whole[2]);
          const data = message.bytes.subarray(start, end);
          const key = `${selectedName}/${uid}`;
          sent.set(key, (sent.get(key) ?? 0) + data.length);
          parts.push(` BODY[]${whole[1] === undefined ? '' : `<${start}>`} {${data.length}}\r\n`, data);
        }
        parts.push(')\r\n');
        for (const part of parts) write(part);
      }
      line(`${tag} OK UID FETCH completed`);
    };

    const command = (text: string) => {
      if (pending) {
        commands.push(text);
        const { tag, state } = pending;
        pending = undefined;
        if (state === 'payload') xoauth2(tag, text);
        else line(`${tag} NO [AUTHENTICATIONFAILED] Invalid credentials`);
        return;
      }
      const match = /^(\S+) (?:UID )?(\S+)(?: (.*))?$/i.exec(text);
      if (!match) return line('* BAD what?');
      const [, tag, verb, args = ''] = match;
      commands.push(text.slice(tag!.length + 1));
      switch (verb!.toUpperCase()) {
        case 'CAPABILITY':
          line(`* CAPABILITY ${capabilities.join(' ')}`);
          return line(`${tag} OK CAPABILITY completed`);
        case 'LOGIN': {
          const [user, password] = [...args.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((m) =>
            (m[1] ?? m[2])!.replace(/\\(.)/g, '$1'),
          );
          if (options.password === undefined || user !== options.user || password !== options.password)
            return line(`${tag} NO [AUTHENTICATIONFAILED] Invalid credentials`);
          signedIn = true;
          return line(`${tag} OK LOGIN completed`);
        }
        case 'AUTHENTICATE': {
          const [mechanism, payload] = args.split(' ');
          if (mechanism!.toUpperCase() !== 'XOAUTH2' || !options.accessToken)
            return line(`${tag} NO Unsupported authentication mechanism`);
          if (payload === undefined) {
            pending = { tag: tag!, state: 'payload' };
            return line('+ ');
          }
          return xoauth2(tag!, payload);
        }
        case 'NOOP':
          return line(`${tag} OK NOOP completed`);
        case 'LOGOUT':
          line('* BYE Logging out');
          line(`${tag} OK LOGOUT completed`);
          return socket.end();
      }
      if (!signedIn) return line(`${tag} BAD Sign in first`);
      switch (verb!.toUpperCase()) {
        case 'LIST':
        case 'LSUB': {
          if (/""\s*$/.test(args)) line(`* ${verb!.toUpperCase()} (\\Noselect) "/" ""`);
          else
            for (const folder of options.folders)
              line(
                `* ${verb!.toUpperCase()} (\\HasNoChildren${folder.specialUse ? ` ${folder.specialUse}` : ''}) "/" ${quote(folder.name)}`,
              );
          return line(`${tag} OK ${verb!.toUpperCase()} completed`);
        }
        case 'EXAMINE':
        case 'SELECT': {
          selectedName = args.replace(/^"(.*)"$/, '$1');
          selected = options.messages.filter((m) => m.folder === selectedName);
          line('* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)');
          line(`* ${selected.length} EXISTS`);
          line('* 0 RECENT');
          line('* OK [UIDVALIDITY 1] UIDs valid');
          line(`* OK [UIDNEXT ${selected.length + 1}] Predicted next UID`);
          return line(`${tag} OK [READ-ONLY] EXAMINE completed`);
        }
        case 'SEARCH':
          line(`* SEARCH ${(selected ?? []).map((_, i) => i + 1).join(' ')}`.trimEnd());
          return line(`${tag} OK SEARCH completed`);
        case 'FETCH': {
          const [set, ...items] = args.split(' ');
          return fetch(tag!, set!, items.join(' '));
        }
        case 'CLOSE':
        case 'UNSELECT':
          selected = undefined;
          return line(`${tag} OK ${verb!.toUpperCase()} completed`);
        default:
          return line(`${tag} BAD Unknown command`);
      }
    };

    socket.on('data', (data) => {
      input += data.toString('utf8');
      for (let end = input.indexOf('\r\n'); end >= 0; end = input.indexOf('\r\n')) {
        const text = input.slice(0, end);
        input = input.slice(end + 2);
        command(text);
      }
    });
    line(`* OK [CAPABILITY ${capabilities.join(' ')}] Scripted IMAP source ready`);
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `imaps://127.0.0.1:${port}`,
    commands,
    sent,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
