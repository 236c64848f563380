// Structured logs (pino), one event per line, on stderr: stdout is kept for command output
// (the start-up summary, --json results), so both can be piped separately.
import pino, { type Logger } from 'pino';
import type { Config } from '../config/schema.ts';

export type { Logger };

export function createLogger(log: Config['log']): Logger {
  const pretty = log.format === 'pretty' || (log.format === 'auto' && process.stderr.isTTY);
  if (pretty) {
    return pino({
      level: log.level,
      transport: {
        target: 'pino-pretty',
        options: { destination: 2, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' },
      },
    });
  }
  return pino({ level: log.level, base: { pid: process.pid } }, pino.destination({ fd: 2, sync: false }));
}

export const silentLogger = (): Logger => pino({ level: 'silent' });
