// The configuration schema: every key Holdfast reads, its default, and the environment variable
// that overrides it. docs/configuration.md documents the same table for administrators.
import { hostname as machineHostname } from 'node:os';
import { z } from 'zod';
import { parseDuration } from './duration.ts';
import { parseSize } from './size.ts';
import {
  dnsServers,
  domainName,
  duration,
  durationList,
  ipAddress,
  ipRanges,
  isDomainName,
  nonEmptyText,
  oneOf,
  port,
  positiveInteger,
  setting,
  size,
  yesNo,
  networkList,
} from './setting.ts';

export const listenerNames = [
  'smtp',
  'submission',
  'submissions',
  'imap',
  'imaps',
  'pop3',
  'pop3s',
  'http',
  'https',
  'managesieve',
] as const;
export type ListenerName = (typeof listenerNames)[number];

export const defaultPorts: Record<ListenerName, number> = {
  smtp: 25,
  submission: 587,
  submissions: 465,
  imap: 143,
  imaps: 993,
  pop3: 110,
  pop3s: 995,
  http: 8080,
  https: 443,
  managesieve: 4190,
};

const databaseUrl = setting('an SQLite file path (or "sqlite:<path>"), or a "postgres://" URL', (raw) => {
  if (typeof raw !== 'string' || raw.trim() === '') return undefined;
  const value = raw.trim();
  if (/^postgres(ql)?:\/\//.test(value)) {
    try {
      new URL(value);
      return value;
    } catch {
      return undefined;
    }
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return undefined; // some other URL scheme
  return value;
});

/** [backup] schedule: "off", or how often a backup is taken (at least every minute is checked). */
const backupSchedule = setting('"off", or a duration of at least 1m such as "6h" or "1d"', (raw) => {
  if (typeof raw !== 'string') return undefined;
  if (raw.trim() === 'off') return 'off' as const;
  const ms = parseDuration(raw);
  return ms !== undefined && ms >= 60_000 ? ms : undefined;
});

const portsSchema = z.strictObject(
  Object.fromEntries(listenerNames.map((name) => [name, port.optional()])) as Record<
    ListenerName,
    z.ZodOptional<typeof port>
  >,
);

/** A setting's whole number as written (a number, or a string of digits); NaN for anything else. */
const wholeNumberOf = (raw: unknown) =>
  typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d+$/.test(raw.trim()) ? Number(raw) : NaN;

const wholeNumber = (allowed: string) =>
  setting(allowed, (raw) => {
    const value = wholeNumberOf(raw);
    return Number.isInteger(value) && value >= 0 ? value : undefined;
  });

/** A whole number from `min` to `max`, named in the error (after what it is, when `what` says). */
const integerFrom = (min: number, max: number, what?: string) =>
  setting(
    `${what ? `${what}, ` : ''}a whole number from ${min.toLocaleString('en')} to ${max.toLocaleString('en')}`,
    (raw) => {
      const value = wholeNumberOf(raw);
      return Number.isInteger(value) && value >= min && value <= max ? value : undefined;
    },
  );

/** A size from `min` to `max` bytes. */
const sizeFrom = (min: number, max: number, shown: string) =>
  setting(`a size from ${shown}`, (raw) => {
    const bytes = typeof raw === 'number' ? raw : typeof raw === 'string' ? parseSize(raw) : undefined;
    return typeof bytes === 'number' && bytes >= min && bytes <= max ? bytes : undefined;
  });

/** A duration from `min` to `max` milliseconds. */
const durationFrom = (min: number, max: number, shown: string) =>
  setting(`a duration from ${shown}`, (raw) => {
    const value = typeof raw === 'string' ? parseDuration(raw) : undefined;
    return value !== undefined && value >= min && value <= max ? value : undefined;
  });

const relayUrl = setting('an "smtp://[user:password@]host[:port]" or "smtps://…" URL', (raw) => {
  if (typeof raw !== 'string') return undefined;
  try {
    const url = new URL(raw);
    return (url.protocol === 'smtp:' || url.protocol === 'smtps:') && url.hostname ? url : undefined;
  } catch {
    return undefined;
  }
});

const relayDomains = setting('a list of domains, or ["*"] for every domain that is not local', (raw) => {
  if (
    !Array.isArray(raw) ||
    raw.length === 0 ||
    !raw.every((d) => typeof d === 'string' && (d === '*' || /^[a-z0-9.-]+$/i.test(d)))
  )
    return undefined;
  return raw.map((d: string) => d.toLowerCase());
});

/** [continuity.upstream.sent] url: where users' sent items are appended; user:password@ is a master user. */
const imapUrl = setting('an "imaps://[user:password@]host[:port]" or "imap://…" URL (imap:// uses STARTTLS)', (raw) => {
  if (typeof raw !== 'string') return undefined;
  try {
    const url = new URL(raw);
    return (url.protocol === 'imap:' || url.protocol === 'imaps:') && url.hostname ? url : undefined;
  } catch {
    return undefined;
  }
});

/** [[continuity.upstream]] domains: each a domain name; "*" is not allowed (an upstream serves named domains). */
const continuityDomains = setting('a list of domain names such as ["contoso.com"] ("*" is not allowed here)', (raw) => {
  if (
    !Array.isArray(raw) ||
    raw.length === 0 ||
    !raw.every((d) => typeof d === 'string' && isDomainName(d.trim().toLowerCase().replace(/\.$/, '')))
  )
    return undefined;
  return raw.map((d: string) => d.trim().toLowerCase().replace(/\.$/, ''));
});

const emailAddress = setting('an email address such as ops@example.net', (raw) =>
  typeof raw === 'string' && /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(raw.trim()) ? raw.trim().toLowerCase() : undefined,
);

const addressList = setting('a list of email addresses such as ["ops@example.net"]', (raw) => {
  if (!Array.isArray(raw) || !raw.every((a) => typeof a === 'string' && /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(a.trim())))
    return undefined;
  return raw.map((a: string) => a.trim().toLowerCase());
});

const webhookUrl = setting('an "http://" or "https://" URL', (raw) => {
  if (typeof raw !== 'string') return undefined;
  try {
    const url = new URL(raw);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : undefined;
  } catch {
    return undefined;
  }
});

/** [filtering] rspamd_url / rspamd_controller_url: rspamd's worker or controller, over HTTP. */
const rspamdUrl = setting('an "http://host:port" URL such as "http://127.0.0.1:11333"', (raw) => {
  if (typeof raw !== 'string') return undefined;
  try {
    const url = new URL(raw.trim());
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname ? url : undefined;
  } catch {
    return undefined;
  }
});

/** [filtering] clamd: clamd's TCP address ("host:port") or its local socket (an absolute path). */
const clamdAddress = setting(
  'clamd\'s address: "host:port" such as "127.0.0.1:3310", or the path of its socket such as "/run/clamav/clamd.ctl"',
  (raw): ClamdAddress | undefined => {
    const value = typeof raw === 'string' ? raw.trim() : '';
    if (value.startsWith('/')) return { path: value };
    const match = /^(\[[^\]]+\]|[^:\s]+):(\d{1,5})$/.exec(value);
    const port = match ? Number(match[2]) : NaN;
    return match && port > 0 && port < 65536 ? { host: match[1]!.replace(/^\[|\]$/g, ''), port } : undefined;
  },
);

