// The service each role starts.
import { startHttp } from '../web/http-service.ts';
import type { ServiceStarter } from './holdfast.ts';
import type { Role } from './roles.ts';

export const serviceByRole: Record<Role, ServiceStarter> = {
  http: startHttp,
};
