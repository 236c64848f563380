// Clients that configure themselves: each document fetched over the node's real HTTP(S) listeners
// as Thunderbird, Outlook and an Apple device fetch it, parsed, and checked against the listeners the
// node runs; then a client set up from nothing but the autoconfig answer (imapflow, nodemailer, POP3)
// signs in, sends and fetches. The node's host name is "localhost" so that the host a document names
// is one the clients can reach (loopback only).
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { DOMParser, type Element } from '@xmldom/xmldom';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { startTestNode, type TestNode } from '../helpers/node.ts';
import { Pop3Talk } from '../helpers/pop3-talk.ts';

const password = 'Autoconfig-Password-93';
const alice = 'alice@test.example';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP(S) request to the node on loopback, with the Host a client would send. */
function fetchFrom(
  port: number,
  path: string,
  options: { tls?: boolean; method?: string; host?: string; body?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const request = options.tls ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: options.method ?? 'GET',
        rejectUnauthorized: false,
        headers: { Host: options.host ?? 'localhost', ...options.headers },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Ports free right now, one per listener, so the node's configuration names the ports it listens on. */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve) => {
          const server = createServer();
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((done) => s.close(done))));
  return ports;
}

const listenerEnv = {
  smtp: 'HOLDFAST_SMTP_PORT',
  submission: 'HOLDFAST_SUBMISSION_PORT',
  submissions: 'HOLDFAST_SUBMISSIONS_PORT',
  imap: 'HOLDFAST_IMAP_PORT',
  imaps: 'HOLDFAST_IMAPS_PORT',
  pop3: 'HOLDFAST_POP3_PORT',
  pop3s: 'HOLDFAST_POP3S_PORT',
  http: 'HOLDFAST_HTTP_PORT',
  https: 'HOLDFAST_HTTPS_PORT',
} as const;

async function startClientNode(backend: (typeof backendNames)[number], off: (keyof typeof listenerEnv)[] = []) {
  const names = Object.keys(listenerEnv) as (keyof typeof listenerEnv)[];
  const ports = await freePorts(names.length);
  const env: Record<string, string> = { HOLDFAST_HOSTNAME: 'localhost' };
  names.forEach((name, i) => (env[listenerEnv[name]] = off.includes(name) ? 'off' : String(ports[i])));
  const t = await startTestNode(backend, { env });
  const tenant = await t.node.holdfast.directory.tenant('default');
  await tenant.addPrincipal({ kind: 'user', address: alice, password, displayName: 'Alice Example' });
  await tenant.addPrincipal({ kind: 'user', address: 'carol@test.example', password });
  // A domain of another tenant is served as well; the answers never say which tenant.
  await t.node.holdfast.directory.addTenant({ name: 'other' });
  await (await t.node.holdfast.directory.tenant('other')).addDomain('other.example');
  return t;
}

const parseXml = (text: string) => new DOMParser().parseFromString(text, 'text/xml').documentElement!;
const elements = (parent: Element, name: string) =>
  Array.from(parent.getElementsByTagName(name)) as unknown as Element[];
const textOf = (parent: Element, name: string) => elements(parent, name)[0]?.textContent?.trim();

interface ConfigServer {
  type: string;
  hostname: string;
  port: number;
  socketType: string;
  username: string;
  authentication: string;
}

function autoconfigServers(xml: string): { incoming: ConfigServer[]; outgoing: ConfigServer[]; domain?: string } {
  const root = parseXml(xml);
  assert.equal(root.tagName, 'clientConfig');
  assert.equal(root.getAttribute('version'), '1.1');
  const read = (e: Element): ConfigServer => ({
    type: e.getAttribute('type')!,
    hostname: textOf(e, 'hostname')!,
    port: Number(textOf(e, 'port')),
    socketType: textOf(e, 'socketType')!,
    username: textOf(e, 'username')!,
    authentication: textOf(e, 'authentication')!,
  });
  return {
    domain: textOf(root, 'domain'),
    incoming: elements(root, 'incomingServer').map(read),
    outgoing: elements(root, 'outgoingServer').map(read),
  };
}

type Plist = string | number | boolean | Plist[] | { [key: string]: Plist };

