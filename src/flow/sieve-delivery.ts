// Sieve at local delivery: each recipient's active script (sieve/) decides where the message goes
// before it is stored. What the script asked for is done here or handed back:
//
// - folders and flags: handed back as the recipient's `filed` placements (mailbox/filed-delivery.ts);
// - redirect: queued as new mail (remote delivery, retries, DSNs) before the delivery commits, so a
//   crash in between sends a redirect twice rather than losing the message; never when the message
//   already passed this mailbox (a Delivered-To of its own, RFC 5321 6.3: the loop is broken by
//   keeping the message in the INBOX); to another domain with the envelope sender rewritten by SRS
//   (srs.ts), so the next server's SPF check passes and bounces come back through our MX; not at all
//   to an address outside the organisation when its tenant blocks external forwarding: the message is
//   kept and the user told why;
// - reject/ereject: the recipient fails with 550 5.7.1 and the reason, so the sender gets a DSN
//   (none to the null sender);
// - vacation: sent after the commit by the vacation responder, under its RFC 3834 rules;
// - editheader: the message is stored (and redirected) as changed, a new content.
//
// A script that cannot be compiled or fails while it runs changes nothing: the message goes to the
// INBOX as if there were no script, and the owner is told once per version of the script.
import MailComposer from 'nodemailer/lib/mail-composer';
import type { Kysely } from 'kysely';
import type { Config } from '../config/schema.ts';
import type { Directory, Principal } from '../directory/directory.ts';
import { parseAddress } from '../directory/names.ts';
import { type TenantRules, tenantRules, tenantSettings } from '../directory/tenant-settings.ts';
import type { Logger } from '../logging/logger.ts';
import type { DeliveredMessage } from '../mailbox/delivery.ts';
import { listFolders } from '../mailbox/folders.ts';
import { openStoredMessage, readHeaderSection } from '../message/stored-message.ts';
import { type CompiledScript, compileScript } from '../sieve/compile.ts';
import {
  defaultSieveLimits,
  runScript,
  type SieveLimits,
  type SieveResult,
  type VacationAction,
} from '../sieve/interpreter.ts';
import { SieveError } from '../sieve/sieve-error.ts';
import { maxBodyTextBytes, SieveMessage } from '../sieve/sieve-message.ts';
import { activeScripts, claimErrorNotice, type SieveScript } from '../sieve/sieve-scripts.ts';
import type { BlobStore } from '../store/blobs/blob-store.ts';
import { isStoreUnavailable } from '../store/store-unavailable.ts';
import type { Database } from '../store/schema.ts';
import type { Outcome, QueuedMessage } from './queue/claimed-recipient.ts';
import type { IntakeCommitter } from './queue/intake-committer.ts';
import type { LocalRecipient } from './queue/outcomes.ts';
import { type RouteResult, routeRecipient, upstreamDomainsOf } from './router.ts';
import { SrsKey } from './srs.ts';

export interface SieveDeliveryDeps {
  db: Kysely<Database>;
  blobs: BlobStore;
  directory: Directory;
  committer: IntakeCommitter;
  /** `sieve` ([sieve] in the configuration) bounds the scripts; without it, sieve/'s defaults. */
  config: Pick<Config, 'hostname' | 'continuity'> & Partial<Pick<Config, 'sieve'>>;
  limits?: SieveLimits;
  log?: Logger;
  now(): number;
}

/** What the scripts decided for a batch of local recipients. */
export interface SieveOutcome {
  /** Every recipient still to be stored, with `filed` set where a script chose the folders. */
  deliver: LocalRecipient[];
  /** Recipients whose script rejected the message (failed with a DSN). */
  rejected: Outcome[];
  /** Automatic replies scripts asked for, to send once the delivery has committed. */
  replies: { recipient: LocalRecipient; vacation: VacationAction }[];
}

