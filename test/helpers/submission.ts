// Mail sent as a user's client sends it: nodemailer to the node's implicit-TLS submission port
// (the test certificate is self-signed), signed in as that user.
import nodemailer from 'nodemailer';
import type { TestNode } from './node.ts';

export function submission(port: number, user: string, pass: string) {
  return nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    secure: true,
    tls: { rejectUnauthorized: false },
    auth: { user, pass },
  });
}

/**
 * A user who mails itself numbered messages ("message 1", "message 2"…) through submission and waits
 * until its INBOX holds all it sent: the tests of what a store keeps (backups, copies) fill one so.
 */
export class SelfMailer {
  /** Messages the INBOX should hold (a test that expunges one lowers it). */
  sent = 0;

  constructor(
    private readonly node: TestNode,
    private readonly address: string,
    private readonly password: string,
    private readonly fill = 'x',
  ) {}

  async send(count: number, bodySize = 200) {
    for (let i = 0; i < count; i++) {
      this.sent++;
      await submission(this.node.port('submissions'), this.address, this.password).sendMail({
        from: this.address,
        to: this.address,
        subject: `message ${this.sent}`,
        text: `body ${this.sent} ${this.fill.repeat(bodySize)}`,
      });
    }
    await this.node.waitFor(
      async () => (await this.node.mailbox(this.address)).length === this.sent,
      `${this.sent} messages delivered`,
    );
  }
}