/** An XML property list as values (dict, array, string, integer, true, false: what profiles use). */
function readPlist(xml: string): Plist {
  const children = (e: Element) => Array.from(e.childNodes).filter((n) => n.nodeType === 1) as unknown as Element[];
  const value = (e: Element): Plist => {
    switch (e.tagName) {
      case 'string':
        return e.textContent ?? '';
      case 'integer':
        return Number(e.textContent);
      case 'true':
        return true;
      case 'false':
        return false;
      case 'array':
        return children(e).map(value);
      case 'dict': {
        const dict: Record<string, Plist> = {};
        const items = children(e);
        for (let i = 0; i < items.length; i += 2) dict[items[i]!.textContent!] = value(items[i + 1]!);
        return dict;
      }
      default:
        throw new Error(`unexpected plist element ${e.tagName}`);
    }
  };
  const root = parseXml(xml);
  assert.equal(root.tagName, 'plist');
  return value(children(root)[0]!);
}

const poxRequest = (
  address: string,
  schema = 'http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a',
) =>
  `<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
  <Request>
    <EMailAddress>${address}</EMailAddress>
    <AcceptableResponseSchema>${schema}</AcceptableResponseSchema>
  </Request>
</Autodiscover>`;

for (const backend of backendNames) {
  describe(`clients that configure themselves (${backend})`, { skip: skipFor(backend) }, () => {
    let t: TestNode;
    before(async () => {
      t = await startClientNode(backend);
    });
    after(() => t?.stop());

    it("answers Thunderbird's autoconfig with the node's host and every listener that is on", async () => {
      const answer = await fetchFrom(
        t.port('https'),
        `/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=${encodeURIComponent(alice)}`,
        { tls: true, host: 'test.example' },
      );
      assert.equal(answer.status, 200, answer.body);
      assert.match(String(answer.headers['content-type']), /xml/);
      const config = autoconfigServers(answer.body);
      assert.equal(config.domain, 'test.example');
      const shape = (s: ConfigServer) => `${s.type} ${s.hostname}:${s.port} ${s.socketType}`;
      assert.deepEqual(config.incoming.map(shape), [
        `imap localhost:${t.port('imaps')} SSL`,
        `imap localhost:${t.port('imap')} STARTTLS`,
        `pop3 localhost:${t.port('pop3s')} SSL`,
        `pop3 localhost:${t.port('pop3')} STARTTLS`,
      ]);
      assert.deepEqual(config.outgoing.map(shape), [
        `smtp localhost:${t.port('submissions')} SSL`,
        `smtp localhost:${t.port('submission')} STARTTLS`,
      ]);
      for (const s of [...config.incoming, ...config.outgoing]) {
        assert.equal(s.username, '%EMAILADDRESS%');
        assert.equal(s.authentication, 'password-cleartext');
      }
    });

    it('answers on autoconfig.<domain> (plain HTTP too, as Thunderbird tries), from the host alone', async () => {
      const answer = await fetchFrom(t.port('http'), '/mail/config-v1.1.xml', { host: 'autoconfig.other.example' });
      assert.equal(answer.status, 200, answer.body);
      assert.equal(autoconfigServers(answer.body).domain, 'other.example', "another tenant's domain is served too");
    });

    it('gives the same answer for any address of a served domain, and 404 for a domain not served here', async () => {
      const path = (address: string) =>
        `/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=${encodeURIComponent(address)}`;
      const known = await fetchFrom(t.port('https'), path(alice), { tls: true });
      const unknown = await fetchFrom(t.port('https'), path('nobody-here@test.example'), { tls: true });
      assert.equal(unknown.status, 200);
      assert.equal(unknown.body, known.body, 'whether an address exists is not told');
      const elsewhere = await fetchFrom(t.port('https'), path('someone@elsewhere.example'), { tls: true });
      assert.equal(elsewhere.status, 404);
      assert.doesNotMatch(elsewhere.body, /tenant|default|other/i);
      const noDomain = await fetchFrom(t.port('https'), '/mail/config-v1.1.xml', { tls: true, host: 'localhost' });
      assert.equal(noDomain.status, 404);
      const bad = await fetchFrom(t.port('https'), path('not an address'), { tls: true });
      assert.equal(bad.status, 400);
      assert.match(bad.body, /not an email address/);
    });

    it('sets up real clients from the autoconfig answer alone: sign in, send, fetch', async () => {
      const answer = await fetchFrom(
        t.port('https'),
        `/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=${encodeURIComponent(alice)}`,
        { tls: true },
      );
      const config = autoconfigServers(answer.body);
      const user = (s: ConfigServer) => s.username.replace('%EMAILADDRESS%', alice);
      // Each outgoing server sends one message, with exactly the settings the document gives.
      for (const [i, s] of config.outgoing.entries()) {
        const transport = nodemailer.createTransport({
          host: s.hostname,
          port: s.port,
          secure: s.socketType === 'SSL',
          requireTLS: s.socketType === 'STARTTLS',
          tls: { rejectUnauthorized: false },
          auth: { user: user(s), pass: password },
        });
        await transport.sendMail({ from: alice, to: alice, subject: `via ${s.socketType} ${i}`, text: 'configured' });
        transport.close();
      }
      await t.waitFor(async () => (await t.mailbox(alice)).length >= config.outgoing.length, 'both messages');
      for (const s of config.incoming.filter((s) => s.type === 'imap')) {
        const client = new ImapFlow({
          host: s.hostname,
          port: s.port,
          secure: s.socketType === 'SSL',
          doSTARTTLS: s.socketType === 'STARTTLS' ? true : undefined,
          tls: { rejectUnauthorized: false },
          auth: { user: user(s), pass: password },
          logger: false,
        });
        client.on('error', () => {});
        await client.connect();
        assert.equal(client.secureConnection || s.socketType === 'STARTTLS', true);
        const lock = await client.getMailboxLock('INBOX');
        try {
          const subjects: string[] = [];
          for await (const message of client.fetch('1:*', { envelope: true }))
            subjects.push(message.envelope?.subject ?? '');
          assert.deepEqual(subjects.sort(), config.outgoing.map((o, i) => `via ${o.socketType} ${i}`).sort());
        } finally {
          lock.release();
        }
        await client.logout();
      }
      for (const s of config.incoming.filter((s) => s.type === 'pop3')) {
        assert.equal(s.hostname, 'localhost');
        const { talk, greeting } = await Pop3Talk.open(s.port, { tls: s.socketType === 'SSL' });
        assert.match(greeting, /^\+OK/);
        if (s.socketType === 'STARTTLS') assert.match(await talk.startTls(), /^\+OK/);
        assert.match(await talk.send(`USER ${user(s)}`), /^\+OK/);
        assert.match(await talk.send(`PASS ${password}`), /^\+OK/);
        assert.match(await talk.send('STAT'), new RegExp(`^\\+OK ${config.outgoing.length} `));
        await talk.send('QUIT');
      }
    });

    it("answers Outlook's POX autodiscover (POST, and GET) with the IMAP and SMTP settings", async () => {
      const answer = await fetchFrom(t.port('https'), '/autodiscover/autodiscover.xml', {
        tls: true,
        method: 'POST',
        host: 'autodiscover.test.example',
        headers: { 'Content-Type': 'text/xml' },
        body: poxRequest(alice),
      });
      assert.equal(answer.status, 200, answer.body);
      const root = parseXml(answer.body);
      assert.equal(root.namespaceURI, 'http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006');
      const response = elements(root, 'Response')[0]!;
      assert.equal(
        response.namespaceURI,
        'http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a',
      );
      assert.equal(textOf(response, 'AccountType'), 'email');
      assert.equal(textOf(response, 'Action'), 'settings');
      const protocols = elements(response, 'Protocol').map((p) => ({
        type: textOf(p, 'Type'),
        server: textOf(p, 'Server'),
        port: Number(textOf(p, 'Port')),
        ssl: textOf(p, 'SSL'),
        encryption: textOf(p, 'Encryption'),
        login: textOf(p, 'LoginName'),
      }));
      assert.deepEqual(
        protocols.map((p) => `${p.type} ${p.server}:${p.port} ${p.ssl} ${p.encryption} ${p.login}`),
        [
          `IMAP localhost:${t.port('imaps')} on SSL ${alice}`,
          `POP3 localhost:${t.port('pop3s')} on SSL ${alice}`,
          `SMTP localhost:${t.port('submissions')} on SSL ${alice}`,
        ],
      );
      const viaGet = await fetchFrom(t.port('https'), `/autodiscover/autodiscover.xml?email=${alice}`, { tls: true });
      assert.equal(viaGet.status, 200);
      assert.equal(viaGet.body, answer.body);
    });

    it('refuses malformed autodiscover requests with 400 naming the problem, and bounds the body', async () => {
      const post = (body: string) =>
        fetchFrom(t.port('https'), '/autodiscover/autodiscover.xml', {
          tls: true,
          method: 'POST',
          headers: { 'Content-Type': 'text/xml' },
          body,
        });
      const broken = await post('<Autodiscover><Request><EMailAddress>a@test.example</Request>');
      assert.equal(broken.status, 400);
      assert.match(broken.body, /not well-formed XML/);
      const empty = await post('');
      assert.equal(empty.status, 400);
      assert.match(empty.body, /empty/);
      const noAddress = await post('<Autodiscover><Request/></Autodiscover>');
      assert.equal(noAddress.status, 400);
      assert.match(noAddress.body, /no EMailAddress/);
      const activeSync = await post(
        poxRequest(alice, 'http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006'),
      );
      assert.equal(activeSync.status, 400);
      assert.match(activeSync.body, /mobilesync.* is not served/);
      // Entities are never expanded: a "billion laughs" body is refused, not inflated.
      const laughs = await post(
        `<?xml version="1.0"?><!DOCTYPE a [<!ENTITY l "lol"><!ENTITY l2 "&l;&l;&l;&l;&l;&l;&l;&l;&l;&l;">]><Autodiscover><Request><EMailAddress>&l2;@test.example</EMailAddress></Request></Autodiscover>`,
      );
      assert.equal(laughs.status, 400, laughs.body);
      const huge = await post(`<Autodiscover>${' '.repeat(20_000)}</Autodiscover>`);
      assert.equal(huge.status, 413);
      assert.match(huge.body, /at most 16384 bytes/);
      const elsewhere = await post(poxRequest('someone@elsewhere.example'));
      assert.equal(elsewhere.status, 404);
    });

    it("answers Outlook's JSON autodiscover with the POX URL, which then answers", async () => {
      const answer = await fetchFrom(
        t.port('https'),
        `/autodiscover/autodiscover.json/v1.0/${alice}?Protocol=AutodiscoverV1`,
        { tls: true, host: 'autodiscover.test.example' },
      );
      assert.equal(answer.status, 200, answer.body);
      const { Protocol, Url } = JSON.parse(answer.body);
      assert.equal(Protocol, 'AutodiscoverV1');
      assert.equal(Url, `https://localhost:${t.port('https')}/autodiscover/autodiscover.xml`);
      const url = new URL(Url);
      const followed = await fetchFrom(Number(url.port), url.pathname, {
        tls: true,
        method: 'POST',
        body: poxRequest(alice),
      });
      assert.equal(followed.status, 200);
      const ews = await fetchFrom(t.port('https'), `/autodiscover/autodiscover.json/v1.0/${alice}?Protocol=Ews`, {
        tls: true,
      });
      assert.equal(ews.status, 400);
      assert.equal(JSON.parse(ews.body).ErrorCode, 'InvalidProtocol');
      const elsewhere = await fetchFrom(
        t.port('https'),
        '/autodiscover/autodiscover.json?Email=someone@elsewhere.example&Protocol=AutodiscoverV1',
        { tls: true },
      );
      assert.equal(elsewhere.status, 404);
    });

    it('gives the signed-in user an Apple profile with mail and CalDAV accounts and no password', async () => {
      const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
      const anonymous = await fetchFrom(t.port('https'), '/clients/apple.mobileconfig', { tls: true });
      assert.equal(anonymous.status, 401);
      assert.match(String(anonymous.headers['www-authenticate']), /^Basic/);
      const answer = await fetchFrom(t.port('https'), '/clients/apple.mobileconfig', {
        tls: true,
        headers: { Authorization: basic(alice, password) },
      });
      assert.equal(answer.status, 200, answer.body);
      assert.equal(answer.headers['content-type'], 'application/x-apple-aspen-config');
      assert.match(
        String(answer.headers['content-disposition']),
        /attachment; filename="alice@test.example.mobileconfig"/,
      );
      assert.ok(!answer.body.includes(password), 'the password is never in the profile');
      const profile = readPlist(answer.body) as Record<string, Plist>;
      assert.equal(profile.PayloadType, 'Configuration');
      const [mail, caldav, ...rest] = profile.PayloadContent as Record<string, Plist>[];
      assert.equal(rest.length, 0);
      assert.deepEqual(
        [mail!.PayloadType, mail!.EmailAccountType, mail!.EmailAddress, mail!.EmailAccountName],
        ['com.apple.mail.managed', 'EmailTypeIMAP', alice, 'Alice Example'],
      );
      assert.deepEqual(
        [mail!.IncomingMailServerHostName, mail!.IncomingMailServerPortNumber, mail!.IncomingMailServerUseSSL],
        ['localhost', t.port('imaps'), true],
      );
      assert.deepEqual(
        [mail!.OutgoingMailServerHostName, mail!.OutgoingMailServerPortNumber, mail!.OutgoingMailServerUseSSL],
        ['localhost', t.port('submissions'), true],
      );
      assert.equal(mail!.IncomingMailServerUsername, alice);
      assert.ok(!Object.keys(mail!).some((k) => /^(Incoming|Outgoing)Password$/.test(k)));
      assert.equal(caldav!.PayloadType, 'com.apple.caldav.account');
      assert.deepEqual(
        [caldav!.CalDAVHostName, caldav!.CalDAVPort, caldav!.CalDAVUseSSL],
        ['localhost', t.port('https'), true],
      );
      // The principal URL the profile names is the user's CalDAV principal.
      const principal = await fetchFrom(t.port('https'), String(caldav!.CalDAVPrincipalURL), {
        tls: true,
        method: 'PROPFIND',
        headers: { Authorization: basic(alice, password), Depth: '0', 'Content-Type': 'application/xml' },
        body: '<propfind xmlns="DAV:"><prop><current-user-principal/></prop></propfind>',
      });
      assert.equal(principal.status, 207, principal.body);
      // A second download is the same profile (same identifiers), so installing it replaces the first.
      const again = await fetchFrom(t.port('https'), '/clients/apple.mobileconfig', {
        tls: true,
        headers: { Authorization: basic(alice, password) },
      });
      assert.equal(again.body, answer.body);
    });

    it('signs in through the login limiter shared with the other protocols', async () => {
      const carol = 'carol@test.example';
      const get = (pass: string) =>
        fetchFrom(t.port('https'), '/clients/apple.mobileconfig', {
          tls: true,
          headers: { Authorization: `Basic ${Buffer.from(`${carol}:${pass}`).toString('base64')}` },
        });
      for (let i = 0; i < 5; i++) assert.equal((await get('wrong-password')).status, 401);
      const throttled = await get(password);
      assert.equal(throttled.status, 429, 'even the right password waits once the account has too many failures');
      assert.ok(Number(throttled.headers['retry-after']) > 0);
    });
  });
}

describe('listeners that are off are not offered', () => {
  let t: TestNode;
  before(async () => {
    t = await startClientNode('sqlite', ['imaps', 'pop3', 'pop3s', 'submissions']);
  });
  after(() => t?.stop());

  it('offers IMAP with STARTTLS and submission on 587 only', async () => {
    const answer = await fetchFrom(
      t.port('https'),
      `/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=${alice}`,
      { tls: true },
    );
    const config = autoconfigServers(answer.body);
    assert.deepEqual(
      [...config.incoming, ...config.outgoing].map((s) => `${s.type} ${s.port} ${s.socketType}`),
      [`imap ${t.port('imap')} STARTTLS`, `smtp ${t.port('submission')} STARTTLS`],
    );
    const pox = await fetchFrom(t.port('https'), `/autodiscover/autodiscover.xml?email=${alice}`, { tls: true });
    const protocols = elements(parseXml(pox.body), 'Protocol').map(
      (p) => `${textOf(p, 'Type')} ${textOf(p, 'Port')} ${textOf(p, 'Encryption')}`,
    );
    assert.deepEqual(protocols, [`IMAP ${t.port('imap')} TLS`, `SMTP ${t.port('submission')} TLS`]);
  });
});
