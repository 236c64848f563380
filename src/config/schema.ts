// The configuration schema: every key Holdfast reads, its default, and the environment variable
// that overrides it. docs/configuration.md documents the same table for administrators.
import { hostname as machineHostname } from 'node:os';
import { z } from 'zod';
import { domainName, duration, ipAddress, nonEmptyText, oneOf, port, setting } from './setting.ts';

export const listenerNames = ['smtp', 'submission', 'submissions', 'imap', 'imaps', 'http', 'https'] as const;
export type ListenerName = (typeof listenerNames)[number];

export const defaultPorts: Record<ListenerName, number> = {
  smtp: 25,
  submission: 587,
  submissions: 465,
  imap: 143,
  imaps: 993,
  http: 8080,
  https: 443,
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

const portsSchema = z.strictObject(
  Object.fromEntries(listenerNames.map((name) => [name, port.optional()])) as Record<ListenerName, z.ZodOptional<typeof port>>,
);

export const fileSchema = z.strictObject({
  data_dir: nonEmptyText('a directory path').optional(),
  database_url: databaseUrl.optional(),
  hostname: domainName('a host name such as mail.example.com').optional(),
  domain: domainName('a domain name such as example.com').optional(),
  admin_password: nonEmptyText('a password').optional(),
  bind: ipAddress.optional(),
  shutdown_grace: duration.optional(),
  ports: portsSchema.optional(),
  tls: z.strictObject({ cert: nonEmptyText('a file path').optional(), key: nonEmptyText('a file path').optional() }).optional(),
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
  HOLDFAST_HTTP_PORT: 'ports.http',
  HOLDFAST_HTTPS_PORT: 'ports.https',
  HOLDFAST_TLS_CERT: 'tls.cert',
  HOLDFAST_TLS_KEY: 'tls.key',
  HOLDFAST_LOG_LEVEL: 'log.level',
  HOLDFAST_LOG_FORMAT: 'log.format',
};

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
}

export function defaultHostname(): string {
  return machineHostname().toLowerCase();
}
