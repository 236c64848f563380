// jmap-jam (the JMAP client from npm) signed in with HTTP Basic: Jam itself sends only bearer
// tokens, so the header it sends is replaced and the session loaded again with it.
import JamClient from 'jmap-jam';

export class BasicJam extends JamClient {
  constructor(sessionUrl: string, user: string, password: string) {
    // The constructor's own session load (as a bearer) is answered 401 and dropped below.
    super({ sessionUrl, bearerToken: 'none' });
    this.authHeader = basicAuth(user, password);
    this.session = JamClient.loadSession(sessionUrl, this.authHeader);
  }
}

export const basicAuth = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** A raw API call with fetch, for what a client library would not send. */
export async function postApi(
  base: string,
  body: string | object,
  auth: string,
  // biome-ignore lint/suspicious/noExplicitAny: each test reads the fields of the answer it checks
): Promise<{ status: number; type: string | null; json: any }> {
  const response = await fetch(`${base}/jmap/api/`, {
    method: 'POST',
    headers: { Authorization: auth, 'Content-Type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, type: response.headers.get('content-type'), json: text ? JSON.parse(text) : null };
}