/** [filtering] fuzzy_flag: the flag of rspamd's local fuzzy rule (rspamd's fuzzy commands carry it in a byte). */
const fuzzyFlag = integerFrom(1, 255, "the flag of the local fuzzy rule's fuzzy_map in rspamd");
/** [filtering] fuzzy_weight: what one report adds to a fuzzy hash's weight in rspamd's storage. */
const fuzzyWeight = integerFrom(1, 1000, 'the weight one report adds to a fuzzy hash');

/** A spam score threshold: a number such as 15 or 12.5. */
const spamScore = setting('a spam score such as 15 or 12.5', (raw) => {
  const value = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
  return Number.isFinite(value) ? value : undefined;
});

export const fileSchema = z.strictObject({
  data_dir: nonEmptyText('a directory path').optional(),
  database_url: databaseUrl.optional(),
  hostname: domainName('a host name such as mail.example.com').optional(),
  domain: domainName('a domain name such as example.com').optional(),
  admin_password: nonEmptyText('a password').optional(),
  bind: ipAddress.optional(),
  shutdown_grace: duration.optional(),
  ports: portsSchema.optional(),
  tls: z
    .strictObject({ cert: nonEmptyText('a file path').optional(), key: nonEmptyText('a file path').optional() })
    .optional(),
  dns_servers: dnsServers.optional(),
  smtp: z
    .strictObject({
      max_message_size: size.optional(),
      max_recipients: positiveInteger().optional(),
      max_connections_per_ip: positiveInteger().optional(),
      max_received_headers: positiveInteger().optional(),
      greeting_delay: duration.optional(),
      max_header_size: size.optional(),
      trusted_relays: ipRanges.optional(),
    })
    .optional(),
  imap: z
    .strictObject({
      append_limit: size.optional(),
      plaintext_login: yesNo.optional(),
      idle_timeout: duration.optional(),
      login_timeout: duration.optional(),
      max_connections_per_user: positiveInteger().optional(),
    })
    .optional(),
  http: z.strictObject({ plaintext_login: yesNo.optional(), trusted_proxies: networkList.optional() }).optional(),
  caldav: z
    .strictObject({ max_resource_size: size.optional(), max_attendees: positiveInteger().optional() })
    .optional(),
  limits: z
    .strictObject({
      messages_per_minute: positiveInteger().optional(),
      recipients_per_day: positiveInteger().optional(),
      auth_failures: positiveInteger().optional(),
    })
    .optional(),
  auth: z
    .strictObject({
      cache_size: wholeNumber('a number of remembered sign-ins, 0 or more (0 turns the cache off)').optional(),
      cache_ttl: duration.optional(),
      kdf_concurrency: positiveInteger('a number of password hashes computed at once, 1 or more').optional(),
      kdf_queue: positiveInteger('a number of sign-ins that may wait for a password check, 1 or more').optional(),
    })
    .optional(),
  // Per tenant (by name), what its senders may do, overriding [limits] and smtp.max_recipients.
  tenant_limits: z
    .record(
      z.string(),
      z.strictObject({
        messages_per_minute: positiveInteger().optional(),
        recipients_per_day: positiveInteger().optional(),
        max_recipients: positiveInteger().optional(),
        max_message_size: size.optional(),
      }),
    )
    .optional(),
  queue: z
    .strictObject({
      retry: durationList.optional(),
      delay_notice: duration.optional(),
      expire: duration.optional(),
      keep_finished: duration.optional(),
      max_active: positiveInteger().optional(),
      lease: duration.optional(),
      poll_interval: duration.optional(),
      high_watermark: positiveInteger('a number of queued recipients greater than 0').optional(),
      low_watermark: positiveInteger('a number of queued recipients greater than 0').optional(),
      min_free_disk: size.optional(),
      remote_port: port.optional(),
    })
    .optional(),
  relay: z.array(z.strictObject({ domains: relayDomains, url: relayUrl })).optional(),
  continuity: z
    .strictObject({
      activate_after: duration.optional(),
      probe_interval: duration.optional(),
      probe_timeout: duration.optional(),
      retain: duration.optional(),
      upstream: z
        .array(
          z.strictObject({
            name: nonEmptyText('a short name for the upstream, such as "exchange-online"').optional(),
            domains: continuityDomains,
            url: relayUrl,
            probe_recipient: emailAddress.optional(),
            sent: z
              .strictObject({
                url: imapUrl,
                credentials: nonEmptyText('a file path').optional(),
                folder: nonEmptyText('a folder name such as "Sent Items"').optional(),
                tls_verify: yesNo.optional(),
              })
              .optional(),
          }),
        )
        .optional(),
    })
    .optional(),
  backup: z
    .strictObject({
      schedule: backupSchedule.optional(),
      keep: positiveInteger('a number of backups to keep, 1 or more').optional(),
      to: nonEmptyText('a directory path').optional(),
      verify: yesNo.optional(),
    })
    .optional(),
  cluster: z
    .strictObject({
      heartbeat: duration.optional(),
      lease: duration.optional(),
    })
    .superRefine((section, ctx) => {
      const { heartbeatMs, leaseMs } = clusterSettings(section);
      if (heartbeatMs < 100)
        ctx.addIssue({ code: 'custom', path: ['heartbeat'], message: 'a duration of at least 100ms' });
      // A holder renews its leases at each heartbeat: three chances before one runs out, so a slow
      // round, a busy database or some clock skew between nodes never hands a lease to a second node.
      else if (leaseMs < 3 * heartbeatMs)
        ctx.addIssue({
          code: 'custom',
          path: ['lease'],
          message: `a duration at least 3 times cluster.heartbeat (${heartbeatMs}ms), that is at least ${3 * heartbeatMs}ms`,
        });
    })
    .optional(),
  health: z
    .strictObject({
      enabled: yesNo.optional(),
      probe_interval: duration.optional(),
      open_after: duration.optional(),
      resolve_after: duration.optional(),
      probe_timeout: duration.optional(),
      store_latency: duration.optional(),
      queue_age: duration.optional(),
      destination_deferred: positiveInteger('a number of deferred recipients greater than 0').optional(),
      destination_failures: positiveInteger('a number of refused recipients greater than 0').optional(),
      region: nonEmptyText('a region name such as "eu-west"').optional(),
      alert_to: addressList.optional(),
      alert_from: emailAddress.optional(),
      alert_relay: relayUrl.optional(),
      webhook: z
        .array(z.strictObject({ url: webhookUrl, secret: nonEmptyText('a shared secret for the HMAC signature') }))
        .optional(),
    })
    .optional(),
  filtering: z
    .strictObject({
      rspamd_url: rspamdUrl.optional(),
      rspamd_controller_url: rspamdUrl.optional(),
      rspamd_password: nonEmptyText("the password of rspamd's controller").optional(),
      fuzzy_flag: fuzzyFlag.optional(),
      fuzzy_weight: fuzzyWeight.optional(),
      clamd: clamdAddress.optional(),
      on_failure: oneOf(['fail_open', 'fail_closed'] as const).optional(),
      timeout: duration.optional(),
      max_scan_size: size.optional(),
      quarantine_score: spamScore.optional(),
      malware: oneOf(['reject', 'quarantine'] as const).optional(),
      scan_submission: yesNo.optional(),
      outbound_spam_limit: positiveInteger('a number of spam messages within an hour, 1 or more').optional(),
      quarantine_digest: yesNo.optional(),
      quarantine_retention: duration.optional(),
      tenant: z.record(z.string(), z.strictObject({ quarantine_score: spamScore.optional() })).optional(),
    })
    .optional(),
  // The bounds of Sieve scripts (src/sieve/, docs/rules.md "Limits").
  sieve: z
    .strictObject({
      max_script_size: sizeFrom(1024, 1024 * 1024, '1KiB to 1MiB').optional(),
      max_tokens: integerFrom(100, 1_000_000).optional(),
      max_commands: integerFrom(10, 100_000).optional(),
      max_nesting: integerFrom(4, 64).optional(),
      max_list_length: integerFrom(16, 65_536).optional(),
      max_work: durationFrom(1, 10_000, '1ms to 10s').optional(),
      max_run_time: durationFrom(10, 10_000, '10ms to 10s').optional(),
      max_redirects: integerFrom(0, 64).optional(),
      max_actions: integerFrom(1, 1024).optional(),
      max_variables: integerFrom(8, 4096).optional(),
      max_variable_length: integerFrom(64, 1024 * 1024).optional(),
      max_include_depth: integerFrom(1, 32).optional(),
    })
    .optional(),
  log: z
    .strictObject({
      level: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const).optional(),
      format: oneOf(['auto', 'json', 'pretty'] as const).optional(),
    })
    .optional(),
});

