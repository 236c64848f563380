// The service each role starts.
import { startQueue, startSmtp } from '../flow/mail-flow-services.ts';
import { startHttp } from '../web/http-service.ts';
import type { ServiceStarter } from './holdfast.ts';
import type { Role } from './roles.ts';

export const serviceByRole: Record<Role, ServiceStarter> = {
  smtp: startSmtp,
  queue: startQueue,
  http: startHttp,
};
