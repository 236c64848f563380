// Remote delivery of one message to the recipients it has in one domain: pick the route (a relay
// route from the configuration, else the domain's MX hosts, else its own address), speak SMTP, and
// turn the replies into outcomes: 2xx delivered, 4xx deferred, 5xx failed.
import type { RelayRoute } from '../../config/schema.ts';
import { openStoredMessage } from '../../message/stored-message.ts';
import type { BlobStore } from '../../store/blobs/blob-store.ts';
import { isNameMissing, type MailDns } from '../dns.ts';
import type { ClaimedRecipient, Outcome } from '../queue/queue.ts';
import type { DeliverySignal } from './destination-control.ts';
import { SmtpDeliveryError, type SmtpClient, type SmtpTarget } from './smtp-client.ts';

export interface RemoteOutcomes {
  delivered: Outcome[];
  deferred: Outcome[];
  failed: Outcome[];
  /** How the destination behaved, for its concurrency (destination-control.ts). */
  signal: DeliverySignal;
}

/**
 * A server's way of asking for fewer connections: a 4xx to the connection itself (421 at greeting,
 * to EHLO or STARTTLS), any 421 (it closes the channel), or a 4xx that says so — 4.3.2 (Exchange
 * Online's "concurrent connections per resource forest"), 4.4.5 (congestion), "too many connections".
 */
export function isConnectionRefusal(error: SmtpDeliveryError): boolean {
  if (error.code < 400 || error.code >= 500) return false;
  return (
    error.stage === 'connect' ||
    error.code === 421 ||
    /\b4\.3\.2\b|\b4\.4\.5\b|too many (concurrent |simultaneous )?(connections|sessions)|connection limit|concurrent connections/i.test(
      error.reply,
    )
  );
}

export interface RemoteDeliveryDeps {
  blobs: BlobStore;
  dns: MailDns;
  relays: RelayRoute[];
  hostname: string;
  /** Port of MX hosts (25). */
  remotePort: number;
  /** Keeps connections to remote servers open between messages. */
  smtp: SmtpClient;
}

/** The relay route for a domain: an exact match wins over "*". */
export function relayFor(relays: RelayRoute[], domain: string): RelayRoute | undefined {
  return relays.find((r) => r.domains.includes(domain)) ?? relays.find((r) => r.domains.includes('*'));
}

/** Key for per-destination concurrency: the relay (smart host) or the recipient domain. */
export function destinationOf(relays: RelayRoute[], domain: string): string {
  const relay = relayFor(relays, domain);
  return relay ? `relay:${relay.url.host}` : domain;
}

/** Which queued mail goes to a destination (the inverse of destinationOf). */
export function mailOfDestination(
  relays: RelayRoute[],
  destination: string,
): { allRemote: true } | { domains: string[] } {
  if (!destination.startsWith('relay:')) return { domains: [destination] };
  const routes = relays.filter((r) => `relay:${r.url.host}` === destination);
  if (routes.some((r) => r.domains.includes('*'))) return { allRemote: true };
  return { domains: routes.flatMap((r) => r.domains) };
}

export type TargetResolution = { targets: SmtpTarget[] } | { permanent: string } | { temporary: string };

