// holdfast token create|list|revoke: API tokens for scripts and monitoring (HTTP
// `Authorization: Bearer <token>`), acting as the administrator they were made for.
import type { Command } from 'commander';
import { ApiTokens } from '../directory/api-tokens.ts';
import { isoTime } from '../health/issue-posts.ts';
import { action, integerOption, withDirectory } from './context.ts';
import { print, table } from './output.ts';

export function registerTokenCommands(program: Command) {
  const token = program.command('token').description('API tokens for the admin and service health API');

  action<[string]>(
    token
      .command('create <address>')
      .description('make a token acting as an administrator; printed once')
      .option('--name <name>', 'what it is for', 'token'),
    (address, options) =>
      withDirectory(async ({ store, directory }) => {
        const { token: secret, info } = await new ApiTokens(store.db, directory, Date.now).create(
          address,
          options.name,
        );
        print(
          options,
          { ...info, token: secret },
          () =>
            `${secret}\n(token ${info.id} for ${info.principal}; shown once: store it now, send it as "Authorization: Bearer <token>")`,
        );
      }),
  );

  action<[]>(token.command('list').description('tokens, whom they act as, when last used'), (options) =>
    withDirectory(async ({ store, directory }) => {
      const tokens = await new ApiTokens(store.db, directory, Date.now).list();
      print(options, tokens, () =>
        table(
          ['ID', 'ACTS AS', 'NAME', 'CREATED', 'LAST USED'],
          tokens.map((t) => [
            t.id,
            t.principal,
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
