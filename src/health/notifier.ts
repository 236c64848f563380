// Telling people when an issue opens, changes status or resolves: signed webhooks and mail to the
// configured admin addresses. Alert mail goes out on its own path — the [health] alert_relay
// smart host, or straight to the recipients' MX — never through the queue it may be reporting on.
import { createHmac } from 'node:crypto';
import nodemailer from 'nodemailer';
import type { HealthSettings } from '../config/schema.ts';
import type { MailDns } from '../flow/dns.ts';
import type { Logger } from '../logging/logger.ts';
import { statusWords } from './components.ts';
import { graphIssue } from './graph-shape.ts';
import type { HealthIssue } from './issue-log.ts';
import { isoTime, postText } from './issue-posts.ts';

export type HealthEventKind = 'issue.opened' | 'issue.updated' | 'issue.resolved';

export interface NotifierOptions {
  settings: HealthSettings;
  dns: MailDns;
  hostname: string;
  /** The port of remote MX hosts (25; tests use another). */
  remotePort: number;
  logger: Logger;
}

/** The signature of a webhook body: hex HMAC-SHA256 over "<timestamp>.<body>" with the shared secret. */
export function webhookSignature(secret: string, timestamp: string, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

export class HealthNotifier {
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly options: NotifierOptions) {}

  /** The last notification under way per issue and channel: the next one waits, so receivers see them in order. */
  private readonly chains = new Map<string, Promise<void>>();

  /** Sends in the background (retrying webhooks); `settled()` waits for what is under way. */
  notify(kind: HealthEventKind, issue: HealthIssue) {
    const { settings } = this.options;
    const channels: [string, () => Promise<void>][] = [
      ...settings.webhooks.map((hook): [string, () => Promise<void>] => [
        hook.url.href,
        () => this.postWebhook(hook, kind, issue),
      ]),
      ...(settings.alertTo.length ? [['mail', () => this.sendMail(kind, issue)] as [string, () => Promise<void>]] : []),
    ];
    for (const [channel, send] of channels) {
      const key = `${issue.id} ${channel}`;
      const tracked: Promise<void> = (this.chains.get(key) ?? Promise.resolve())
        .then(send)
        .catch((error) =>
          this.options.logger.warn({ err: error, issue: issue.id, channel }, 'health notification failed'),
        )
        .finally(() => {
          this.pending.delete(tracked);
          if (this.chains.get(key) === tracked) this.chains.delete(key);
        });
      this.chains.set(key, tracked);
      this.pending.add(tracked);
    }
  }

  async settled() {
    await Promise.all([...this.pending]);
  }

  private async postWebhook(hook: { url: URL; secret: string }, kind: HealthEventKind, issue: HealthIssue) {
    const body = JSON.stringify({ event: kind, issue: graphIssue(issue, {}) });
    for (const [attempt, wait] of [0, 2000, 10_000].entries()) {
      if (wait) await new Promise((r) => setTimeout(r, wait));
      const timestamp = String(Math.floor(Date.now() / 1000));
      try {
        const response = await fetch(hook.url, {
          method: 'POST',
          headers: {
            'Content-Type': 'application/json',
            'User-Agent': 'Holdfast service health',
            'X-Holdfast-Event': kind,
            'X-Holdfast-Timestamp': timestamp,
            'X-Holdfast-Signature': `sha256=${webhookSignature(hook.secret, timestamp, body)}`,
          },
          body,
          signal: AbortSignal.timeout(10_000),
        });
        if (response.ok) return;
        if (attempt === 2) throw new Error(`webhook ${hook.url.origin} answered ${response.status}`);
      } catch (error) {
        if (attempt === 2) throw error;
      }
    }
  }

  private async sendMail(kind: HealthEventKind, issue: HealthIssue) {
    const { settings, hostname } = this.options;
    const what =
      kind === 'issue.opened'
        ? `${issue.classification === 'incident' ? 'Incident' : 'Advisory'} opened`
        : kind === 'issue.resolved'
          ? 'Resolved'
          : statusWords[issue.status];
    const latest = issue.posts.at(-1);
    const message = {
      from: settings.alertFrom,
      to: settings.alertTo,
      subject: `[Holdfast ${issue.id}] ${what}: ${issue.title}`,
      headers: { 'Auto-Submitted': 'auto-generated', 'X-Holdfast-Issue': issue.id },
      text: [
        `${issue.id} · ${issue.classification} · ${statusWords[issue.status]} · ${issue.featureGroup} / ${issue.feature}`,
        `Started ${isoTime(issue.startAt)}${issue.endAt ? `, ended ${isoTime(issue.endAt)}` : ''}; sent by ${hostname}.`,
        '',
        issue.impactDescription,
        '',
        latest ? postText(latest.content) : '',
      ].join('\n'),
    };
    if (settings.alertRelay) {
      const relay = settings.alertRelay;
      await nodemailer
        .createTransport({
          host: relay.hostname,
          port: Number(relay.port) || (relay.protocol === 'smtps:' ? 465 : 587),
          secure: relay.protocol === 'smtps:',
          name: hostname,
          auth: relay.username
            ? { user: decodeURIComponent(relay.username), pass: decodeURIComponent(relay.password) }
            : undefined,
          // Like the relay routes of the queue: a smart host's certificate is often not for its name.
          tls: { rejectUnauthorized: false },
          connectionTimeout: 15_000,
        })
        .sendMail(message);
      return;
    }
    // Straight to each recipient domain's MX, in preference order.
    const byDomain = new Map<string, string[]>();
    for (const address of settings.alertTo) {
      const domain = address.slice(address.lastIndexOf('@') + 1);
      byDomain.set(domain, [...(byDomain.get(domain) ?? []), address]);
    }
    for (const [domain, recipients] of byDomain) {
      const mx = await this.options.dns.resolveMx(domain).catch(() => []);
      const hosts = mx.length ? mx.sort((a, b) => a.priority - b.priority).map((m) => m.exchange) : [domain];
      let lastError: unknown;
      for (const host of hosts) {
        try {
          const [address] = await this.options.dns.resolveAddresses(host);
          if (!address) throw new Error(`${host} has no address`);
          await nodemailer
            .createTransport({
              host: address,
              port: this.options.remotePort,
              name: hostname,
              tls: { rejectUnauthorized: false, servername: host },
              connectionTimeout: 15_000,
            })
            .sendMail({ ...message, envelope: { from: settings.alertFrom, to: recipients } });
          lastError = undefined;
          break;
        } catch (error) {
          lastError = error;
        }
      }
      if (lastError) throw lastError;
    }
  }
}