export type FileConfig = z.infer<typeof fileSchema>;

/** Environment variables and the configuration key each one overrides. */
export const environmentKeys: Record<string, string> = {
  HOLDFAST_DATA_DIR: 'data_dir',
  HOLDFAST_DATABASE_URL: 'database_url',
  HOLDFAST_HOSTNAME: 'hostname',
  HOLDFAST_DOMAIN: 'domain',
  HOLDFAST_ADMIN_PASSWORD: 'admin_password',
  HOLDFAST_BIND: 'bind',
  HOLDFAST_SHUTDOWN_GRACE: 'shutdown_grace',
  HOLDFAST_SMTP_PORT: 'ports.smtp',
  HOLDFAST_SUBMISSION_PORT: 'ports.submission',
  HOLDFAST_SUBMISSIONS_PORT: 'ports.submissions',
  HOLDFAST_IMAP_PORT: 'ports.imap',
  HOLDFAST_IMAPS_PORT: 'ports.imaps',
  HOLDFAST_POP3_PORT: 'ports.pop3',
  HOLDFAST_POP3S_PORT: 'ports.pop3s',
  HOLDFAST_HTTP_PORT: 'ports.http',
  HOLDFAST_HTTPS_PORT: 'ports.https',
  HOLDFAST_MANAGESIEVE_PORT: 'ports.managesieve',
  HOLDFAST_TLS_CERT: 'tls.cert',
  HOLDFAST_TLS_KEY: 'tls.key',
  HOLDFAST_DNS_SERVERS: 'dns_servers',
  HOLDFAST_HEALTH: 'health.enabled',
  HOLDFAST_BACKUP_SCHEDULE: 'backup.schedule',
  HOLDFAST_LOG_LEVEL: 'log.level',
  HOLDFAST_LOG_FORMAT: 'log.format',
};

