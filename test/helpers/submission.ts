// Mail sent as a user's client sends it: nodemailer to the node's implicit-TLS submission port
// (the test certificate is self-signed), signed in as that user.
import nodemailer from 'nodemailer';

export function submission(port: number, user: string, pass: string) {
  return nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    secure: true,
    tls: { rejectUnauthorized: false },
    auth: { user, pass },
  });
}
