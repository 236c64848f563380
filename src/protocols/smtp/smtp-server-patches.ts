// Adjustments to smtp-server (pinned at 3.21.6), applied once to its connection class:
//
// 1. Enhanced status codes. smtp-server picks the enhanced code of an error reply from the reply
//    code alone (every 550 becomes 5.1.1). Holdfast's replies carry their own precise code
//    ("5.7.1 Unable to relay"), so a reply text that starts with one is sent as it is.
// 2. Greeting delay. smtp-server waits a fixed 100 ms before the greeting to catch clients that talk
//    too soon. That caps throughput for one-message-per-connection traffic; Holdfast makes the delay
//    a setting ([smtp] greeting_delay, default 0 as in Postfix's smtpd) per server.
// 3. CHUNKING (RFC 3030): the BDAT command, in chunking.ts.
import { SMTPConnection } from 'smtp-server/lib/smtp-connection';
import { addChunking } from './chunking.ts';

const enhancedCodePattern = /^[245]\.\d{1,3}\.\d{1,3} /;
let patched = false;

interface ConnectionInternals {
  send(code: number, data: unknown, context?: unknown): void;
  init(): void;
  connectionReady(): void;
  _setListeners(callback: () => void): void;
  _server: { options: { maxClients?: number; greetingDelayMs?: number }; connections: Set<unknown> };
}

export function patchSmtpServer() {
  if (patched) return;
  patched = true;
  addChunking();
  const prototype = SMTPConnection.prototype as unknown as ConnectionInternals;
  const send = prototype.send;
  prototype.send = function (this: ConnectionInternals, code: number, data: unknown, context?: unknown) {
    return send.call(this, code, data, typeof data === 'string' && enhancedCodePattern.test(data) ? false : context);
  };
  prototype.init = function (this: ConnectionInternals) {
    this._setListeners(() => {
      const { maxClients, greetingDelayMs = 0 } = this._server.options;
      if (maxClients && this._server.connections.size > maxClients) {
        return this.send(421, 'Too many connected clients, try again in a moment', false);
      }
      if (greetingDelayMs <= 0) return this.connectionReady();
      setTimeout(() => this.connectionReady(), greetingDelayMs).unref();
    });
  };
}