/** Compiled scripts kept by id and version: a busy mailbox's script is compiled once. */
const maxCompiled = 1000;
/** Personal scripts one delivery loads for include, at most. */
const maxIncludedScripts = 16;

export class SieveDelivery {
  private readonly compiled = new Map<string, CompiledScript | SieveError>();
  private readonly srs: SrsKey;

  constructor(private readonly deps: SieveDeliveryDeps) {
    this.srs = new SrsKey(deps.db, deps.now);
  }

  async decide(ready: LocalRecipient[]): Promise<SieveOutcome> {
    const outcome: SieveOutcome = { deliver: [], rejected: [], replies: [] };
    let scripts: Map<number, SieveScript>;
    let organisation: Map<number, TenantRules>;
    try {
      scripts = await activeScripts(
        this.deps.db,
        ready.map((r) => r.mailbox.id),
      );
      organisation = await tenantRules(
        this.deps.db,
        ready.map((r) => r.mailbox.tenantId),
      );
    } catch (error) {
      // Mail is not held up by a store that cannot say which scripts are active: delivered as if none.
      this.deps.log?.warn({ err: error }, 'sieve: active scripts not read; delivering without filtering');
      return { deliver: ready, rejected: [], replies: [] };
    }
    for (const local of ready) {
      const script = scripts.get(local.mailbox.id);
      const rules = organisation.get(local.mailbox.tenantId);
      if (!script && !rules) {
        outcome.deliver.push(local);
        continue;
      }
      try {
        await this.decideOne(local, script, rules, outcome);
      } catch (error) {
        // The store gone for a moment: the delivery is tried again later, script and all.
        if (isStoreUnavailable(error)) throw error;
        outcome.deliver.push(local);
        if (error instanceof SieveError && script) await this.tellOwner(local, script, error);
        // Anything else is ours, not the script's: the message is not held up by it either.
        else
          this.deps.log?.error(
            { recipient: local.mailbox.address, script: script?.name, err: error },
            'sieve: script not run; message delivered to the INBOX',
          );
      }
    }
    return outcome;
  }

  /** The organisation's script, compiled; undefined (and logged) when it cannot be. */
  private organisationScript(local: LocalRecipient, rules: TenantRules | undefined): CompiledScript | undefined {
    if (!rules) return undefined;
    try {
      return this.compile({
        id: -local.mailbox.tenantId,
        name: 'organisation rules',
        content: rules.content,
        active: true,
        updatedAt: rules.updatedAt,
        errorNotifiedAt: null,
      });
    } catch (error) {
      if (!(error instanceof SieveError)) throw error;
      this.deps.log?.warn(
        { recipient: local.mailbox.address, tenantId: local.mailbox.tenantId, reason: error.message },
        "sieve: the organisation's rules do not compile; not run",
      );
      return undefined;
    }
  }

