// Loads configuration: the optional TOML file, then environment variables over it, validated as one.
// Every error names the key (as the administrator wrote it: file key or variable), the value and what
// is allowed, because a server that will not start must say exactly why.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import type { z } from 'zod';
import { invalid } from '../errors.ts';
import { parseDuration } from './duration.ts';
import {
  authSettings,
  clusterSettings,
  filteringSettings,
  sieveSettings,
  defaultHostname,
  defaultPorts,
  environmentKeys,
  fileSchema,
  listenerNames,
  type Config,
  type FileConfig,
} from './schema.ts';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;
type Raw = Record<string, unknown>;

export interface LoadOptions {
  env?: Env;
  cwd?: string;
  /** The system-wide file (tests point it elsewhere). */
  systemConfigFile?: string;
}

export const systemConfigFile = '/etc/holdfast/holdfast.toml';

/**
 * Where the configuration file is looked for, in this order; the first that exists is read. With
 * HOLDFAST_CONFIG set only that file counts (and it must exist). The same order everywhere, so a
 * command run from another directory finds the server's file instead of starting from defaults.
 */
export function configFileCandidates(env: Env, cwd: string, systemFile = systemConfigFile): string[] {
  if (env.HOLDFAST_CONFIG) return [resolve(cwd, env.HOLDFAST_CONFIG)];
  return [resolve(cwd, 'holdfast.toml'), systemFile];
}

export function loadConfig(options: LoadOptions = {}): Config {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const { raw, file } = readConfigFile(env, cwd, options.systemConfigFile);
  const sources = new Map<string, string>();

  for (const [variable, key] of Object.entries(environmentKeys)) {
    const value = env[variable];
    if (value === undefined || value === '') continue;
    setPath(raw, key, value, file);
    sources.set(key, variable);
  }

  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) throw describeIssue(parsed.error.issues[0]!, raw, sources, file);
  const values = parsed.data;

  const dataDir = resolve(cwd, values.data_dir ?? './data');
  const hostname = values.hostname ?? defaultHostname();
  // A first-run domain needs a dot to be a mail domain; a bare machine name ("vm") gets ".localdomain".
  const domain = values.domain ?? (hostname.includes('.') ? hostname : `${hostname}.localdomain`);
  if (!domain.includes('.')) {
    throw new ConfigError(
      `${sources.get('domain') ?? `${file}: domain`} = "${domain}" is not allowed: expected a domain name with a dot, such as example.com`,
    );
  }

  const tls = { cert: values.tls?.cert, key: values.tls?.key };
  checkTlsPair(tls, sources, file, cwd);
  const ports = Object.fromEntries(
    listenerNames.map((name) => [name, values.ports?.[name] ?? defaultPorts[name]]),
  ) as Config['ports'];
  checkDistinctPorts(ports, new Set(Object.keys(values.ports ?? {})), sources, file);

  const smtp = {
    maxMessageSize: values.smtp?.max_message_size ?? 50_000_000,
    maxRecipients: values.smtp?.max_recipients ?? 500,
    maxConnectionsPerIp: values.smtp?.max_connections_per_ip ?? 20,
    maxReceivedHeaders: values.smtp?.max_received_headers ?? 20,
    greetingDelayMs: values.smtp?.greeting_delay ?? 0,
    // Exchange's receive connectors default to the same MaxHeaderSize.
    maxHeaderSize: values.smtp?.max_header_size ?? 256 * 1024,
    trustedRelays: values.smtp?.trusted_relays ?? [],
  };
  const limits = {
    messagesPerMinute: values.limits?.messages_per_minute ?? 30,
    recipientsPerDay: values.limits?.recipients_per_day ?? 10_000,
    authFailures: values.limits?.auth_failures ?? 5,
  };
  const continuity = continuitySettings(values.continuity, values.relay ?? [], file);
  return {
    configFile: file,
    dataDir,
    database: resolveDatabase(values.database_url, dataDir, cwd),
    hostname,
    domain,
    adminPassword: values.admin_password,
    bind: values.bind ?? '0.0.0.0',
    ports,
    tls: { cert: tls.cert && resolve(cwd, tls.cert), key: tls.key && resolve(cwd, tls.key) },
    log: { level: values.log?.level ?? 'info', format: values.log?.format ?? 'auto' },
    shutdownGraceMs: values.shutdown_grace ?? 10_000,
    dnsServers: values.dns_servers,
    smtp,
    limits,
    auth: authSettings(values.auth),
    imap: {
      appendLimit: values.imap?.append_limit ?? values.smtp?.max_message_size ?? 50_000_000,
      plaintextLogin: values.imap?.plaintext_login ?? false,
      idleTimeoutMs: values.imap?.idle_timeout ?? 30 * 60_000,
      loginTimeoutMs: values.imap?.login_timeout ?? 60_000,
      maxConnectionsPerUser: values.imap?.max_connections_per_user ?? 50,
    },
    http: { plaintextLogin: values.http?.plaintext_login ?? false, trustedProxies: values.http?.trusted_proxies ?? [] },
    caldav: {
      maxResourceSize: values.caldav?.max_resource_size ?? 10_000_000,
      maxAttendees: values.caldav?.max_attendees ?? defaultMaxAttendees,
    },
    queue: queueSettings(values.queue, file),
    // A continuity upstream is the relay route of its domains; listed first, so it is the one used.
    relays: [...continuity.upstreams.map((u) => ({ domains: u.domains, url: u.url })), ...(values.relay ?? [])],
    continuity,
    health: healthSettings(values.health, hostname),
    cluster: clusterSettings(values.cluster),
    filtering: filteringSettings(values.filtering),
    sieve: sieveSettings(values.sieve),
    backup: {
      everyMs: values.backup?.schedule === 'off' ? undefined : values.backup?.schedule,
      keep: values.backup?.keep ?? 7,
      to: resolve(cwd, values.backup?.to ?? defaultBackupDir(dataDir)),
      verify: values.backup?.verify ?? true,
    },
    tenantLimits: Object.fromEntries(
      Object.entries({ ...probeTenantLimits, ...values.tenant_limits }).map(([tenant, l]) => [
        tenant.toLowerCase(),
        {
          messagesPerMinute: l.messages_per_minute ?? limits.messagesPerMinute,
          recipientsPerDay: l.recipients_per_day ?? limits.recipientsPerDay,
          maxRecipients: l.max_recipients ?? smtp.maxRecipients,
          maxMessageSize: Math.min(l.max_message_size ?? smtp.maxMessageSize, smtp.maxMessageSize),
        },
      ]),
    ),
  };
}