export interface SenderLimits {
  messagesPerMinute: number;
  recipientsPerDay: number;
  maxRecipients: number;
  /** Largest message the tenant's users may send, and its mailboxes receive. */
  maxMessageSize: number;
}

export interface Config {
  /** The TOML file that was read, if any. */
  configFile?: string;
  dataDir: string;
  database: { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };
  hostname: string;
  domain: string;
  adminPassword?: string;
  bind: string;
  ports: Record<ListenerName, number | 'off'>;
  tls: { cert?: string; key?: string };
  log: { level: string; format: 'auto' | 'json' | 'pretty' };
  shutdownGraceMs: number;
  /** DNS servers for MX lookups and SPF/DKIM/DMARC; undefined = the system's resolvers. */
  dnsServers?: string[];
  smtp: {
    maxMessageSize: number;
    maxRecipients: number;
    maxConnectionsPerIp: number;
    maxReceivedHeaders: number;
    greetingDelayMs: number;
    /** Largest header section accepted: every header field is checked, so none may lie beyond what is read. */
    maxHeaderSize: number;
    /** Servers (IP addresses and CIDR ranges) that may pass on mail claiming a hosted domain without SPF or DKIM for it. */
    trustedRelays: string[];
  };
  limits: { messagesPerMinute: number; recipientsPerDay: number; authFailures: number };
  auth: AuthSettings;
  /** Limits of some tenants (by tenant name), overriding `limits`, `smtp.maxRecipients` and `smtp.maxMessageSize`. */
  tenantLimits: Record<string, SenderLimits>;
  imap: {
    /** Largest message APPEND accepts (advertised as APPENDLIMIT). */
    appendLimit: number;
    /** Allow LOGIN/AUTHENTICATE before TLS on port 143 (off: LOGINDISABLED until STARTTLS). */
    plaintextLogin: boolean;
    /** An authenticated session silent this long is closed (RFC 9051: at least 30 minutes). */
    idleTimeoutMs: number;
    /** A session that has not logged in within this time is closed. */
    loginTimeoutMs: number;
    /** Sessions one user may have open at once, over all their devices. */
    maxConnectionsPerUser: number;
  };
  http: {
    /** Accept passwords over plain HTTP from other hosts (behind a TLS-terminating proxy). Loopback always may. */
    plaintextLogin: boolean;
    /**
     * Proxies whose X-Forwarded-For and X-Forwarded-Proto are believed: behind them the client's own
     * address is what sign-in throttling and the loopback rules see. Empty: the headers are ignored.
     */
    trustedProxies: string[];
  };
  caldav: {
    /** Largest calendar object a client may store (advertised as max-resource-size). */
    maxResourceSize: number;
    /** Attendees one calendar object may have (RFC 4791 max-attendees-per-instance). */
    maxAttendees: number;
  };
  queue: {
    retryMs: number[];
    delayNoticeMs: number;
    expireMs: number;
    /** How long delivered and failed mail stays in the queue tables (for trace), then is deleted. */
    keepFinishedMs: number;
    maxActive: number;
    leaseMs: number;
    pollIntervalMs: number;
    highWatermark: number;
    lowWatermark: number;
    minFreeDiskBytes: number;
    /** Port of remote MX hosts: 25, except in tests or port-redirecting setups. */
    remotePort: number;
  };
  relays: RelayRoute[];
  continuity: ContinuitySettings;
  health: HealthSettings;
  cluster: ClusterSettings;
  backup: BackupSettings;
  filtering: FilteringSettings;
  sieve: SieveSettings;
}

