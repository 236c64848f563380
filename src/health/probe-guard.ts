// The service health probe signs in with its account every round: disabling it, changing its role or
// removing it would make the probe report false outages. `holdfast user` and the admin API refuse.
import { loginAccount } from '../directory/login-limiter.ts';
import { invalid } from '../errors.ts';
import { isProbeAddress } from './checks/probe-account.ts';

/** Throws `probe-account` when `address` is a probe account; `change` says what was asked ("removing it"). */
export function refuseProbeAccount(address: string, change: string) {
  if (!isProbeAddress(address)) return;
  throw invalid(
    'probe-account',
    `${loginAccount(address)} is a service health probe account: ${change} would make the probe report false outages (to stop probing, set [health] enabled = false)`,
  );
}
