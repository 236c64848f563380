// SMTP listeners: MX on 25 (STARTTLS offered, no AUTH), submission on 587 (AUTH only after STARTTLS)
// and 465 (implicit TLS). Each connection is an SmtpSession feeding flow/intake.
import type { Socket } from 'node:net';
import { createSecureContext } from 'node:tls';
import type { Config, ListenerName } from '../../config/schema.ts';
import type { IntakeSource } from '../../flow/intake/intake.ts';
import type { Logger } from '../../logging/logger.ts';
import type { SessionCheckDeps } from '../../directory/session-check.ts';
import type { ListenerInfo } from '../../net/listen.ts';
import { startSocketListeners } from '../../net/socket-listeners.ts';
import type { TlsMaterial } from '../../net/tls-certificate.ts';
import { SmtpSession, type SmtpIntake, type SmtpSessionConfig } from './smtp-session.ts';

/** A connection waiting this long for the client's next bytes is closed (RFC 5321 §4.5.3.2 asks at least 5 minutes). */
const idleTimeoutMs = 5 * 60_000;
/** No connection lasts longer, however slowly it trickles (a client sending a byte a minute holds a session otherwise). */
const maxSessionMs = 60 * 60_000;

interface SmtpListenerSpec {
  name: ListenerName;
  source: IntakeSource;
  tls: boolean;
  description: string;
}

const specs: SmtpListenerSpec[] = [
  { name: 'smtp', source: 'mx', tls: false, description: 'inbound mail (MX), STARTTLS' },
  { name: 'submission', source: 'submission', tls: false, description: 'mail submission, STARTTLS + AUTH' },
  { name: 'submissions', source: 'submission', tls: true, description: 'mail submission, implicit TLS + AUTH' },
];

export interface SmtpSettings {
  config: Pick<Config, 'ports' | 'bind' | 'hostname' | 'smtp'>;
  tls: TlsMaterial;
  logger: Logger;
  /** Where signed-in sessions re-read their accounts (revoked sign-ins end their sessions). */
  signIns: SessionCheckDeps;
}

export interface SmtpListeners {
  listeners: ListenerInfo[];
  /** Open sessions. */
  sessionCount(): number;
  /**
   * Stops accepting; sessions waiting for a command get `421 4.3.2` at once, busy ones (a message
   * being received or committed) after their command. Resolves when every connection is gone.
   */
  close(): Promise<void>;
  /** Ends every connection now (the shutdown grace period is over). */
  forceClose(): void;
}

export async function startSmtpListeners(settings: SmtpSettings, intake: SmtpIntake): Promise<SmtpListeners> {
  const { config, tls, logger, signIns } = settings;
  const log = logger.child({ component: 'smtp' });
  const secureContext = createSecureContext({ cert: tls.cert, key: tls.key });
  const sessions = new Set<SmtpSession>();
  const configs = new Map<ListenerName, SmtpSessionConfig>(
    specs.map((spec) => [
      spec.name,
      {
        source: spec.source,
        implicitTls: spec.tls,
        hostname: config.hostname,
        maxMessageSize: config.smtp.maxMessageSize,
        greetingDelayMs: spec.source === 'mx' ? config.smtp.greetingDelayMs : 0,
        idleTimeoutMs,
        maxSessionMs,
        secureContext,
      },
    ]),
  );
  const accept = (socket: Socket, spec: { name: ListenerName }) => {
    const session = new SmtpSession(
      { intake, log: log.child({ listener: spec.name }), sessions, signIns },
      configs.get(spec.name)!,
      socket,
    );
    sessions.add(session);
    session.start().catch((error: unknown) => {
      log.error({ err: error }, 'smtp: session failed');
      session.destroy();
    });
  };
  const started = await startSocketListeners(settings, specs, accept, log);
  return {
    listeners: started.listeners.map((l) => ({ ...l, scheme: l.name === 'submissions' ? 'smtps' : 'smtp' })),
    sessionCount: () => sessions.size,
    close: async () => {
      const closing = started.close();
      for (const session of sessions) session.shutdown();
      await closing;
    },
    forceClose: () => sessions.forEach((s) => s.destroy()),
  };
}