/**
 * [sieve]: the bounds of Sieve scripts, as sieve/ takes them: `compile` is its CompileLimits (size and
 * shape of a script, checked when it is saved and when it runs), `run` its SieveLimits (one message's run).
 */
export interface SieveSettings {
  compile: { maxScriptBytes: number; maxTokens: number; maxNodes: number; maxNesting: number; maxListLength: number };
  run: {
    /** Estimated microseconds of comparing (sieve/match.ts matchCost). */
    maxSteps: number;
    maxMillis: number;
    maxRedirects: number;
    maxActions: number;
    maxVariables: number;
    maxVariableLength: number;
    maxIncludeDepth: number;
  };
}

export function sieveSettings(section: FileConfig['sieve']): SieveSettings {
  return {
    compile: {
      maxScriptBytes: section?.max_script_size ?? 256 * 1024,
      maxTokens: section?.max_tokens ?? 50_000,
      maxNodes: section?.max_commands ?? 10_000,
      maxNesting: section?.max_nesting ?? 24,
      maxListLength: section?.max_list_length ?? 1024,
    },
    run: {
      maxSteps: (section?.max_work ?? 50) * 1000,
      maxMillis: section?.max_run_time ?? 100,
      maxRedirects: section?.max_redirects ?? 4,
      maxActions: section?.max_actions ?? 32,
      maxVariables: section?.max_variables ?? 256,
      maxVariableLength: section?.max_variable_length ?? 4096,
      maxIncludeDepth: section?.max_include_depth ?? 8,
    },
  };
}