  private async decideOne(
    local: LocalRecipient,
    script: SieveScript | undefined,
    rules: TenantRules | undefined,
    outcome: SieveOutcome,
  ) {
    const { mailbox, recipient } = local;
    const message = recipient.message;
    const organisation = this.organisationScript(local, rules);
    // A user script that does not compile is the owner's to hear of; the organisation's rules still run.
    let compiled: CompiledScript | undefined;
    let userError: SieveError | undefined;
    try {
      compiled = script ? this.compile(script) : undefined;
    } catch (error) {
      if (!(error instanceof SieveError) || !organisation) throw error;
      userError = error;
    }
    if (!organisation && !compiled) {
      outcome.deliver.push(local);
      return;
    }
    const scriptsByName = compiled ? await this.includes(mailbox.id, compiled) : new Map<string, CompiledScript>();
    const uses = (capability: string) =>
      [organisation, compiled, ...scriptsByName.values()].some((s) => s?.capabilities.has(capability));
    // editheader stores the message changed: all of it. The body test reads its first MiB of text.
    const source =
      uses('editheader') || uses('body')
        ? await readStart(this.deps.blobs, message, uses('editheader') ? Infinity : maxBodyTextBytes + 256 * 1024)
        : Buffer.from(`${await readHeaderSection(this.deps.blobs, message, 256 * 1024)}\r\n\r\n`, 'utf8');
    const size = message.size + Buffer.byteLength(message.prefix);
    let view = new SieveMessage(source, size);
    const folders = uses('mailbox')
      ? new Set((await listFolders(this.deps.db, mailbox.id)).map((f) => f.name))
      : new Set<string>();
    const started = Date.now();
    const environment = {
      envelope: { from: message.sender, to: recipient.recipient },
      now: this.deps.now(),
      folders,
      scripts: scriptsByName,
      limits: this.deps.limits ?? this.deps.config.sieve?.run ?? defaultSieveLimits,
    };
    // The organisation's rules run first, on the message as it came; what they change the user's
    // script sees. Rules that reject, file, forward or discard the message decide alone.
    let first: SieveResult | undefined;
    if (organisation) {
      try {
        first = runScript(organisation, view, { ...environment, scripts: new Map() });
      } catch (error) {
        if (!(error instanceof SieveError)) throw error;
        this.deps.log?.warn(
          { recipient: mailbox.address, tenantId: mailbox.tenantId, reason: error.message },
          "sieve: the organisation's rules failed; the message goes on as if there were none",
        );
        view = new SieveMessage(source, size);
      }
    }
    let result: SieveResult;
    let organisationDecided = false;
    if (first && (first.reject || !first.implicitKeep || !compiled)) {
      result = first;
      organisationDecided = true;
    } else if (compiled) {
      try {
        const own = runScript(compiled, view, environment);
        result = first ? combine(first, own) : own;
      } catch (error) {
        if (!(error instanceof SieveError) || !first) throw error;
        userError = error;
        result = first;
      }
    } else {
      outcome.deliver.push(local);
      return;
    }
    if (userError && script) await this.tellOwner(local, script, userError);
    const byOrganisation = new Set(organisationDecided ? result.redirects : (first?.redirects ?? []));
    this.deps.log?.debug(
      {
        recipient: mailbox.address,
        script: script?.name,
        organisation: Boolean(first),
        ms: Date.now() - started,
        actions: summary(result),
      },
      'sieve: script ran',
    );
    if (result.reject) {
      // RFC 5429 2.1: a rejection of a message from the null sender is a discard.
      const reason = oneLine(result.reject.reason);
      outcome.rejected.push({ recipient, reply: `550 5.7.1 <${recipient.recipient}>: ${reason}` });
      return;
    }
    const content = view.edited ? await this.storeEdited(view, source, message) : undefined;
    let stores = result.stores;
    let redirects = result.redirects;
    if (redirects.length && this.passedBefore(view, mailbox)) {
      this.deps.log?.warn(
        { recipient: mailbox.address, sender: message.sender, redirects },
        'sieve: redirect not sent: the message has been delivered to this mailbox before (a loop); kept in the INBOX',
      );
      redirects = [];
      if (!stores.some((s) => s.folder === 'INBOX'))
        stores = [...stores, { folder: 'INBOX', flags: [], create: false }];
    }
    const blocked: string[] = [];
    const sent: string[] = [];
    for (const address of redirects) {
      if (await this.redirect(mailbox, message, content, address, byOrganisation.has(address))) sent.push(address);
      else blocked.push(address);
    }
    if (blocked.length) {
      // Not forwarded, so not lost: a message that was only to be forwarded stays in the INBOX.
      if (stores.length === 0) stores = [{ folder: 'INBOX', flags: [], create: false }];
      await this.tellForwardingBlocked(local, view, blocked).catch((error: unknown) => {
        if (isStoreUnavailable(error)) throw error;
        this.deps.log?.warn({ recipient: mailbox.address, err: error }, 'sieve: user not told of the blocked forward');
      });
    }
    redirects = sent;
    if (result.vacation) outcome.replies.push({ recipient: local, vacation: result.vacation });

    const plain =
      !content &&
      stores.length === 1 &&
      stores[0]!.folder === 'INBOX' &&
      stores[0]!.flags.length === 0 &&
      result.implicitKeep;
    if (plain) {
      outcome.deliver.push(local);
      return;
    }
    const by = organisationDecided ? "the organisation's rules" : `${mailbox.address}'s Sieve script`;
    const note = redirects.length
      ? `redirected by ${by} to ${redirects.join(', ')}`
      : blocked.length
        ? `kept: forwarding outside the organisation is turned off (${blocked.join(', ')})`
        : `discarded by ${by}`;
    outcome.deliver.push({ ...local, filed: { placements: stores, content, note } });
  }

