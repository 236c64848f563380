// smtp-server picks the enhanced status code of an error reply from the reply code alone (every 550
// becomes 5.1.1). Holdfast's replies carry their own precise code ("5.7.1 Unable to relay"), so a
// reply text that starts with one is sent as it is. Patched once, on the library's connection class.
import { SMTPConnection } from 'smtp-server/lib/smtp-connection';

const enhancedCodePattern = /^[245]\.\d{1,3}\.\d{1,3} /;
let patched = false;

export function keepOwnEnhancedCodes() {
  if (patched) return;
  patched = true;
  const prototype = SMTPConnection.prototype as unknown as { send(code: number, data: unknown, context?: unknown): void };
  const send = prototype.send;
  prototype.send = function (this: unknown, code: number, data: unknown, context?: unknown) {
    return send.call(this, code, data, typeof data === 'string' && enhancedCodePattern.test(data) ? false : context);
  };
}
