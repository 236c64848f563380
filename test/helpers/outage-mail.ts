// Mail sent to a destination that is down (a gate refusing every connection, drill/lib/upstream-gate.ts)
// and the bound on how often the queue may try it meanwhile: deadAfter attempts, then one probe per
// probe interval (destination-control.ts), not one per message. Shared by the single-process and
// the --workers tests of a destination that limits connections.
import nodemailer from 'nodemailer';
import type { UpstreamGate } from '../../drill/lib/upstream-gate.ts';
import { defaultDestinationPolicy } from '../../src/flow/delivery/destination-control.ts';

/**
 * Closes the gate, sends `messages` messages to user0..6@partner.example through the submission
 * port as `user`, lets the outage go on 3 s more, and says how many connections the gate refused
 * against the bound for that long an outage.
 */
export async function sendDuringOutage(options: {
  gate: UpstreamGate;
  submissionsPort: number;
  user: string;
  password: string;
  messages: number;
  subject: string;
}): Promise<{ refused: number; bound: number; text: string }> {
  options.gate.fail();
  const started = Date.now();
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: options.submissionsPort,
    secure: true,
    tls: { rejectUnauthorized: false },
    auth: { user: options.user, pass: options.password },
    pool: true,
    maxConnections: 4,
    maxMessages: Number.POSITIVE_INFINITY,
  });
  await Promise.all(
    Array.from({ length: options.messages }, (_, i) =>
      transport.sendMail({
        from: options.user,
        to: `user${i % 7}@partner.example`,
        subject: `${options.subject} ${i}`,
        text: `message ${i}`,
      }),
    ),
  );
  transport.close();
  await new Promise((resolve) => setTimeout(resolve, 3000)); // the outage goes on a little
  const seconds = (Date.now() - started) / 1000;
  const { deadAfter, probeEveryMs } = defaultDestinationPolicy;
  const bound = deadAfter + Math.ceil(seconds / (probeEveryMs / 1000)) + 1;
  const refused = options.gate.refusedDown;
  return {
    refused,
    bound,
    text: `${refused} connections during an outage of ${seconds.toFixed(1)} s (at most ${bound})`,
  };
}
