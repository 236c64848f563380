// holdfast continuity status|start|stop|dns|user import — continuity mode (docs/continuity.md):
// where each upstream stands, starting or ending an event by hand, the DNS records a continuity
// domain needs, and the continuity users from an Exchange mailbox export.
import { constants } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { Config, ContinuityUpstream } from '../config/schema.ts';
import { ContinuityEvents } from '../continuity/continuity-events.ts';
import { continuityStatus, type UpstreamStatus } from '../continuity/continuity-status.ts';
import { parseMailboxExport } from '../continuity/mailbox-export.ts';
import { UpstreamRecords } from '../continuity/upstream-record.ts';
import { importContinuityUsers } from '../continuity/user-import.ts';
import { parseDomain } from '../directory/names.ts';
import { invalid } from '../errors.ts';
import { DkimKeys } from '../flow/dkim-keys.ts';
import { copyStart } from '../flow/queue/domain-backlog.ts';
import { durationText } from '../health/issue-posts.ts';
import { action, withDirectory } from './context.ts';
import { continuityRecords, zoneText } from '../flow/dns-records.ts';
import { print, table, timeText } from './output.ts';

export function registerContinuityCommands(program: Command) {
  const continuity = program
    .command('continuity')
    .description('continuity mode: take over mail for domains of an upstream provider when it fails');

  action<[]>(
    continuity
      .command('status')
      .description('each upstream: state, since when, mail held, replayed and waiting, its last replies'),
    (options) =>
      withDirectory(async ({ config, store }) => {
        const statuses = await continuityStatus(store.db, store.dialect, config.continuity, Date.now());
        print(options, statuses, () => statusText(config, statuses));
      }),
  );

  action<[]>(
    continuity
      .command('start')
      .description('start an event by hand: mail for the upstream’s domains is delivered here too until `stop`')
      .option('--upstream <name>', 'which upstream (needed when there are several)')
      .option('--reason <text>', 'why, for the incident', 'started by an administrator'),
    (options) =>
      withDirectory(async ({ config, store }) => {
        const upstream = chooseUpstream(config, options.upstream);
        const { event, started } = await new ContinuityEvents(store.db).start({
          upstream: upstream.name,
          startedBy: 'admin',
          reason: String(options.reason),
          at: Date.now(),
          copyCursor: await copyStart(store.db, upstream.domains),
        });
        print(options, { started, event }, () =>
          started
            ? `continuity event ${event.id} started for ${upstream.domains.join(', ')}: the running server copies their mail into mailboxes within a second and opens the incident at its next round`
            : `${upstream.name} has an event under way already (${event.id}, ${event.state} since ${timeText(event.recoveringSince ?? event.startedAt)})`,
        );
      }),
  );

  action<[]>(
    continuity
      .command('stop')
      .description('end the event: the held mail is replayed to the upstream, and the event closes once it is drained')
      .option('--upstream <name>', 'which upstream (needed when there are several)')
      .option('--reason <text>', 'why, for the incident', 'ended by an administrator'),
    (options) =>
      withDirectory(async ({ config, store }) => {
        const upstream = chooseUpstream(config, options.upstream);
        const now = Date.now();
        const event = await new ContinuityEvents(store.db).stopByHand(upstream.name, now, String(options.reason));
        // Failures from before the stop do not start the next event at once: it takes activate_after again.
        await new UpstreamRecords(store.db, store.dialect).restartRun(upstream.name, now);
        print(options, event, () =>
          event.state === 'recovering'
            ? `continuity event ${event.id} is recovering: the held mail goes to ${upstream.name} oldest first; it closes when none waits (holdfast continuity status)`
            : `continuity event ${event.id} is ${event.state}`,
        );
      }),
  );

  action<[string]>(
    continuity
      .command('dns <domain>')
      .description('the DNS records a continuity domain needs for mail users send through Holdfast (SPF, DKIM)'),
    (domainInput, options) =>
      withDirectory(async ({ config, store }) => {
        const domain = parseDomain(domainInput);
        const upstream = config.continuity.upstreams.find((u) => u.domains.includes(domain));
        if (!upstream)
          throw invalid(
            'not-a-continuity-domain',
            `${domain} is not a continuity domain: expected one of ${config.continuity.upstreams.flatMap((u) => u.domains).join(', ') || '(none configured in [[continuity.upstream]])'}`,
          );
        const key = await new DkimKeys(store.db).active(domain);
        const records = continuityRecords(config, domain, key);
        print(options, records, () =>
          [`Records for ${domain} (upstream ${upstream.name}):`, zoneText(records)].join('\n'),
        );
      }),
  );

  const user = continuity.command('user').description('continuity users');
  action<[string]>(
    user
      .command('import <file>')
      .description(
        'add users from an Exchange mailbox export (CSV: display name, primary SMTP address, proxy addresses); new users get generated passwords',
      )
      .option(
        '--passwords <file>',
        'write "address,password" lines for the new users to this new file (mode 600) instead of printing them',
      ),
    (file, options) =>
      withDirectory(async ({ config, directory }) => {
        const text = await readFile(file, 'utf8');
        const { mailboxes, problems } = parseMailboxExport(text);
        const domains = new Set(config.continuity.upstreams.flatMap((u) => u.domains));
        const results = await importContinuityUsers(directory, mailboxes, {
          domains: domains.size ? domains : undefined,
        });
        const created = results.filter((r) => r.password);
        if (options.passwords && created.length) {
          // A new file only, readable by its owner: it holds every new user's credential.
          const handle = await open(
            options.passwords,
            constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL,
            0o600,
          );
          try {
            await handle.writeFile(
              `address,password\n${created.map((r) => `${r.address},${r.password}`).join('\n')}\n`,
            );
          } finally {
            await handle.close();
          }
        }
        const shown = options.passwords ? results.map((r) => ({ ...r, password: undefined })) : results;
        const count = (outcome: string) => results.filter((r) => r.outcome === outcome).length;
        print(options, { users: shown, problems }, () =>
          [
            table(
              ['ADDRESS', 'RESULT', 'ALIASES ADDED', 'PASSWORD'],
              shown.map((r) => [r.address, r.outcome, r.aliasesAdded.join(' ') || '-', r.password ?? '-']),
            ),
            ...[...problems.map((p) => `line ${p.line}: ${p.problem}`), ...results.flatMap((r) => r.notes)].map(
              (n) => `note: ${n}`,
            ),
            `${count('created')} created, ${count('updated')} updated, ${count('unchanged')} unchanged, ${count('skipped') + problems.length} skipped${
              options.passwords && created.length
                ? `; passwords written to ${options.passwords}`
                : created.length
                  ? ' (passwords shown once)'
                  : ''
            }`,
          ].join('\n'),
        );
        if (problems.length || results.some((r) => r.outcome === 'skipped')) process.exitCode = 1;
      }),
  );
}

