// The service each role starts. The imap role serves mailbox access: IMAP, POP3 and ManageSieve.
import { startImap } from './imap-service.ts';
import { startManageSieve } from './managesieve-service.ts';
import { startPop3 } from './pop3-service.ts';
import { startQueue } from './queue-service.ts';
import { startSmtp } from './smtp-service.ts';
import { startHttp } from './http-service.ts';
import type { RunningService, ServiceStarter } from './holdfast.ts';
import type { Role } from './roles.ts';

const startMailboxAccess: ServiceStarter = async (holdfast) => {
  const started: RunningService[] = [];
  try {
    for (const start of [startImap, startPop3, startManageSieve]) started.push(await start(holdfast));
    return together(...started);
  } catch (error) {
    await Promise.all(started.map((s) => s.close()));
    throw error;
  }
};

function together(...services: RunningService[]): RunningService {
  return {
    listeners: services.flatMap((s) => s.listeners),
    close: async () => {
      await Promise.all(services.map((s) => s.close()));
    },
    forceClose: () => services.forEach((s) => s.forceClose?.()),
  };
}

export const serviceByRole: Record<Role, ServiceStarter> = {
  smtp: startSmtp,
  imap: startMailboxAccess,
  queue: startQueue,
  http: startHttp,
};