// Exchange Online allows 500 attendees per meeting, as many as recipients per message; each outside
// attendee is one recipient of the invitation and counts against the organizer's sending limits.
const defaultMaxAttendees = 500;

function queueSettings(queue: FileConfig['queue'], file: string | undefined): Config['queue'] {
  const highWatermark = queue?.high_watermark ?? 100_000;
  const lowWatermark = queue?.low_watermark ?? Math.floor(highWatermark * 0.8);
  if (lowWatermark >= highWatermark) {
    throw new ConfigError(
      `${file ?? 'configuration'}: queue.low_watermark = ${lowWatermark} is not allowed: expected a number below queue.high_watermark (${highWatermark})`,
    );
  }
  return {
    retryMs: queue?.retry ?? ['1m', '5m', '15m', '30m', '1h', '2h', '4h'].map((d) => parseDuration(d)!),
    delayNoticeMs: queue?.delay_notice ?? parseDuration('4h')!,
    expireMs: queue?.expire ?? parseDuration('2d')!,
    keepFinishedMs: queue?.keep_finished ?? parseDuration('30d')!,
    maxActive: queue?.max_active ?? 200,
    leaseMs: queue?.lease ?? parseDuration('2m')!,
    pollIntervalMs: queue?.poll_interval ?? 1000,
    highWatermark,
    lowWatermark,
    minFreeDiskBytes: queue?.min_free_disk ?? 1_000_000_000,
    remotePort: typeof queue?.remote_port === 'number' ? queue.remote_port : 25,
  };
}

/**
 * [continuity]: each domain belongs to one upstream, each upstream has its own name, and a domain of
 * an upstream is not also a [[relay]] domain (which route would its mail take?).
 */