/**
 * [continuity]: domains whose mail Holdfast relays to an upstream provider (Exchange Online, any SMTP
 * server) and takes over when that provider fails (docs/continuity.md). Each upstream is also a
 * relay route for its domains (load.ts puts it first in `relays`), so the queue delivers to it.
 */
export interface ContinuitySettings {
  /** The upstream must keep failing this long (no success between) before an event starts by itself. */
  activateAfterMs: number;
  /** How often each upstream is probed (and events are looked after). */
  probeIntervalMs: number;
  /** How long one probe may take before it counts as a failure (a timeout). */
  probeTimeoutMs: number;
  /** How long the copies an event delivered into mailboxes are kept after it ends. */
  retainMs: number;
  upstreams: ContinuityUpstream[];
}

export interface ContinuityUpstream {
  /** Names the upstream in events, status and metrics. */
  name: string;
  /** Lower-case domain names whose mail goes to this upstream. */
  domains: string[];
  url: URL;
  /** The address the probe asks RCPT for (the probe never sends a message). */
  probeRecipient: string;
  /** Where what users send during an event is appended on recovery (continuity/sent-replay.ts); absent: nowhere. */
  sent?: UpstreamSentFolder;
}

/** [continuity.upstream.sent]: the upstream's IMAP server and how Holdfast signs in there as each user. */
export interface UpstreamSentFolder {
  /** imaps:// or imap:// (STARTTLS); a user:password in it is a master user (SASL PLAIN with the user as authzid). */
  url: URL;
  /** A file of "address,password" (or "address,login,password") lines, instead of a master user. */
  credentialsFile?: string;
  /** The upstream folder; default: the one marked \Sent, else "Sent". */
  folder?: string;
  /** Whether the server's certificate is checked (default yes). */
  tlsVerify: boolean;
}

