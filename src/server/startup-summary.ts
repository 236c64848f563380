// The one screen printed when a node starts: what listens where, where data lives, and on a first
// run the administrator's sign-in (a generated password is shown this once only).
import type { BootstrapResult } from '../directory/bootstrap.ts';
import { describeLocation } from '../store/database.ts';
import { version } from '../version.ts';
import type { RunningNode } from './start.ts';

export function startupSummary(node: RunningNode): string {
  const { config, tls } = node.holdfast;
  const lines = [
    `Holdfast ${version} is running on ${config.hostname} (pid ${process.pid}, roles: ${node.roles.join(', ')})`,
    `  store   ${describeLocation(config.database)} (schema v${node.migration.to})`,
    `  data    ${config.dataDir}`,
    `  TLS     ${tls.selfSigned ? `self-signed certificate for ${config.hostname} (${tls.certPath}); set HOLDFAST_TLS_CERT and HOLDFAST_TLS_KEY for a trusted one` : tls.certPath}`,
    '  listening:',
    ...node.listeners.map(
      (l) =>
        `    ${l.name.padEnd(12)} ${`${l.scheme}://${l.host.includes(':') ? `[${l.host}]` : l.host}:${l.port}`.padEnd(28)} ${l.description}`,
    ),
  ];
  const off = Object.entries(config.ports)
    .filter(([, port]) => port === 'off')
    .map(([name]) => name);
  if (off.length) lines.push(`  off:    ${off.join(', ')}`);
  const notServed = Object.entries(config.ports)
    .filter(([name, port]) => port !== 'off' && !node.listeners.some((l) => l.name === name))
    .map(([name]) => name);
  if (notServed.length) lines.push(`  not served by this node: ${notServed.join(', ')} (listeners follow --roles)`);
  if (node.migration.backup)
    lines.push(
      `  schema upgraded v${node.migration.from} → v${node.migration.to}; copy of the old database: ${node.migration.backup}`,
    );
  if (node.bootstrap.created) lines.push(...firstRunNotice(node.bootstrap).map((line) => `  ${line}`));
  lines.push('  stop with Ctrl-C or SIGTERM', '');
  return lines.join('\n');
}

export function firstRunNotice(bootstrap: BootstrapResult): string[] {
  const lines = [
    `first run: created forest "default", tenant "default", domain ${bootstrap.domain} and ${bootstrap.adminAddress}`,
  ];
  if (bootstrap.generatedPassword) {
    lines.push(
      `  admin password: ${bootstrap.generatedPassword}   (shown once; change it with: holdfast user passwd ${bootstrap.adminAddress} --password-stdin)`,
    );
  }
  return lines;
}

export function startupSummaryJson(node: RunningNode) {
  const { config } = node.holdfast;
  return {
    started: true,
    version,
    pid: process.pid,
    hostname: config.hostname,
    roles: node.roles,
    store: describeLocation(config.database),
    schemaVersion: node.migration.to,
    dataDir: config.dataDir,
    listeners: node.listeners.map(({ name, host, port }) => ({ name, host, port })),
    bootstrap: node.bootstrap,
  };
}
