// SMTP listeners: MX on 25 (STARTTLS offered, no AUTH), submission on 587 (AUTH only after STARTTLS)
// and 465 (implicit TLS). Thin: each command is handed to flow/intake, whose SmtpReply refusals are
// sent as they are.
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import type { ListenerName } from '../../config/schema.ts';
import type { Intake, IntakeSource } from '../../flow/intake/intake.ts';
import { SmtpReply } from '../../flow/intake/smtp-reply.ts';
import type { Holdfast } from '../../server/holdfast.ts';
import { listen, type ListenerInfo } from '../../net/listen.ts';
import { patchSmtpServer } from './smtp-server-patches.ts';

interface SmtpListenerSpec {
  name: ListenerName;
  source: IntakeSource;
  secure: boolean;
  description: string;
}

const specs: SmtpListenerSpec[] = [
  { name: 'smtp', source: 'mx', secure: false, description: 'inbound mail (MX), STARTTLS' },
  { name: 'submission', source: 'submission', secure: false, description: 'mail submission, STARTTLS + AUTH' },
  { name: 'submissions', source: 'submission', secure: true, description: 'mail submission, implicit TLS + AUTH' },
];

export async function startSmtpListeners(holdfast: Holdfast, intake: Intake): Promise<{ listeners: ListenerInfo[]; servers: SMTPServer[] }> {
  patchSmtpServer();
  const { config, logger } = holdfast;
  const servers: SMTPServer[] = [];
  const listeners: ListenerInfo[] = [];
  try {
    for (const spec of specs) {
      const port = config.ports[spec.name];
      if (port === 'off') continue;
      const server = new SMTPServer(serverOptions(holdfast, intake, spec));
      server.on('error', (error) => logger.warn({ err: error, listener: spec.name }, 'smtp: connection error'));
      servers.push(server);
      const actual = await listen(server.server, spec.name, config.bind, port);
      listeners.push({ name: spec.name, host: config.bind, port: actual, scheme: spec.name === 'submissions' ? 'smtps' : 'smtp', description: spec.description });
    }
  } catch (error) {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    throw error;
  }
  return { listeners, servers };
}

function serverOptions(holdfast: Holdfast, intake: Intake, spec: SmtpListenerSpec): SMTPServerOptions {
  const { config, tls, logger } = holdfast;
  const log = logger.child({ component: spec.name });
  // `fields` adds what the step was about, such as the user name an AUTH tried (never its password).
  const fail = (error: unknown, session: SMTPServerSession, step: string, fields: Record<string, unknown> = {}) => {
    if (error instanceof SmtpReply) {
      log.info({ session: session.id, client: session.remoteAddress, step, ...fields, reply: error.reply }, 'smtp: refused');
      return error;
    }
    if ((error as { code?: string }).code === 'ECONNECTION') {
      // smtp-server ends the message stream this way when the client leaves (or resets BDAT) mid-message.
      log.info({ session: session.id, client: session.remoteAddress, step }, 'smtp: message abandoned by the client before its end');
    } else {
      log.error({ err: error, session: session.id, step }, 'smtp: internal error');
    }
    return Object.assign(new Error('4.3.0 Temporary server error; please try again later'), { responseCode: 451 });
  };
  const run = <T>(session: SMTPServerSession, step: string, work: () => Promise<T> | T, callback: (error?: Error | null, value?: T) => void, fields?: Record<string, unknown>) => {
    Promise.resolve()
      .then(work)
      .then(
        (value) => callback(null, value),
        (error) => callback(fail(error, session, step, fields)),
      );
  };

  const options: SMTPServerOptions & { greetingDelayMs: number; authRequiredMessage: string } = {
    name: config.hostname,
    banner: 'Holdfast',
    hideENHANCEDSTATUSCODES: false,
    hideDSN: false,
    key: tls.key,
    cert: tls.cert,
    secure: spec.secure,
    size: config.smtp.maxMessageSize,
    authMethods: ['PLAIN', 'LOGIN'],
    authOptional: spec.source === 'mx',
    // smtp-server's own words are "Error: authentication Required"; intake's (and the docs') are these.
    authRequiredMessage: 'Authentication required',
    disabledCommands: spec.source === 'mx' ? ['AUTH'] : [],
    allowInsecureAuth: false,
    disableReverseLookup: true,
    logger: false,
    socketTimeout: 5 * 60_000,
    closeTimeout: config.shutdownGraceMs,
    // Read by smtp-server-patches.ts.
    greetingDelayMs: spec.source === 'mx' ? config.smtp.greetingDelayMs : 0,

    onConnect(session, callback) {
      // AUTH is neither offered nor accepted before TLS (it is refused anyway; not advertising it keeps clients honest).
      if (spec.source === 'submission' && !spec.secure) session.disabledCommands = ['AUTH'];
      run(session, 'connect', () => intake.connect({ id: session.id, source: spec.source, clientIp: session.remoteAddress, clientHostname: session.clientHostname, secure: spec.secure }), callback);
    },
    onSecure(_socket, session, callback) {
      if (spec.source === 'submission') session.disabledCommands = [];
      callback();
    },
    onAuth(auth, session, callback) {
      run(
        session,
        'auth',
        async () => {
          const principal = await intake.login(session.id, auth.username ?? '', auth.password ?? '');
          return { user: principal.address };
        },
        (error, result) => (error ? callback(error) : callback(null, result as { user: string })),
        { user: auth.username ?? '' },
      );
    },
    onMailFrom(address, session, callback) {
      run(
        session,
        'mail',
        async () => {
          intake.update(session.id, { helo: session.hostNameAppearsAs, secure: session.secure });
          await intake.mailFrom(session.id, address.address);
        },
        (error) => callback(error ?? undefined),
      );
    },
    onRcptTo(address, session, callback) {
      const dsn = address.dsn as { orcpt?: string; notify?: string[] } | undefined;
      run(session, 'rcpt', () => intake.rcptTo(session.id, address.address, { orcpt: dsn?.orcpt, notify: dsn?.notify }), (error) => callback(error ?? undefined));
    },
    onData(stream, session, callback) {
      const envelope = session.envelope as { dsn?: { envid?: string | null; ret?: string | null } };
      run(
        session,
        'data',
        async () => {
          try {
            return await intake.data(session.id, stream, { envid: envelope.dsn?.envid, ret: envelope.dsn?.ret });
          } finally {
            stream.resume(); // drain whatever a refusal left unread, so the reply reaches the client
          }
        },
        (error, message) => (error ? callback(error) : callback(null, message as string)),
      );
    },
    onClose(session) {
      intake.close(session.id);
    },
  };
  return options;
}