/** [backup]: backups taken by the server itself (backup/backup-schedule.ts). */
export interface BackupSettings {
  /** How often; undefined when scheduled backups are off (the default). */
  everyMs?: number;
  /** Complete backups kept in `to`; older ones are expired after each new one. */
  keep: number;
  /** Where they go (an absolute path). */
  to: string;
  /** Verify each backup (a scratch restore) before counting it as good. */
  verify: boolean;
}

/** [cluster]: how often a node says it is alive and renews its singleton leases, and how long a lease lasts. */
export interface ClusterSettings {
  heartbeatMs: number;
  /** A singleton job's lease: another node takes the job over this long after its holder went silent. */
  leaseMs: number;
}

export function clusterSettings(section: { heartbeat?: number; lease?: number } | undefined): ClusterSettings {
  // A node that dies hands its singleton jobs over within a lease plus a heartbeat: 12 s by default.
  const heartbeatMs = section?.heartbeat ?? 2000;
  return { heartbeatMs, leaseMs: section?.lease ?? 5 * heartbeatMs };
}

export interface HealthSettings {
  /** Run the synthetic probes and open issues automatically. */
  enabled: boolean;
  probeIntervalMs: number;
  /** A check must fail this long, without a healthy result between, before an issue opens. */
  openAfterMs: number;
  /** An issue resolves after its check has been healthy this long. */
  resolveAfterMs: number;
  /** How long a probe message may take from submission to the probe mailbox. */
  probeTimeoutMs: number;
  /** A store write and read slower than this is degraded. */
  storeLatencyMs: number;
  /** Mail waiting longer than this makes the queue degraded. */
  queueAgeMs: number;
  /** Recipients deferred at one destination before it counts as a delivery problem. */
  destinationDeferred: number;
  /** Recipients refused (5xx) by one destination within an hour, more than it accepted, before it counts as a problem. */
  destinationFailures: number;
  region: string;
  alertTo: string[];
  alertFrom: string;
  /** Smart host for alert mail; without it, alerts go straight to the recipients' MX. */
  alertRelay?: URL;
  webhooks: { url: URL; secret: string }[];
}

/**
 * [auth]: the cache of verified sign-ins (directory/credential-cache.ts) and the queue of password
 * hashing (directory/kdf-queue.ts). A key left out is undefined: those modules' defaults apply
 * (10000 sign-ins for an hour; one hash fewer at once than libuv has threads, at most the cores; 500 waiting).
 */
export interface AuthSettings {
  /** Verified sign-ins remembered; 0 turns the cache off. */
  cacheSize?: number;
  cacheTtlMs?: number;
  /** Password hashes computed at once. */
  kdfConcurrency?: number;
  /** Sign-ins that may wait for a password check; the next one gets a temporary failure. */
  kdfQueue?: number;
}