  private compile(script: SieveScript): CompiledScript {
    const key = `${script.id}:${script.updatedAt}:${script.content.length}`;
    let compiled = this.compiled.get(key);
    if (!compiled) {
      try {
        compiled = compileScript(script.content, this.deps.config.sieve?.compile);
      } catch (error) {
        if (!(error instanceof SieveError)) throw error;
        compiled = error;
      }
      if (this.compiled.size >= maxCompiled) this.compiled.delete(this.compiled.keys().next().value!);
      this.compiled.set(key, compiled);
    }
    if (compiled instanceof SieveError) throw compiled;
    return compiled;
  }

  /** The user's scripts the script includes, and those they include, compiled (bounded). */
  private async includes(principalId: number, compiled: CompiledScript): Promise<Map<string, CompiledScript>> {
    const out = new Map<string, CompiledScript>();
    const wanted = [...compiled.includes];
    while (wanted.length) {
      const name = wanted.shift()!;
      if (out.has(name)) continue;
      if (out.size >= maxIncludedScripts)
        throw new SieveError(`a script includes more than ${maxIncludedScripts} scripts`, 0, true);
      const row = await this.deps.db
        .selectFrom('sieve_scripts')
        .selectAll()
        .where('principal_id', '=', principalId)
        .where('name', '=', name)
        .executeTakeFirst();
      // A missing script is the interpreter's to judge (:optional or an error) when include runs.
      if (!row) continue;
      const script = this.compile({
        id: Number(row.id),
        name: row.name,
        content: row.content,
        active: false,
        updatedAt: Number(row.updated_at),
        errorNotifiedAt: null,
      });
      out.set(name, script);
      wanted.push(...script.includes);
    }
    return out;
  }

  /** Whether the message carries a Delivered-To naming this mailbox: it came round again. */
  private passedBefore(view: SieveMessage, mailbox: Principal): boolean {
    return view.values('delivered-to').some((v) => v.trim().toLowerCase() === mailbox.address.toLowerCase());
  }

  /** The message as editheader left it, stored as a new content. */
  private async storeEdited(view: SieveMessage, source: Buffer, message: QueuedMessage): Promise<DeliveredMessage> {
    const text = source.toString('latin1');
    const m = /\r?\n\r?\n/.exec(text);
    const body = m ? source.subarray(m.index + m[0].length) : Buffer.alloc(0);
    const edited = Buffer.concat([Buffer.from(view.headerText(), 'latin1'), body]);
    const blob = await this.deps.blobs.put(edited);
    return { sender: message.sender, blobHash: blob.hash, prefix: '', size: blob.size, receivedAt: message.receivedAt };
  }

