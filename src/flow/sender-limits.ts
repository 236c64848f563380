// The sending limits of authenticated senders: messages a minute and recipients a day, counted from
// the queue itself (every message a user sends, by SMTP submission or as a calendar invitation, is a
// queue entry carrying its sender's principal), so every way of sending draws on one budget.
import type { Config, SenderLimits as Limits } from '../config/schema.ts';
import type { Principal } from '../directory/directory.ts';
import type { Store } from '../store/store.ts';
import { messagesSentSince, recipientsSentSince } from './queue/sent-by-sender.ts';

/** Why a sender may not send now; each protocol turns it into its own reply. */
export interface SendingRefusal {
  limit: 'messages-per-minute' | 'recipients-per-day';
  text: string;
}

export class SenderLimits {
  constructor(private readonly deps: { config: Config; store: Store; now(): number }) {}

  /** The limits that apply to a tenant: its own ([tenant_limits.<name>]) or the defaults. */
  async ofTenant(tenantId: number): Promise<Limits> {
    const { config } = this.deps;
    if (Object.keys(config.tenantLimits).length === 0) return this.defaults();
    return config.tenantLimits[(await this.tenantName(tenantId)).toLowerCase()] ?? this.defaults();
  }

  /** The limits of a sender: its tenant's, or the defaults for an anonymous one. */
  async of(principal: Principal | undefined): Promise<Limits> {
    return principal ? this.ofTenant(principal.tenantId) : this.defaults();
  }

  /** Refuses one more message if the sender sent its limit in the last minute. */
  async messageRefusal(principal: Principal): Promise<SendingRefusal | undefined> {
    const limits = await this.of(principal);
    if (
      (await messagesSentSince(this.deps.store.db, principal.id, this.deps.now() - 60_000)) < limits.messagesPerMinute
    )
      return undefined;
    return {
      limit: 'messages-per-minute',
      text: `Message submission rate for ${principal.address} has exceeded the configured limit (${limits.messagesPerMinute} per minute); try again later`,
    };
  }

  /** Refuses `adding` more recipients if, with `pending` ones not yet queued, they pass the 24-hour limit. A group counts as one. */
  async recipientRefusal(principal: Principal, pending: number, adding = 1): Promise<SendingRefusal | undefined> {
    const limits = await this.of(principal);
    const sent = await recipientsSentSince(this.deps.store.db, principal.id, this.deps.now() - 86_400_000);
    if (sent + pending + adding <= limits.recipientsPerDay) return undefined;
    return {
      limit: 'recipients-per-day',
      text: `Daily recipient limit reached for ${principal.address} (${limits.recipientsPerDay} recipients per 24 hours); try again later`,
    };
  }

  /** Tenant names by id, remembered for a minute: limits are looked up at every MAIL and RCPT. */
  private readonly tenantNames = new Map<number, { name: string; until: number }>();

  async tenantName(tenantId: number): Promise<string> {
    const now = this.deps.now();
    const known = this.tenantNames.get(tenantId);
    if (known && known.until > now) return known.name;
    const tenant = await this.deps.store.db
      .selectFrom('tenants')
      .select('name')
      .where('id', '=', tenantId)
      .executeTakeFirst();
    const name = tenant?.name ?? '';
    this.tenantNames.set(tenantId, { name, until: now + 60_000 });
    return name;
  }

  private defaults(): Limits {
    const { config } = this.deps;
    return {
      messagesPerMinute: config.limits.messagesPerMinute,
      recipientsPerDay: config.limits.recipientsPerDay,
      maxRecipients: config.smtp.maxRecipients,
      maxMessageSize: config.smtp.maxMessageSize,
    };
  }
}
