// holdfast vacation show|set|off <user> — a user's automatic reply, for administrators (users set
// their own over JMAP, VacationResponse). The same settings the responder reads at delivery
// (mailbox/vacation.ts); docs/rules.md says what is answered.
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { invalid } from '../errors.ts';
import { setVacation, vacationActive, vacationOf, vacationOff, type VacationSettings } from '../mailbox/vacation.ts';
import { action, tenantFor, withDirectory } from './context.ts';
import { print } from './output.ts';

/** A date as an administrator writes it: 2026-07-01 (midnight UTC) or a full ISO date-time. */
function parseDate(text: string | undefined, option: string): number | null | undefined {
  if (text === undefined) return undefined;
  if (text === 'none') return null;
  const ms = Date.parse(/^\d{4}-\d\d-\d\d$/.test(text) ? `${text}T00:00:00Z` : text);
  if (Number.isNaN(ms)) throw invalid('bad-date', `${option} takes a date such as 2026-07-01 or 2026-07-01T09:00:00Z`);
  return ms;
}

const when = (ms: number | null) => (ms === null ? '-' : new Date(ms).toISOString());

function describe(address: string, settings: VacationSettings, now: number): string {
  const state = !settings.isEnabled
    ? 'off'
    : vacationActive(settings, now)
      ? 'on, answering now'
      : 'on, outside its dates';
  return [
    `automatic reply of ${address}: ${state}`,
    `from:     ${when(settings.fromDate)}`,
    `until:    ${when(settings.toDate)}`,
    `days:     ${settings.days} (a sender is answered once in this many days)`,
    `subject:  ${settings.subject ?? '(Auto: and the subject of the mail answered)'}`,
    `text:     ${settings.textBody ?? '-'}`,
    `html:     ${settings.htmlBody === null ? '-' : `${settings.htmlBody.length} characters`}`,
  ].join('\n');
}

export function registerVacationCommands(program: Command) {
  const vacation = program.command('vacation').description("users' automatic replies (out of office)");

  action<[string]>(vacation.command('show <user>').description("show a user's automatic reply"), (address, options) =>
    withDirectory(async ({ directory, store }) => {
      const user = await (await tenantFor(directory, { address })).getPrincipal(address, ['user']);
      const settings = await vacationOf(store.db, user.id);
      print(options, { user: user.address, ...settings }, () => describe(user.address, settings, Date.now()));
    }),
  );

  action<[string]>(
    vacation
      .command('set <user>')
      .description('turn a user\'s automatic reply on, changing what is given (dates: 2026-07-01, or "none")')
      .option('--subject <subject>', 'the subject (default: "Auto: " and the subject answered)')
      .option('--text <text>', 'the text of the reply')
      .option('--text-file <path>', 'read the text of the reply from a file')
      .option('--html-file <path>', 'an HTML version of the reply, from a file')
      .option('--from <date>', 'answer mail arriving from then on')
      .option('--until <date>', 'answer mail arriving before then')
      .option('--days <n>', 'answer each sender once in this many days (1 to 90)'),
    (address, options) =>
      withDirectory(async ({ directory, store }) => {
        const user = await (await tenantFor(directory, { address })).getPrincipal(address, ['user']);
        const current = await vacationOf(store.db, user.id);
        const text = options.textFile ? await readFile(options.textFile, 'utf8') : options.text;
        const html = options.htmlFile ? await readFile(options.htmlFile, 'utf8') : undefined;
        const fromDate = parseDate(options.from, '--from');
        const toDate = parseDate(options.until, '--until');
        const days = options.days === undefined ? current.days : Number(options.days);
        const settings: VacationSettings = {
          isEnabled: true,
          fromDate: fromDate === undefined ? current.fromDate : fromDate,
          toDate: toDate === undefined ? current.toDate : toDate,
          subject: options.subject ?? current.subject,
          textBody: text ?? current.textBody,
          htmlBody: html ?? current.htmlBody,
          days,
        };
        await setVacation(store.db, user.id, settings, Date.now());
        print(options, { user: user.address, ...settings }, () => describe(user.address, settings, Date.now()));
      }),
  );

  action<[string]>(
    vacation.command('off <user>').description("turn a user's automatic reply off (its text is kept)"),
    (address, options) =>
      withDirectory(async ({ directory, store }) => {
        const user = await (await tenantFor(directory, { address })).getPrincipal(address, ['user']);
        const current = await vacationOf(store.db, user.id);
        const settings = { ...vacationOff, ...current, isEnabled: false };
        await setVacation(store.db, user.id, settings, Date.now());
        print(options, { user: user.address, ...settings }, () => `automatic reply of ${user.address}: off`);
      }),
  );
}