  /**
   * Queues the message to `address` with a Delivered-To naming this mailbox, which stops it should
   * it come back here. The envelope sender is kept for mail that stays here, and rewritten by SRS for
   * mail that leaves (the null sender stays null). Returns false, sending nothing, when the address
   * is outside the organisation and its tenant has turned external forwarding off.
   */
  private async redirect(
    mailbox: Principal,
    message: QueuedMessage,
    content: DeliveredMessage | undefined,
    address: string,
    /** A forward the organisation's own rules made: not subject to its block on external forwarding. */
    byOrganisation = false,
  ): Promise<boolean> {
    const route = await routeRecipient(
      this.deps.directory,
      address,
      mailbox.tenantId,
      undefined,
      upstreamDomainsOf(this.deps.config.continuity),
    );
    if (route.kind === 'unknown' || route.recipients.length === 0)
      throw new SieveError(`redirect: there is no mailbox ${address} here`, 0, true);
    if (!byOrganisation && outsideOrganisation(route, mailbox.tenantId)) {
      const settings = await tenantSettings(this.deps.db, mailbox.tenantId);
      if (settings.externalForwarding === 'block') {
        this.deps.log?.warn(
          { recipient: mailbox.address, to: address, sender: message.sender },
          'sieve: redirect not sent: forwarding outside the organisation is turned off for the tenant',
        );
        return false;
      }
    }
    const leaves = route.recipients.some((r) => r.route === 'remote');
    const sender =
      leaves && message.sender
        ? (await this.srs.get()).forward(message.sender, parseAddress(mailbox.address).domain, this.deps.now())
        : message.sender;
    const stored = content ?? message;
    const queueId = await this.deps.committer.submit({
      blobHash: stored.blobHash,
      prefix: `Delivered-To: ${mailbox.address}\r\n${stored.prefix}`,
      size: stored.size,
      sender,
      messageId: null,
      source: message.source === 'submission' ? 'submission' : 'mx',
      verifiedFrom: message.verifiedFrom,
      receivedAt: this.deps.now(),
      recipients: route.recipients.map((r) => ({ ...r, originalRecipient: address })),
      receivedDetail: {
        source: 'sieve-redirect',
        redirectedBy: mailbox.address,
        fromQueueId: message.id,
        ...(sender !== message.sender ? { srsFrom: message.sender } : {}),
      },
    });
    this.deps.log?.info({ recipient: mailbox.address, to: address, queueId, sender }, 'sieve: message redirected');
    return true;
  }

  /** Tells the user that their rule's forward was not sent, and why; the message was kept. */
  private async tellForwardingBlocked(local: LocalRecipient, view: SieveMessage, blocked: string[]) {
    const { mailbox, recipient } = local;
    const subject = oneLine(view.values('subject')[0] ?? '').slice(0, 200) || '(no subject)';
    const sender = recipient.message.sender || 'the null sender (a delivery report)';
    const text = [
      `Your mail rule tried to forward a message to ${blocked.join(', ')}, outside your organisation.`,
      '',
      'Forwarding outside the organisation is turned off by your administrator, so the message was not',
      'forwarded. It is in your mailbox:',
      '',
      `  From:    ${sender}`,
      `  Subject: ${subject}`,
      '',
      'Ask your administrator if you need mail forwarded outside the organisation.',
      '',
    ].join('\r\n');
    await this.notice(mailbox, {
      subject: 'Undeliverable: forwarding outside the organisation is turned off',
      text,
      messageId: `<forward-blocked-${recipient.id}@${this.deps.config.hostname}>`,
      detail: { source: 'forward-blocked', to: blocked },
    });
  }

  /** A message from "Mail Delivery System" to a local user, through the queue. */
  private async notice(
    mailbox: Principal,
    notice: { subject: string; text: string; messageId: string; detail: Record<string, unknown> },
  ) {
    const hostname = this.deps.config.hostname;
    const source = await new MailComposer({
      from: { name: 'Mail Delivery System', address: `MAILER-DAEMON@${hostname}` },
      to: mailbox.address,
      subject: notice.subject,
      text: notice.text,
      date: new Date(this.deps.now()),
      messageId: notice.messageId,
      headers: { 'Auto-Submitted': 'auto-generated' },
    })
      .compile()
      .build();
    const blob = await this.deps.blobs.put(source);
    await this.deps.committer.submit({
      blobHash: blob.hash,
      prefix: '',
      size: blob.size,
      sender: '',
      messageId: null,
      subject: notice.subject,
      source: 'dsn',
      receivedAt: this.deps.now(),
      recipients: [
        {
          recipient: mailbox.address,
          originalRecipient: mailbox.address,
          route: 'local',
          domain: mailbox.address.split('@')[1]!,
          tenantId: mailbox.tenantId,
        },
      ],
      receivedDetail: notice.detail,
    });
  }

