// The service each role starts.
import { startQueue, startSmtp } from '../flow/mail-flow-services.ts';
import { startImap } from '../protocols/imap/imap-service.ts';
import { startHttp } from '../web/http-service.ts';
import type { ServiceStarter } from './holdfast.ts';
import type { Role } from './roles.ts';

export const serviceByRole: Record<Role, ServiceStarter> = {
  smtp: startSmtp,
  imap: startImap,
  queue: startQueue,
  http: startHttp,
};
