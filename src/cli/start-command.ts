// holdfast start — run a node: every role by default, or those given with --roles.
import type { Command } from 'commander';
import { loadConfig } from '../config/load.ts';
import { rootWarning } from '../server/root-warning.ts';
import { allRoles, parseRoles } from '../server/roles.ts';
import { action } from './context.ts';

export function registerStartCommand(program: Command) {
  action<[]>(
    program
      .command('start')
      .description('run the server')
      .option('--roles <roles>', `run only these roles (comma-separated: ${allRoles.join(', ')})`),
    async (options) => {
      // The server's modules (HTTP framework, protocol servers) load only here, so that
      // administrative commands stay quick.
      const [{ createLogger }, { startNode }, { startupSummary, startupSummaryJson }] = await Promise.all([
        import('../logging/logger.ts'),
        import('../server/start.ts'),
        import('../server/startup-summary.ts'),
      ]);
      const config = loadConfig();
      const roles = parseRoles(options.roles);
      const logger = createLogger(config.log);
      const asRoot = rootWarning(process.getuid?.(), process.env);
      if (asRoot) logger.warn({ uid: 0 }, asRoot);
      const node = await startNode(config, { roles, logger });

      let stopping = false;
      const stop = async (signal: string) => {
        if (stopping) {
          logger.warn({ signal }, 'second signal: exiting now');
          process.exit(1);
        }
        stopping = true;
        logger.info({ signal }, 'signal received');
        try {
          await node.stop();
          logger.flush?.();
          process.exit(0);
        } catch (error) {
          logger.error({ err: error }, 'shutdown failed');
          process.exit(1);
        }
      };
      process.on('SIGTERM', () => void stop('SIGTERM'));
      process.on('SIGINT', () => void stop('SIGINT'));
      // Printed once the signal handlers are in place: whoever reads it may stop the server at once.
      process.stdout.write(options.json ? `${JSON.stringify(startupSummaryJson(node))}\n` : startupSummary(node));
    },
  );
}