export async function resolveTargets(deps: RemoteDeliveryDeps, domain: string): Promise<TargetResolution> {
  const relay = relayFor(deps.relays, domain);
  if (relay) {
    const secure = relay.url.protocol === 'smtps:';
    const auth = relay.url.username
      ? { user: decodeURIComponent(relay.url.username), pass: decodeURIComponent(relay.url.password) }
      : undefined;
    return {
      targets: [
        {
          host: relay.url.hostname.replace(/^\[|\]$/g, ''),
          port: Number(relay.url.port) || (secure ? 465 : 587),
          secure,
          auth,
        },
      ],
    };
  }
  let hosts: string[];
  try {
    const mx = await deps.dns.resolveMx(domain);
    hosts = mx.sort((a, b) => a.priority - b.priority).map((m) => m.exchange);
    if (hosts.length === 1 && (hosts[0] === '' || hosts[0] === '.'))
      return { permanent: `556 5.1.10 domain ${domain} does not accept mail (null MX)` };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOTFOUND')
      return { permanent: `550 5.1.2 domain ${domain} does not exist` };
    if (!isNameMissing(error))
      return {
        temporary: `451 4.4.3 DNS lookup for ${domain} failed (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      };
    hosts = [domain]; // no MX: the domain itself (RFC 5321 implicit MX)
  }
  const targets: SmtpTarget[] = [];
  for (const host of hosts) {
    try {
      for (const address of await deps.dns.resolveAddresses(host))
        targets.push({ host: address, port: deps.remotePort, secure: false, servername: host });
    } catch {
      // try the next host
    }
  }
  if (targets.length === 0) return { temporary: `451 4.4.4 no address found for the mail servers of ${domain}` };
  return { targets };
}

export async function deliverRemotely(
  deps: RemoteDeliveryDeps,
  recipients: ClaimedRecipient[],
): Promise<RemoteOutcomes> {
  const message = recipients[0]!.message;
  const domain = recipients[0]!.domain;
  const all = (reply: string, remoteMta?: string) => recipients.map((recipient) => ({ recipient, reply, remoteMta }));
  const resolution = await resolveTargets(deps, domain);
  if ('permanent' in resolution)
    return { delivered: [], deferred: [], failed: all(resolution.permanent), signal: 'neutral' };
  if ('temporary' in resolution)
    return { delivered: [], deferred: all(resolution.temporary), failed: [], signal: 'unreachable' };

  let lastError: SmtpDeliveryError | undefined;
  // A message that cannot be read from the store (the database failing over, a content file gone)
  // breaks the transaction as a lost connection would; it is the store's trouble, not the
  // destination's, and must not count against the destination or be tried on its next host.
  let readFailure: Error | undefined;
  const openMessage = () => {
    const stream = openStoredMessage(deps.blobs, message);
    stream.once('error', (error) => {
      readFailure ??= error;
    });
    return stream;
  };
  for (const target of resolution.targets) {
    const remoteMta = target.servername ?? target.host;
    try {
      const result = await deps.smtp.send(target, {
        helo: deps.hostname,
        from: message.sender,
        to: recipients.map((r) => r.recipient),
        size: message.size + Buffer.byteLength(message.prefix),
        message: openMessage,
        dsn: { ret: message.ret, envid: message.envid, notify: recipients[0]!.notify, orcpt: recipients[0]!.orcpt },
        destination: destinationOf(deps.relays, domain),
      });
      const outcome: RemoteOutcomes = { delivered: [], deferred: [], failed: [], signal: 'success' };
      for (const recipient of recipients) {
        const refusal = result.rejected.find((r) => r.recipient.toLowerCase() === recipient.recipient.toLowerCase());
        if (!refusal) outcome.delivered.push({ recipient, reply: result.response, remoteMta });
        else if (refusal.code >= 500) outcome.failed.push({ recipient, reply: refusal.reply, remoteMta });
        else
          outcome.deferred.push({
            recipient,
            reply: refusal.reply || '451 4.0.0 deferred by the remote server',
            remoteMta,
          });
      }
      if (outcome.delivered.length === 0 && outcome.deferred.length > 0) outcome.signal = 'pushback';
      return outcome;
    } catch (error) {
      if (readFailure)
        return {
          delivered: [],
          deferred: all(`451 4.3.0 the message could not be read from the store (${readFailure.message})`),
          failed: [],
          signal: 'neutral',
        };
      if (!(error instanceof SmtpDeliveryError)) throw error;
      lastError = error;
      // A 5xx to the transaction is the message's fate; a 421/connection failure means try the next host.
      if (error.code >= 500 && error.stage !== 'connect')
        return { delivered: [], deferred: [], failed: all(error.reply, remoteMta), signal: 'neutral' };
      if (error.code >= 400 && error.stage === 'transaction')
        return {
          delivered: [],
          deferred: all(error.reply, remoteMta),
          failed: [],
          signal: isConnectionRefusal(error) ? 'refused' : 'pushback',
        };
    }
  }
  const reply = lastError!.code
    ? lastError!.reply
    : `451 4.4.1 could not connect to the mail servers of ${domain} (${lastError!.reply})`;
  const signal = !lastError!.code ? 'unreachable' : isConnectionRefusal(lastError!) ? 'refused' : 'pushback';
  return { delivered: [], deferred: all(reply), failed: [], signal };
}
