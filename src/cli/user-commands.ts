// holdfast user add|list|passwd|unlock|kick|set|remove — people who sign in and have a mailbox.
import { Option, type Command } from 'commander';
import { parseSize, sizeRule, zeroQuotaRule } from '../config/size.ts';
import { LoginLimiter, loginAccount, loginLimits } from '../directory/login-limiter.ts';
import { generatePassword } from '../directory/passwords.ts';
import { sessionRecheckMs } from '../directory/session-check.ts';
import { refuseProbeAccount } from '../health/probe-guard.ts';
import { invalid } from '../errors.ts';
import type { Principal } from '../directory/directory.ts';
import type { Role } from '../store/schema.ts';
import type { Store } from '../store/store.ts';
import type { Config } from '../config/schema.ts';
import { action, readPasswordStdin, tenantFor, withDirectory } from './context.ts';
import { print, table } from './output.ts';
import { listPrincipals, quotaText } from './principal-listing.ts';

const roles: Role[] = ['user', 'tenant-admin', 'global-admin'];

export function registerUserCommands(program: Command) {
  const user = program.command('user').description('users (people with a mailbox who sign in)');

  action<[string]>(
    user
      .command('add <address>')
      .description('add a user; without --password a strong password is generated and printed once')
      .option('--password <password>', 'the password (visible in the process list: prefer --password-stdin)')
      .option('--password-stdin', 'read the password from standard input')
      .option('--name <display name>', 'display name')
      .option('--quota <size>', 'mailbox quota, e.g. 2GB or unlimited', 'unlimited')
      .addOption(new Option('--role <role>', 'what the user may administer').choices(roles).default('user'))
      .option('--tenant <name>', "tenant (default: the one owning the address's domain)"),
    (address, options) =>
      withDirectory(async ({ directory }) => {
        const supplied = options.passwordStdin ? await readPasswordStdin() : options.password;
        const password = supplied ?? generatePassword();
        const scope = await tenantFor(directory, { tenant: options.tenant, address });
        const added = await scope.addPrincipal({
          kind: 'user',
          address,
          password,
          displayName: options.name,
          role: options.role,
          quotaBytes: quota(options.quota),
        });
        const generated = supplied ? undefined : password;
        print(options, { ...added, generatedPassword: generated }, () =>
          [
            `added user ${added.address} (quota ${quotaText(added)})`,
            generated ? `password: ${generated}   (shown once)` : '',
          ]
            .filter(Boolean)
            .join('\n'),
        );
      }),
  );

  action<[]>(
    user
      .command('list')
      .description('list users')
      .option('--tenant <name>', 'only this tenant')
      .option('--domain <domain>', 'only this domain'),
    (options) =>
      withDirectory(async ({ directory }) => {
        const users = await listPrincipals(directory, ['user'], options);
        print(options, users, () =>
          table(
            ['USER', 'NAME', 'ROLE', 'QUOTA', 'SIGN-IN', 'TENANT'],
            users.map((u) => [
              u.address,
              u.displayName,
              u.role,
              quotaText(u),
              u.disabled ? 'disabled' : 'enabled',
              u.tenant,
            ]),
          ),
        );
      }),
  );

  action<[string]>(
    user
      .command('passwd <address>')
      .description("set a user's password")
      .option('--password <password>', 'the new password')
      .option('--password-stdin', 'read the new password from standard input'),
    (address, options) =>
      withDirectory(async ({ directory, store, config }) => {
        const password = options.passwordStdin ? await readPasswordStdin() : options.password;
        if (!password) throw invalid('password-required', 'give the new password with --password or --password-stdin');
        const scope = await tenantFor(directory, { address });
        await scope.setPassword(address, password);
        // Whoever was locked out by guesses may sign in with the new password at once.
        await loginLimiter(store, config).unlock(address);
        print(
          options,
          { address: address.toLowerCase(), passwordChanged: true },
          () => `password changed for ${address.toLowerCase()}`,
        );
      }),
  );

  action<[string]>(
    user
      .command('unlock <address>')
      .description('clear the failed sign-ins that make sources wait before trying this account again'),
    (address, options) =>
      withDirectory(async ({ store, config }) => {
        const account = loginAccount(address);
        const sources = await loginLimiter(store, config).unlock(account);
        print(
          options,
          { address: account, sources },
          () => `cleared the failed sign-ins of ${account} (from ${sources} source${sources === 1 ? '' : 's'})`,
        );
      }),
  );

  action<[string]>(
    user
      .command('kick <address>')
      .description(
        "end the user's open IMAP and POP3 sessions on every node (a remembered CalDAV password is checked again); they may sign in again",
      ),
    (address, options) =>
      withDirectory(async ({ directory }) => {
        const scope = await tenantFor(directory, { address });
        const kicked = await scope.endSessions(address);
        print(
          options,
          { address: kicked.address, sessionsEnded: true },
          () => `the sessions of ${kicked.address} end within ${sessionRecheckMs / 1000} seconds`,
        );
      }),
  );

  action<[string]>(
    user
      .command('set <address>')
      .description("change a user's display name, role or quota, or disable or enable their sign-in")
      .option('--name <display name>', 'display name ("" clears it)')
      .addOption(new Option('--role <role>', 'what the user may administer').choices(roles))
      .option('--quota <size>', 'mailbox quota, e.g. 2GB or unlimited')
      .addOption(
        new Option(
          '--disable',
          "refuse the user's sign-ins on every protocol and their API tokens; mail to them is still delivered",
        ).conflicts('enable'),
      )
      .option('--enable', 'allow the user to sign in again'),
    (address, options) =>
      withDirectory(async ({ directory }) => {
        const changes = {
          displayName: options.name,
          role: options.role,
          quotaBytes: options.quota === undefined ? undefined : quota(options.quota),
          disabled: options.disable ? true : options.enable ? false : undefined,
        };
        if (Object.values(changes).every((value) => value === undefined))
          throw invalid('nothing-to-change', 'give at least one of --name, --role, --quota, --disable, --enable');
        if (changes.disabled || changes.role) refuseProbeAccount(address, 'disabling it or changing its role');
        const scope = await tenantFor(directory, { address });
        const updated = await scope.updatePrincipal(address, changes, ['user']);
        print(options, updated, () => `${updated.address}: ${describeUser(updated)}`);
      }),
  );

  action<[string]>(
    user.command('remove <address>').description('remove a user and their addresses'),
    (address, options) =>
      withDirectory(async ({ directory }) => {
        refuseProbeAccount(address, 'removing it');
        const scope = await tenantFor(directory, { address });
        const removed = await scope.removePrincipal(address, ['user']);
        print(options, { removed: removed.address }, () => `removed user ${removed.address}`);
      }),
  );
}

function describeUser(principal: Principal): string {
  const name = principal.displayName ? `"${principal.displayName}"` : 'no display name';
  return `${name}, role ${principal.role}, quota ${quotaText(principal)}, sign-in ${principal.disabled ? 'disabled' : 'enabled'}`;
}

export function quota(text: string): number | null {
  const bytes = parseSize(text);
  if (bytes === undefined) throw invalid('invalid-option', `--quota = "${text}" is not allowed: expected ${sizeRule}`);
  if (bytes === 0) throw invalid('invalid-option', `--quota = "${text}" is not allowed: expected ${zeroQuotaRule}`);
  return bytes;
}

/** The server's login limiter over the same store, for clearing an account's failures. */
function loginLimiter(store: Store, config: Config): LoginLimiter {
  return new LoginLimiter(store.db, loginLimits(config.limits.authFailures), Date.now);
}
