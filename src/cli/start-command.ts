// holdfast start — run a node: every role by default, or those given with --roles; with --workers N,
// N processes sharing the listeners (server/workers.ts).
import cluster from 'node:cluster';
import type { Command } from 'commander';
import { loadConfig } from '../config/load.ts';
import { rootWarning } from '../server/root-warning.ts';
import { allRoles, parseRoles } from '../server/roles.ts';
import { parseWorkers } from '../server/worker-count.ts';
import { workerCountVariable, workerIndexVariable } from '../server/worker-messages.ts';
import { action } from './context.ts';

export function registerStartCommand(program: Command) {
  action<[]>(
    program
      .command('start')
      .description('run the server')
      .option('--roles <roles>', `run only these roles (comma-separated: ${allRoles.join(', ')})`)
      .option(
        '--workers <n>',
        'processes sharing the listeners: a number, or "auto" for one per core (default 1: this process alone)',
      ),
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
      const workers = parseWorkers(options.workers);
      const logger = createLogger(config.log);
      if (cluster.isWorker) {
        const { runWorker } = await import('../server/worker-node.ts');
        return runWorker(config, {
          roles,
          logger,
          index: Number(process.env[workerIndexVariable]),
          count: Number(process.env[workerCountVariable]),
        });
      }
      const asRoot = rootWarning(process.getuid?.(), process.env);
      if (asRoot) logger.warn({ uid: 0 }, asRoot);
      if (workers > 1) {
        const { runWorkers } = await import('../server/workers.ts');
        return runWorkers(config, { count: workers, roles, logger, json: Boolean(options.json) });
      }
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
