// holdfast token create|list|revoke: API tokens for scripts and monitoring (HTTP
// `Authorization: Bearer <token>`), acting as the administrator they were made for, and app tokens
// (--scope jmap) a user's JMAP client signs in with instead of the password.
import type { Command } from 'commander';
import { ApiTokens, type ApiTokenScope } from '../directory/api-tokens.ts';
import { invalid } from '../errors.ts';
import { isoTime } from '../health/issue-posts.ts';
import { action, integerOption, withDirectory } from './context.ts';
import { print, table } from './output.ts';

export function registerTokenCommands(program: Command) {
  const token = program
    .command('token')
    .description('API tokens for the admin and service health API, and app tokens for JMAP');

  action<[string]>(
    token
      .command('create <address>')
      .description('make a token acting as an administrator (or, --scope jmap, a user); printed once')
      .option('--name <name>', 'what it is for', 'token')
      .option('--scope <scope>', 'admin: the admin and health API; jmap: an app token for JMAP', 'admin'),
    (address, options) =>
      withDirectory(async ({ store, directory }) => {
        const scope = options.scope as string;
        if (scope !== 'admin' && scope !== 'jmap')
          throw invalid('invalid-scope', `--scope ${scope} is not a scope: admin or jmap`);
        const { token: secret, info } = await new ApiTokens(store.db, directory, Date.now).create(
          address,
          options.name,
          scope as ApiTokenScope,
        );
        print(
          options,
          { ...info, token: secret },
          () =>
            `${secret}\n(${info.scope} token ${info.id} for ${info.principal}; shown once: store it now, send it as "Authorization: Bearer <token>")`,
        );
      }),
  );

  action<[]>(token.command('list').description('tokens, whom they act as, when last used'), (options) =>
    withDirectory(async ({ store, directory }) => {
      const tokens = await new ApiTokens(store.db, directory, Date.now).list();
      print(options, tokens, () =>
        table(
          ['ID', 'ACTS AS', 'SCOPE', 'NAME', 'CREATED', 'LAST USED'],
          tokens.map((t) => [
            t.id,
            t.principal,
            t.scope,
            t.name,
            isoTime(t.createdAt),
            t.lastUsedAt ? isoTime(t.lastUsedAt) : 'never',
          ]),
        ),
      );
    }),
  );

  action<[number]>(
    token.command('revoke').description('revoke a token at once').argument('<id>', 'token id', integerOption('id')),
    (id, options) =>
      withDirectory(async ({ store, directory }) => {
        await new ApiTokens(store.db, directory, Date.now).revoke(id);
        print(options, { revoked: id }, () => `token ${id} revoked`);
      }),
  );
}