function continuitySettings(
  section: FileConfig['continuity'],
  relays: NonNullable<FileConfig['relay']>,
  file: string | undefined,
): Config['continuity'] {
  const where = file ?? 'configuration';
  const probeIntervalMs = section?.probe_interval ?? 60_000;
  const owners = new Map<string, number>();
  const names = new Map<string, number>();
  const upstreams = (section?.upstream ?? []).map((u, i) => {
    const key = `continuity.upstream[${i}]`;
    for (const domain of u.domains) {
      const other = owners.get(domain);
      if (other !== undefined)
        throw new ConfigError(
          `${where}: ${key}.domains = ${JSON.stringify(u.domains)} is not allowed: ${domain} is already a domain of continuity.upstream[${other}]; a domain has one upstream`,
        );
      owners.set(domain, i);
      const relay = relays.findIndex((r) => r.domains.includes(domain));
      if (relay >= 0)
        throw new ConfigError(
          `${where}: ${key}.domains = ${JSON.stringify(u.domains)} is not allowed: ${domain} is also in relay[${relay}].domains; a continuity domain's mail goes to its upstream, so remove it from one of them`,
        );
    }
    const name = u.name ?? u.url.host;
    if (names.has(name))
      throw new ConfigError(
        `${where}: ${key}.name = "${name}" is not allowed: continuity.upstream[${names.get(name)}] has that name already; give each upstream its own`,
      );
    names.set(name, i);
    const sent = u.sent && {
      url: u.sent.url,
      credentialsFile: u.sent.credentials,
      folder: u.sent.folder,
      tlsVerify: u.sent.tls_verify ?? true,
    };
    if (sent && (sent.url.username !== '') === (sent.credentialsFile !== undefined))
      throw new ConfigError(
        `${where}: ${key}.sent is not allowed as given: sign in either as a master user (user:password@ in sent.url) or with per-user sent.credentials, one of the two`,
      );
    return {
      name,
      domains: u.domains,
      url: u.url,
      probeRecipient: u.probe_recipient ?? `postmaster@${u.domains[0]}`,
      ...(sent ? { sent } : {}),
    };
  });
  return {
    activateAfterMs: section?.activate_after ?? 10 * 60_000,
    probeIntervalMs,
    probeTimeoutMs: section?.probe_timeout ?? Math.min(30_000, probeIntervalMs),
    retainMs: section?.retain ?? parseDuration('30d')!,
    upstreams,
  };
}

// The service-health probe sends one message per node and probe interval, however short the interval
// is set: the sender limits of users do not apply to it.
export const probeTenantLimits: NonNullable<FileConfig['tenant_limits']> = {
  'holdfast-probe': { messages_per_minute: 100_000, recipients_per_day: 100_000_000 },
};

function healthSettings(health: FileConfig['health'], hostname: string): Config['health'] {
  const probeIntervalMs = health?.probe_interval ?? 60_000;
  return {
    enabled: health?.enabled ?? true,
    probeIntervalMs,
    openAfterMs: health?.open_after ?? 2 * 60_000,
    resolveAfterMs: health?.resolve_after ?? 10 * 60_000,
    probeTimeoutMs: health?.probe_timeout ?? Math.min(30_000, probeIntervalMs),
    storeLatencyMs: health?.store_latency ?? 1000,
    queueAgeMs: health?.queue_age ?? 60 * 60_000,
    destinationDeferred: health?.destination_deferred ?? 5,
    destinationFailures: health?.destination_failures ?? 5,
    region: health?.region ?? 'default',
    alertTo: health?.alert_to ?? [],
    alertFrom: health?.alert_from ?? `holdfast@${hostname}`,
    alertRelay: health?.alert_relay,
    webhooks: health?.webhook ?? [],
  };
}

function readConfigFile(env: Env, cwd: string, systemFile?: string): { raw: Raw; file?: string } {
  const file = configFileCandidates(env, cwd, systemFile).find((candidate) => existsSync(candidate));
  if (!file) {
    if (env.HOLDFAST_CONFIG) throw new ConfigError(`HOLDFAST_CONFIG = "${env.HOLDFAST_CONFIG}": no such file`);
    return { raw: {} };
  }
  try {
    return { raw: parseToml(readFileSync(file, 'utf8')) as Raw, file };
  } catch (error) {
    const reason = (error as Error).message.split('\n')[0];
    throw new ConfigError(`${file}: not valid TOML: ${reason}`);
  }
}

function describeIssue(issue: z.core.$ZodIssue, raw: Raw, sources: Map<string, string>, file?: string): ConfigError {
  const path = issue.path.join('.');
  if (issue.code === 'unrecognized_keys') {
    const section = path ? ` in [${path}]` : '';
    return new ConfigError(
      `${file ?? 'configuration'}: unknown key "${issue.keys.join('", "')}"${section}; see docs/configuration.md for the keys Holdfast reads`,
    );
  }
  const where = sources.get(path) ?? `${file ?? 'configuration'}: ${path}`;
  const value = getPath(raw, path);
  const shown = typeof value === 'string' ? `"${value}"` : JSON.stringify(value);
  const expected = issue.code === 'invalid_type' ? typeWanted(issue.expected, path) : issue.message;
  return new ConfigError(`${where} = ${shown} is not allowed: expected ${expected}`);
}

