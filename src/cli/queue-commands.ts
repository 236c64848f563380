// holdfast queue list|show|retry|hold|release|bounce — the mail queue, read and acted on.
import { queueInsight } from '../flow/queue/queue-insight.ts';
import type { Command } from 'commander';
import { parseDuration } from '../config/duration.ts';
import { invalid } from '../errors.ts';
import { createMailFlow } from '../flow/mail-flow.ts';
import { QueueAdmin, type QueueEntry } from '../flow/queue/queue-admin.ts';
import { traceMessages } from '../flow/queue/trace-query.ts';
import type { RecipientState } from '../store/schema.ts';
import { action, withDirectory, type CommandContext } from './context.ts';
import { print, table, timeText as time } from './output.ts';

function admin({ config, store, directory }: CommandContext) {
  const flow = createMailFlow({ config, store, directory, now: Date.now });
  return new QueueAdmin(store.db, flow.queue, Date.now);
}

function messageId(text: string): number {
  if (!/^\d+$/.test(text)) throw invalid('invalid-option', `"${text}" is not a message id (see "holdfast queue list")`);
  return Number(text);
}

export function registerQueueCommands(program: Command) {
  const queue = program.command('queue').description('the mail queue');

  action<[]>(
    queue
      .command('list')
      .description('recipients waiting or in flight (filter by tenant, destination domain, state)')
      .option('--tenant <name>', 'only this tenant')
      .option('--domain <domain>', 'only this destination domain')
      .option('--state <state>', 'queued, inflight, deferred, delivered or failed')
      .option('--all', 'include delivered and failed recipients'),
    (options) =>
      withDirectory(async (context) => {
        const tenantId = options.tenant ? (await context.directory.getTenant(options.tenant)).id : undefined;
        const entries = await admin(context).list({
          tenantId,
          domain: options.domain,
          state: options.state as RecipientState | undefined,
          all: options.all,
        });
        print(options, entries, () => listText(entries));
      }),
  );

  action<[]>(
    queue
      .command('insight')
      .description('why mail is waiting: per destination, the last reply, attempts, next retry and an explanation'),
    (options) =>
      withDirectory(async (context) => {
        const insights = await queueInsight(context.store.db, Date.now());
        print(options, insights, () =>
          insights.length === 0
            ? 'No remote mail is waiting.'
            : insights
                .map(
                  (i) =>
                    `${i.destination}: ${i.waiting} waiting (${i.deferred} deferred, ${i.inFlight} in flight) since ${time(i.oldestSince)}, ${i.attempts} attempts\n  last reply: ${i.lastReply ?? '-'}\n  ${i.explanation}`,
                )
                .join('\n') +
              '\n(the running server also reports its current concurrency per destination: GET /admin/queue/insight)',
        );
      }),
  );

  action<[string]>(
    queue.command('show <message-id>').description('one message: envelope, recipients and trace'),
    (id, options) =>
      withDirectory(async (context) => {
        const shown = await admin(context).show(messageId(id));
        print(options, shown, () =>
          [
            `message ${shown.id} from <${shown.sender}> (${shown.size} bytes, ${shown.source}${shown.held ? ', HELD' : ''})`,
            `  subject:     ${shown.subject ?? '-'}`,
            `  message-id:  ${shown.messageIdHeader ?? '-'}`,
            `  received:    ${time(shown.receivedAt)}`,
            '',
            listText(shown.recipients),
            '',
            ...shown.trace.map((e) =>
              `  ${time(e.at)}  ${String(e.event).padEnd(12)} ${e.recipient ?? ''} ${e.reply ?? ''}`.trimEnd(),
            ),
          ].join('\n'),
        );
      }),
  );

  action<[string | undefined]>(
    queue
      .command('retry [message-id]')
      .description('retry now: one message, or all mail for --domain')
      .option('--domain <domain>', 'every waiting message for this domain'),
    (id, options) =>
      withDirectory(async (context) => {
        const count = await admin(context).retry({ messageId: id ? messageId(id) : undefined, domain: options.domain });
        print(options, { retried: count }, () => `${count} recipient(s) will be retried now`);
      }),
  );

  for (const [verb, description] of [
    ['hold', 'stop delivering a message until it is released'],
    ['release', 'resume delivering a held message'],
  ] as const) {
    action<[string]>(queue.command(`${verb} <message-id>`).description(description), (id, options) =>
      withDirectory(async (context) => {
        await admin(context)[verb](messageId(id));
        print(
          options,
          { [verb === 'hold' ? 'held' : 'released']: Number(id) },
          () => `message ${id} ${verb === 'hold' ? 'held' : 'released'}`,
        );
      }),
    );
  }

  action<[string]>(
    queue
      .command('bounce <message-id>')
      .description('give up on a message: its waiting recipients fail and the sender gets a DSN'),
    (id, options) =>
      withDirectory(async (context) => {
        const count = await admin(context).bounce(messageId(id));
        print(options, { bounced: count }, () => `${count} recipient(s) bounced`);
      }),
  );
}

export function registerTraceCommand(program: Command) {
  action<[]>(
    program
      .command('trace')
      .description('message trace: what happened to a message, step by step')
      .option('--sender <address>', 'messages from this envelope sender')
      .option('--recipient <address>', 'messages to this recipient')
      .option('--message-id <id>', 'the message with this Message-ID header')
      .option('--since <duration>', 'only messages received within this time, e.g. 2h or 3d'),
    (options) =>
      withDirectory(async ({ store }) => {
        let since: number | undefined;
        if (options.since) {
          const ms = parseDuration(options.since);
          if (ms === undefined)
            throw invalid(
              'invalid-option',
              `--since = "${options.since}" is not allowed: expected a duration such as "30m", "2h" or "3d"`,
            );
          since = Date.now() - ms;
        }
        const messages = await traceMessages(store.db, {
          sender: options.sender,
          recipient: options.recipient,
          messageId: options.messageId,
          since,
        });
        print(options, messages, () =>
          messages.length === 0
            ? '(no messages found)'
            : messages
                .map((m) =>
                  [
                    `message ${m.id} from <${m.sender}>  ${m.subject ?? ''}  ${m.messageIdHeader ?? ''}`.trimEnd(),
                    ...m.events.map((e) =>
                      `  ${time(e.at)}  ${e.event.padEnd(12)} ${e.recipient ?? (e.client ? `from ${e.client}` : '')} ${e.reply ?? ''}`.trimEnd(),
                    ),
                  ].join('\n'),
                )
                .join('\n\n'),
        );
      }),
  );
}

function listText(entries: QueueEntry[]): string {
  return table(
    ['MESSAGE', 'RECIPIENT', 'STATE', 'ATTEMPTS', 'NEXT ATTEMPT', 'SENDER', 'LAST REPLY'],
    entries.map((e) => [
      e.messageId,
      e.recipient,
      e.held ? `${e.state} (held)` : e.state,
      e.attempts,
      time(e.nextAttemptAt),
      e.sender || '<>',
      e.lastReply?.slice(0, 80),
    ]),
  );
}