function chooseUpstream(config: Config, name: string | undefined): ContinuityUpstream {
  const { upstreams } = config.continuity;
  if (upstreams.length === 0)
    throw invalid(
      'no-continuity-upstream',
      'no continuity upstream is configured: add [[continuity.upstream]] to holdfast.toml',
    );
  if (name === undefined) {
    if (upstreams.length === 1) return upstreams[0]!;
    throw invalid(
      'upstream-required',
      `--upstream is required: expected one of ${upstreams.map((u) => u.name).join(', ')}`,
    );
  }
  const found = upstreams.find((u) => u.name === name);
  if (!found)
    throw invalid(
      'invalid-option',
      `--upstream = "${name}" is not allowed: expected one of ${upstreams.map((u) => u.name).join(', ')}`,
    );
  return found;
}

function statusText(config: Config, statuses: UpstreamStatus[]): string {
  if (statuses.length === 0) return 'no continuity upstream is configured ([[continuity.upstream]] in holdfast.toml)';
  return statuses
    .map((s) => {
      const lines = [
        `${s.upstream} (${s.server}) for ${s.domains.join(', ')}: ${
          s.state === 'normal' ? 'normal: mail goes to the upstream' : `${s.state} since ${timeText(s.since)}`
        }`,
      ];
      if (s.event)
        lines.push(
          `  event ${s.event.id}, started ${s.event.startedBy === 'admin' ? 'by an administrator' : 'by itself'} at ${timeText(s.event.startedAt)}: ${s.event.reason}`,
          `  held ${s.held} (copied into mailboxes), replayed ${s.replayed}, waiting ${s.waiting}, ${s.perMinute}/min${
            s.drainEstimateMs ? `, about ${durationText(s.drainEstimateMs)} to drain` : ''
          }${s.event.issueId ? `; service health issue ${s.event.issueId}` : ''}`,
        );
      else if (s.lastEvent)
        lines.push(
          `  last event ${s.lastEvent.id}: ${timeText(s.lastEvent.startedAt)} to ${timeText(s.lastEvent.endedAt)}, ${s.held} messages held; copies kept until ${timeText(
            (s.lastEvent.endedAt ?? 0) + config.continuity.retainMs,
          )}`,
        );
      if (s.failingSince !== null) lines.push(`  failing since ${timeText(s.failingSince)}`);
      lines.push(`  last success ${timeText(s.lastSuccessAt)}`);
      for (const r of s.lastReplies.slice(-3)) lines.push(`  ${timeText(r.at)} ${r.source}: ${r.reply}`);
      return lines.join('\n');
    })
    .join('\n\n');
}