/**
 * Two listeners on one port: refused here, naming both settings, rather than when the second one
 * finds the port taken ("in use by another program", which it is not).
 */
function checkDistinctPorts(
  ports: Config['ports'],
  configured: Set<string>,
  sources: Map<string, string>,
  file: string | undefined,
) {
  const label = (name: string) =>
    sources.get(`ports.${name}`) ??
    (configured.has(name) ? `${file}: ports.${name}` : `${variableOf(`ports.${name}`)} (by default)`);
  const taken = new Map<number, string>();
  for (const name of listenerNames) {
    const port = ports[name];
    if (port === 'off' || port === 0) continue;
    const other = taken.get(port);
    if (other)
      throw new ConfigError(
        `${label(name)} = ${port} is not allowed: ${label(other)} is ${port} too; each listener needs a port of its own (or "off")`,
      );
    taken.set(port, name);
  }
}

/** The environment variable that sets a file key. */
const variableOf = (key: string) => Object.entries(environmentKeys).find(([, k]) => k === key)![0];

/** What a value of the wrong type should have been, in TOML's words. */
function typeWanted(type: string, path: string): string {
  if (type === 'object') return `a table ([${path}])`;
  if (type === 'array') return 'an array';
  return `a ${type}`;
}

function checkTlsPair(
  tls: { cert?: string; key?: string },
  sources: Map<string, string>,
  file: string | undefined,
  cwd: string,
) {
  const label = (key: string) => sources.get(key) ?? (file ? `${file}: ${key}` : variableOf(key));
  if (Boolean(tls.cert) !== Boolean(tls.key)) {
    const missing = tls.cert ? 'tls.key' : 'tls.cert';
    throw new ConfigError(
      `${label(missing)} is not set: a TLS certificate and key must be configured together (or neither, for a self-signed certificate)`,
    );
  }
  for (const key of ['cert', 'key'] as const) {
    const path = tls[key];
    if (path && !existsSync(resolve(cwd, path)))
      throw new ConfigError(`${label(`tls.${key}`)} = "${path}" is not allowed: no such file`);
  }
}

function resolveDatabase(url: string | undefined, dataDir: string, cwd: string): Config['database'] {
  if (url && /^postgres(ql)?:\/\//.test(url)) return { kind: 'postgres', url };
  if (!url) return { kind: 'sqlite', path: resolve(dataDir, 'holdfast.sqlite') };
  return { kind: 'sqlite', path: resolve(cwd, url.replace(/^sqlite:(\/\/)?/, '')) };
}

/** Sets `path` to an environment variable's value; the file's value for a section that is not a table is refused, not replaced. */
function setPath(target: Raw, path: string, value: unknown, file: string | undefined) {
  const keys = path.split('.');
  let node = target;
  keys.slice(0, -1).forEach((key, i) => {
    if (node[key] !== undefined && (typeof node[key] !== 'object' || node[key] === null || Array.isArray(node[key]))) {
      const section = keys.slice(0, i + 1).join('.');
      throw new ConfigError(
        `${file ?? 'configuration'}: ${section} = ${JSON.stringify(node[key])} is not allowed: expected a table ([${section}])`,
      );
    }
    node[key] ??= {};
    node = node[key] as Raw;
  });
  node[keys.at(-1)!] = value;
}

function getPath(target: Raw, path: string): unknown {
  return path
    .split('.')
    .reduce<unknown>((node, key) => (node && typeof node === 'object' ? (node as Raw)[key] : undefined), target);
}

/** The same check for a value given on the command line (`--roles`), worded like the others. */
export function invalidOption(option: string, value: string, allowed: string) {
  return invalid('invalid-option', `${option} = "${value}" is not allowed: expected ${allowed}`);
}

/**
 * Where backups go when neither `backup.to` nor --to says: beside the data, under
 * <data dir>/backups/snapshots/ (<data dir>/backups/ itself also holds the copies an upgrade keeps
 * of an SQLite database, holdfast-schema-v*.sqlite, which backups leave alone).
 */
export const defaultBackupDir = (dataDir: string) => join(dataDir, 'backups', 'snapshots');