  /** Tells the owner, once per version of the script, that it failed; the mail went to the INBOX. */
  private async tellOwner(local: LocalRecipient, script: SieveScript, error: SieveError) {
    const { mailbox, recipient } = local;
    this.deps.log?.warn(
      { recipient: mailbox.address, script: script.name, sender: recipient.message.sender, reason: error.message },
      'sieve: script failed; message delivered to the INBOX',
    );
    try {
      if (!(await claimErrorNotice(this.deps.db, script, this.deps.now()))) return;
      const text = [
        `Your mail filter (the Sieve script "${script.name}") failed on a message from <${recipient.message.sender}>:`,
        '',
        `  ${error.message}`,
        '',
        'The message was delivered to your INBOX, as is every message the script fails on. You are told',
        'once; save or activate the script again once it is fixed.',
        '',
      ].join('\r\n');
      await this.notice(mailbox, {
        subject: `Your mail filter "${script.name}" failed`,
        text,
        messageId: `<sieve-error-${script.id}-${script.updatedAt}@${this.deps.config.hostname}>`,
        detail: { source: 'sieve-error', script: script.name },
      });
    } catch (noticeError) {
      this.deps.log?.warn(
        { recipient: mailbox.address, err: noticeError },
        'sieve: owner not told of the failed script',
      );
    }
  }
}

/** The message's first `limit` bytes (all of it with Infinity). */
async function readStart(blobs: BlobStore, message: QueuedMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  const stream = openStoredMessage(blobs, message);
  for await (const chunk of stream) {
    chunks.push(chunk as Buffer);
    length += (chunk as Buffer).length;
    if (length >= limit) {
      stream.destroy();
      break;
    }
  }
  return Buffer.concat(chunks);
}

/**
 * What the organisation's rules (which kept the message) and the user's script decided together: the
 * copies the rules filed besides the INBOX and the user's choices, the forwards of both; the INBOX,
 * rejection and the automatic reply are the user's script's to decide.
 */
function combine(organisation: SieveResult, own: SieveResult): SieveResult {
  const stores = [...organisation.stores.filter((s) => s.folder !== 'INBOX'), ...own.stores].filter(
    (store, i, all) => all.findIndex((s) => s.folder === store.folder) === i,
  );
  return {
    ...own,
    stores,
    redirects: [...new Set([...organisation.redirects, ...own.redirects])],
    vacation: own.vacation ?? organisation.vacation,
  };
}

/**
 * Whether a redirect leaves the organisation: to another domain (not one of the tenant's own
 * internal-relay domains), or to another tenant of this server.
 */
function outsideOrganisation(route: RouteResult, tenantId: number): boolean {
  if (route.kind === 'remote') return !route.ownDomain || route.recipients.some((r) => r.tenantId !== tenantId);
  return route.kind !== 'unknown' && route.tenantId !== tenantId;
}

function oneLine(text: string): string {
  const line = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return (line || 'rejected by the recipient').slice(0, 400);
}

function summary(result: SieveResult): string[] {
  return [
    ...result.stores.map((s) => `store ${s.folder}`),
    ...result.redirects.map((r) => `redirect ${r}`),
    ...(result.discarded ? ['discard'] : []),
    ...(result.reject ? ['reject'] : []),
    ...(result.vacation ? ['vacation'] : []),
  ];
}