export function authSettings(section: NonNullable<FileConfig['auth']> | undefined): AuthSettings {
  return {
    cacheSize: section?.cache_size,
    cacheTtlMs: section?.cache_ttl,
    kdfConcurrency: section?.kdf_concurrency,
    kdfQueue: section?.kdf_queue,
  };
}

export type ClamdAddress = { host: string; port: number } | { path: string };

/** [filtering]: spam and malware scanning at intake (src/filtering/, docs/filtering.md). */
export interface FilteringSettings {
  /** rspamd's normal worker (/checkv2); undefined: no spam scanning. */
  rspamdUrl?: URL;
  /** rspamd's controller (learn_spam, learn_ham); undefined: moves into and out of Junk teach nothing. */
  rspamdControllerUrl?: URL;
  rspamdPassword?: string;
  /**
   * The flag of rspamd's local fuzzy rule: moves into Junk also add the message's fuzzy hashes under
   * it, moves out of Junk delete them; undefined: Bayes only.
   */
  fuzzyFlag?: number;
  /** What one move into Junk adds to the hashes' weight (reports of the same spam add up). */
  fuzzyWeight: number;
  /** clamd (INSTREAM); undefined: no malware scanning. */
  clamd?: ClamdAddress;
  /** A scanner that cannot answer: accept unscanned (marked, and a health problem), or 451 4.7.1. */
  onFailure: 'fail_open' | 'fail_closed';
  /** How long one scan may take before it counts as a failure. */
  timeoutMs: number;
  /** Larger messages are not scanned (marked "not scanned"): what a scanner is sent is bounded. */
  maxScanSize: number;
  /** Spam at or above this score is quarantined instead of delivered to Junk; undefined: never by score. */
  quarantineScore?: number;
  /** Per tenant (by name): its own quarantine_score. */
  tenantQuarantineScore: Record<string, number>;
  /** Malware: refused (554 5.7.1) or held in quarantine. */
  malware: 'reject' | 'quarantine';
  /** Scan authenticated submission too (outbound spam and malware). */
  scanSubmission: boolean;
  /** Spam messages a user may submit within an hour before their sending is paused. */
  outboundSpamLimit: number;
  /** Mail each user with held messages a digest of them, at most daily. */
  quarantineDigest: boolean;
  /** How long quarantined messages are kept. */
  quarantineRetentionMs: number;
}

export function filteringSettings(section: FileConfig['filtering']): FilteringSettings {
  return {
    rspamdUrl: section?.rspamd_url,
    rspamdControllerUrl: section?.rspamd_controller_url,
    rspamdPassword: section?.rspamd_password,
    fuzzyFlag: section?.fuzzy_flag,
    fuzzyWeight: section?.fuzzy_weight ?? 5,
    clamd: section?.clamd,
    onFailure: section?.on_failure ?? 'fail_open',
    timeoutMs: section?.timeout ?? 20_000,
    maxScanSize: section?.max_scan_size ?? 20_000_000,
    quarantineScore: section?.quarantine_score,
    tenantQuarantineScore: Object.fromEntries(
      Object.entries(section?.tenant ?? {}).flatMap(([name, t]) =>
        t.quarantine_score === undefined ? [] : [[name.toLowerCase(), t.quarantine_score]],
      ),
    ),
    malware: section?.malware ?? 'reject',
    scanSubmission: section?.scan_submission ?? true,
    outboundSpamLimit: section?.outbound_spam_limit ?? 3,
    quarantineDigest: section?.quarantine_digest ?? true,
    quarantineRetentionMs: section?.quarantine_retention ?? 30 * 86_400_000,
  };
}

export interface RelayRoute {
  /** Lower-case domains, or "*" for every non-local domain. */
  domains: string[];
  url: URL;
}

export function defaultHostname(): string {
  return machineHostname().toLowerCase();
}
