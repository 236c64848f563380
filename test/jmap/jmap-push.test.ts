// JMAP push: EventSource (RFC 8620 7.3) and WebSocket (RFC 8887), driven by what really changes the
// mailbox — mail delivered over SMTP (nodemailer), flags set over IMAP (imapflow) — on both
// backends, and across the workers of `holdfast start --workers 2`: a delivery in one worker reaches
// an EventSource served by the other.
import assert from 'node:assert/strict';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { backendNames, createBackend, skipFor, type TestBackend } from '../helpers/backends.ts';
import { initHoldfast, loopbackEnv, runHoldfast, startHoldfast, type StartedServer } from '../helpers/cli.ts';
import type { TestNode } from '../helpers/node.ts';
import { submission } from '../helpers/submission.ts';
import { childrenOf, holderOf } from '../helpers/worker-processes.ts';
import { openPushConnections } from '../../src/protocols/jmap/jmap-push.ts';
import { basicAuth, postApi } from './jmap-client.ts';
import { type JmapTestNode, mailUsing as using, password, startJmapNode } from './jmap-test-node.ts';

interface PushEvent {
  event: string;
  id?: string;
  // biome-ignore lint/suspicious/noExplicitAny: each test reads the fields it checks
  data: any;
}

/** An EventSource client over node:http (its socket's port tells which worker holds it). */
interface Stream {
  status: number;
  headers: IncomingMessage['headers'];
  // biome-ignore lint/suspicious/noExplicitAny: the problem JSON of a refusal
  body?: any;
  localPort: number;
  /** The next event, or a failure after `ms`. */
  next(ms?: number): Promise<PushEvent>;
  /** Whether an event arrives within `ms` (without taking it). */
  quietFor(ms: number): Promise<boolean>;
  /** Resolves when the server ends the response. */
  ended: Promise<void>;
  close(): void;
}

function openStream(url: string, auth: string | undefined, headers: Record<string, string> = {}): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers: { ...(auth ? { Authorization: auth } : {}), ...headers } }, (res) => {
      const localPort = req.socket?.localPort ?? 0;
      res.setEncoding('utf8');
      const events: PushEvent[] = [];
      const waiting: (() => void)[] = [];
      let buffer = '';
      let endedResolve: () => void = () => {};
      const ended = new Promise<void>((r) => {
        endedResolve = r;
      });
      res.on('end', () => endedResolve());
      res.on('close', () => endedResolve());
      if (res.statusCode !== 200) {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () =>
          resolve({
            status: res.statusCode!,
            headers: res.headers,
            body: text ? JSON.parse(text) : undefined,
            localPort,
            next: () => Promise.reject(new Error('no stream')),
            quietFor: async () => true,
            ended,
            close: () => req.destroy(),
          }),
        );
        return;
      }
      res.on('data', (chunk: string) => {
        buffer += chunk;
        for (let at = buffer.indexOf('\n\n'); at >= 0; at = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, at);
          buffer = buffer.slice(at + 2);
          const event: PushEvent = { event: 'message', data: undefined };
          const data: string[] = [];
          for (const line of block.split('\n')) {
            const [field, ...rest] = line.split(':');
            const value = rest.join(':').replace(/^ /, '');
            if (field === 'event') event.event = value;
            else if (field === 'id') event.id = value;
            else if (field === 'data') data.push(value);
          }
          if (data.length) event.data = JSON.parse(data.join('\n'));
          events.push(event);
          for (const wake of waiting.splice(0)) wake();
        }
      });
      const arrival = (ms: number) =>
        new Promise<boolean>((done) => {
          if (events.length) return done(true);
          const timer = setTimeout(() => done(false), ms);
          waiting.push(() => {
            clearTimeout(timer);
            done(true);
          });
        });
      resolve({
        status: res.statusCode!,
        headers: res.headers,
        localPort,
        ended,
        async next(ms = 15_000) {
          assert.ok(await arrival(ms), `an event within ${ms} ms`);
          return events.shift()!;
        },
        async quietFor(ms) {
          return !(await arrival(ms));
        },
        close: () => req.destroy(),
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** A WebSocket (subprotocol jmap) and the messages it receives, in order. */
async function openSocket(url: string, auth: string) {
  const socket = new WebSocket(url, 'jmap', { headers: { Authorization: auth } });
  // biome-ignore lint/suspicious/noExplicitAny: JMAP messages, read field by field
  const messages: any[] = [];
  const waiting: (() => void)[] = [];
  socket.on('message', (data) => {
    messages.push(JSON.parse(data.toString()));
    for (const wake of waiting.splice(0)) wake();
  });
  const closed = new Promise<number>((r) => socket.on('close', (code) => r(code)));
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  const arrival = (ms: number) =>
    new Promise<boolean>((done) => {
      if (messages.length) return done(true);
      const timer = setTimeout(() => done(false), ms);
      waiting.push(() => {
        clearTimeout(timer);
        done(true);
      });
    });
  return {
    socket,
    closed,
    send: (message: object | string) => socket.send(typeof message === 'string' ? message : JSON.stringify(message)),
    async next(ms = 15_000) {
      assert.ok(await arrival(ms), `a message within ${ms} ms`);
      return messages.shift();
    },
    quietFor: async (ms: number) => !(await arrival(ms)),
  };
}

/** The status of a refused WebSocket upgrade. */
function refusedUpgrade(url: string, options: { auth?: string; protocol?: string }): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, options.protocol ? [options.protocol] : [], {
      headers: options.auth ? { Authorization: options.auth } : {},
    });
    socket.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      socket.terminate();
    });
    socket.on('open', () => reject(new Error('the upgrade was accepted')));
    socket.on('error', () => {});
  });
}

for (const name of backendNames) {
  describe(`JMAP push on ${name}`, { skip: skipFor(name) }, () => {
    let node: JmapTestNode;
    let t: TestNode;
    let base: string;
    let accountId: string;
    const auth = basicAuth('alice@test.example', password);
    const streams: Stream[] = [];
    const stream = async (query = '?types=*&closeafter=no&ping=0', headers: Record<string, string> = {}) => {
      const s = await openStream(`${base}/jmap/eventsource/${query}`, auth, headers);
      streams.push(s);
      return s;
    };
    const send = (subject: string) =>
      node.deliver('bob@test.example', 'alice@test.example', { subject, text: `${subject}\n` });
    const emailState = async () => {
      const { json } = await postApi(base, { using, methodCalls: [['Email/get', { accountId, ids: [] }, 'g']] }, auth);
      return json.methodResponses[0][1].state as string;
    };
    const storeFlag = (flag: string) =>
      node.withImap(async (imap) => {
        await imap.mailboxOpen('INBOX');
        await imap.messageFlagsAdd('1:*', [flag]);
      });

    before(async () => {
      node = await startJmapNode(name, ['alice@test.example', 'bob@test.example']);
      ({ t, base, accountId } = node);
      await send('first');
    });
    after(async () => {
      for (const s of streams) s.close();
      await t.stop();
    });

    it('advertises the EventSource URL and the WebSocket capability in the session', async () => {
      const session = await (await fetch(`${base}/.well-known/jmap`, { headers: { Authorization: auth } })).json();
      assert.equal(
        session.eventSourceUrl,
        `${base}/jmap/eventsource/?types={types}&closeafter={closeafter}&ping={ping}`,
      );
      assert.deepEqual(session.capabilities['urn:ietf:params:jmap:websocket'], {
        url: `ws://127.0.0.1:${t.port('http')}/jmap/ws/`,
        supportsPush: true,
      });
    });

    it('asks for the sign-in the API asks for', async () => {
      const anonymous = await openStream(`${base}/jmap/eventsource/`, undefined);
      assert.equal(anonymous.status, 401);
      assert.match(String(anonymous.headers['www-authenticate']), /^Basic/);
      const wrong = await openStream(`${base}/jmap/eventsource/`, basicAuth('alice@test.example', 'not-it'));
      assert.equal(wrong.status, 401);
    });

    it('pushes a new Email and EmailDelivery state when mail arrives by SMTP', async () => {
      const s = await stream();
      assert.equal(s.status, 200);
      assert.match(String(s.headers['content-type']), /^text\/event-stream/);
      const first = await s.next();
      assert.equal(first.event, 'state');
      assert.equal(first.data['@type'], 'StateChange');
      assert.ok(first.id, 'a state event has an id (the client sends it back as Last-Event-ID)');
      const initial = first.data.changed[accountId];
      assert.deepEqual(Object.keys(initial).sort(), [
        'AddressBook',
        'ContactCard',
        'Email',
        'EmailDelivery',
        'Mailbox',
        'Thread',
      ]);
      assert.equal(initial.Email, await emailState());

      await send('pushed');
      const event = await s.next();
      assert.equal(event.event, 'state');
      const changed = event.data.changed[accountId];
      assert.notEqual(changed.Email, initial.Email);
      assert.notEqual(changed.EmailDelivery, initial.EmailDelivery);
      assert.equal(changed.Email, await emailState(), 'the pushed state is the one Email/get answers');
      s.close();
    });

    it('pushes an Email state change for an IMAP STORE, without EmailDelivery', async () => {
      const s = await stream();
      const initial = (await s.next()).data.changed[accountId];
      await storeFlag('\\Flagged');
      const changed = (await s.next()).data.changed[accountId];
      assert.notEqual(changed.Email, initial.Email);
      assert.equal(changed.EmailDelivery, undefined, 'a flag change is not a delivery');
      assert.equal(changed.Email, await emailState());
      s.close();
    });

    it('pushes only the types asked for', async () => {
      const deliveries = await stream('?types=EmailDelivery&closeafter=no&ping=0');
      const emails = await stream('?types=Email&closeafter=no&ping=0');
      const initial = (await deliveries.next()).data.changed[accountId];
      assert.deepEqual(Object.keys(initial), ['EmailDelivery']);
      assert.deepEqual(Object.keys((await emails.next()).data.changed[accountId]), ['Email']);
      await storeFlag('$Important');
      await emails.next();
      assert.ok(await deliveries.quietFor(300), 'no event for a flag change');
      await send('delivery only');
      const changed = (await deliveries.next()).data.changed[accountId];
      assert.deepEqual(Object.keys(changed), ['EmailDelivery']);
      assert.notEqual(changed.EmailDelivery, initial.EmailDelivery);
      deliveries.close();
      emails.close();
    });

    it('ends the response after a state event with closeafter=state, and waits on Last-Event-ID', async () => {
      const first = await stream('?types=*&closeafter=state&ping=0');
      const event = await first.next();
      await first.ended;
      // Reconnecting with the id of the states it saw: nothing to tell until something changes.
      const again = await stream('?types=*&closeafter=state&ping=0', { 'Last-Event-ID': event.id! });
      assert.ok(await again.quietFor(300), 'no event while nothing changed');
      await storeFlag('\\Seen');
      const next = await again.next();
      assert.notEqual(next.data.changed[accountId].Email, event.data.changed[accountId].Email);
      await again.ended;
      // A stale Last-Event-ID is answered at once.
      const stale = await stream('?types=*&closeafter=state&ping=0', { 'Last-Event-ID': event.id! });
      assert.equal((await stale.next(2000)).event, 'state');
    });

    it('pings at the interval asked for, within its bounds, and says which it uses', async () => {
      const s = await stream('?types=Email&closeafter=no&ping=1');
      await s.next();
      const started = Date.now();
      const ping = await s.next(10_000);
      assert.equal(ping.event, 'ping');
      assert.deepEqual(ping.data, { interval: 5 }, 'one second is raised to the minimum, 5');
      assert.ok(Date.now() - started >= 4500);
      s.close();
    });

    it('refuses an eleventh push connection of an account with 429, and takes one again after a close', async () => {
      // The connections of the tests before are gone (the server has seen them close).
      await t.waitFor(async () => openPushConnections(t.node.holdfast.changes) === 0, 'no push connection open');
      const open: Stream[] = [];
      for (let i = 0; i < 10; i++) open.push(await stream('?types=Email&closeafter=no&ping=0'));
      assert.ok(open.every((s) => s.status === 200));
      const over = await stream('?types=Email&closeafter=no&ping=0');
      assert.equal(over.status, 429);
      assert.equal(over.body.type, 'urn:ietf:params:jmap:error:limit');
      assert.equal(over.body.limit, 'maxPushConnections');
      // A WebSocket is a push connection too.
      assert.equal(await refusedUpgrade(`ws://127.0.0.1:${t.port('http')}/jmap/ws/`, { auth, protocol: 'jmap' }), 429);
      open[0]!.close();
      await t.waitFor(async () => {
        const s = await stream('?types=Email&closeafter=no&ping=0');
        s.close();
        return s.status === 200;
      }, 'a place again after a close');
      for (const s of open) s.close();
    });

    describe('WebSocket', () => {
      const url = () => `ws://127.0.0.1:${t.port('http')}/jmap/ws/`;

      it('refuses an upgrade without sign-in or without the jmap subprotocol', async () => {
        assert.equal(await refusedUpgrade(url(), { protocol: 'jmap' }), 401);
        assert.equal(
          await refusedUpgrade(url(), { auth: basicAuth('alice@test.example', 'no'), protocol: 'jmap' }),
          401,
        );
        assert.equal(await refusedUpgrade(url(), { auth }), 400);
      });

      it('answers an upgrade to another path over HTTP and closes its connection', async () => {
        const closed = await new Promise<string>((resolve) => {
          const socket = connect(t.port('http'), '127.0.0.1', () =>
            socket.write(
              'GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
            ),
          );
          let text = '';
          socket.on('data', (d) => (text += d));
          socket.on('close', () => resolve(text.split('\r\n')[0]!));
          setTimeout(() => resolve('still open'), 5000);
        });
        assert.equal(closed, 'HTTP/1.1 404 Not Found');
      });

      it('answers Requests with Responses carrying their id, and RequestErrors', async () => {
        const ws = await openSocket(url(), auth);
        assert.equal(ws.socket.protocol, 'jmap');
        ws.send({
          '@type': 'Request',
          id: 'R1',
          using: [...using, 'urn:ietf:params:jmap:submission'],
          methodCalls: [
            ['Core/echo', { hello: 'socket' }, 'e'],
            ['Mailbox/get', { accountId, ids: null, properties: ['role'] }, 'm'],
            // The sending methods run over the socket as over HTTP.
            ['Identity/get', { accountId }, 'i'],
          ],
        });
        const response = await ws.next();
        assert.equal(response['@type'], 'Response');
        assert.equal(response.requestId, 'R1');
        assert.deepEqual(response.methodResponses[0], ['Core/echo', { hello: 'socket' }, 'e']);
        assert.ok(response.methodResponses[1][1].list.some((m: { role: string }) => m.role === 'inbox'));
        assert.equal(response.methodResponses[2][0], 'Identity/get', JSON.stringify(response.methodResponses[2]));
        assert.ok(response.methodResponses[2][1].list.length >= 1);
        assert.equal(typeof response.sessionState, 'string');

        ws.send('not json');
        const notJson = await ws.next();
        assert.equal(notJson['@type'], 'RequestError');
        assert.equal(notJson.type, 'urn:ietf:params:jmap:error:notJSON');

        ws.send({ '@type': 'Request', id: 'R2', using: ['urn:example:nothing'], methodCalls: [] });
        const unknown = await ws.next();
        assert.equal(unknown['@type'], 'RequestError');
        assert.equal(unknown.requestId, 'R2');
        assert.equal(unknown.type, 'urn:ietf:params:jmap:error:unknownCapability');

        ws.send({
          '@type': 'Request',
          id: 'R3',
          using,
          methodCalls: Array.from({ length: 17 }, (_, i) => ['Core/echo', {}, `c${i}`]),
        });
        const tooMany = await ws.next();
        assert.equal(tooMany.type, 'urn:ietf:params:jmap:error:limit');
        assert.equal(tooMany.limit, 'maxCallsInRequest');
        ws.socket.close();
      });

      it('pushes StateChange once enabled, for the types asked, and stops when disabled', async () => {
        const ws = await openSocket(url(), auth);
        ws.send({ '@type': 'WebSocketPushEnable', dataTypes: ['Email', 'EmailDelivery'] });
        // Without a pushState nothing is sent until something changes.
        assert.ok(await ws.quietFor(300));
        await send('over the socket');
        const change = await ws.next();
        assert.equal(change['@type'], 'StateChange');
        assert.deepEqual(Object.keys(change.changed[accountId]).sort(), ['Email', 'EmailDelivery']);
        assert.equal(change.changed[accountId].Email, await emailState());
        assert.equal(typeof change.pushState, 'string');

        await storeFlag('\\Answered');
        const flags = await ws.next();
        assert.deepEqual(Object.keys(flags.changed[accountId]), ['Email']);

        ws.send({ '@type': 'WebSocketPushDisable' });
        ws.send({ '@type': 'Request', id: 'after', using, methodCalls: [['Core/echo', {}, 'e']] });
        assert.equal((await ws.next()).requestId, 'after');
        await storeFlag('$Later');
        assert.ok(await ws.quietFor(500), 'no push once disabled');

        // Enabled again with the pushState last seen: what changed since is sent at once.
        ws.send({ '@type': 'WebSocketPushEnable', dataTypes: ['Email', 'EmailDelivery'], pushState: flags.pushState });
        const since = await ws.next();
        assert.equal(since['@type'], 'StateChange');
        assert.equal(since.changed[accountId].Email, await emailState());
        ws.socket.close();
      });

      it('closes a socket sent a message over maxSizeRequest (1009)', async () => {
        const ws = await openSocket(url(), auth);
        ws.send(`{"@type":"Request","pad":"${'x'.repeat(2_000_001)}"}`);
        assert.equal(await ws.closed, 1009);
      });
    });
  });
}

for (const name of backendNames) {
  describe(`JMAP push of shared accounts on ${name}`, { skip: skipFor(name) }, () => {
    let node: JmapTestNode;
    let own: string;
    let teamAccount: string;
    let bobAccount: string;
    const team = 'team@test.example';
    const auth = basicAuth('alice@test.example', password);
    const streams: Stream[] = [];
    const stream = async (who = auth) => {
      const s = await openStream(`${node.base}/jmap/eventsource/?types=*&closeafter=no&ping=0`, who);
      streams.push(s);
      return s;
    };
    const emailState = async (accountId: string) => {
      const [[, got]] = await node.call([['Email/get', { accountId, ids: [] }, 'g']]);
      return got.state as string;
    };

    before(async () => {
      node = await startJmapNode(name, ['alice@test.example', 'bob@test.example', { kind: 'shared', address: team }]);
      const tenant = await node.t.node.holdfast.directory.tenant('default');
      await tenant.grant(team, 'alice@test.example', { fullAccess: true, sendAs: false });
      await tenant.grant('bob@test.example', 'alice@test.example', { fullAccess: true, sendAs: false });
      own = node.accountId;
      teamAccount = await node.accountNamed(team);
      bobAccount = await node.accountNamed('bob@test.example');
    });
    after(async () => {
      for (const s of streams) s.close();
      await node.t.stop();
    });

    it('pushes the states of every account the user may work in, each when it changes', async () => {
      const s = await stream();
      const first = (await s.next()).data.changed;
      assert.deepEqual(Object.keys(first).sort(), [own, teamAccount, bobAccount].sort());
      for (const account of [own, teamAccount, bobAccount]) {
        assert.deepEqual(Object.keys(first[account]).sort(), [
          'AddressBook',
          'ContactCard',
          'Email',
          'EmailDelivery',
          'Mailbox',
          'Thread',
        ]);
        assert.equal(first[account].Email, await emailState(account));
      }

      await node.deliver('bob@test.example', team, { subject: 'for the team', text: 'Hello team.' });
      const change = (await s.next()).data.changed;
      assert.deepEqual(Object.keys(change), [teamAccount], 'only the shared account changed');
      assert.notEqual(change[teamAccount].EmailDelivery, first[teamAccount].EmailDelivery);
      assert.equal(change[teamAccount].Email, await emailState(teamAccount));

      await node.deliver('bob@test.example', 'alice@test.example', { subject: 'for Alice', text: 'Hello.' });
      assert.deepEqual(Object.keys((await s.next()).data.changed), [own]);
      s.close();
    });

    it('pushes a shared account over WebSocket, and a change made in it over JMAP', async () => {
      const ws = await openSocket(`ws://127.0.0.1:${node.t.port('http')}/jmap/ws/`, auth);
      ws.send({ '@type': 'WebSocketPushEnable', dataTypes: ['Email'] });
      assert.ok(await ws.quietFor(300));
      const [[, query]] = await node.call([['Email/query', { accountId: teamAccount }, 'q']]);
      await node.call([
        ['Email/set', { accountId: teamAccount, update: { [query.ids[0]]: { 'keywords/$flagged': true } } }, 's'],
      ]);
      const change = await ws.next();
      assert.equal(change['@type'], 'StateChange');
      assert.deepEqual(Object.keys(change.changed), [teamAccount]);
      assert.deepEqual(change.changed[teamAccount], { Email: await emailState(teamAccount) });
      ws.socket.close();
    });

    it('counts a connection in the account of the user who opened it only', async () => {
      await node.t.waitFor(
        async () => openPushConnections(node.t.node.holdfast.changes) === 0,
        'no push connection open',
      );
      // Alice's ten connections each hear Bob's account (shared with her): Bob may still open his own.
      const open: Stream[] = [];
      for (let i = 0; i < 10; i++) open.push(await stream());
      assert.ok(open.every((s) => s.status === 200));
      assert.equal((await stream()).status, 429);
      const bobs = await stream(basicAuth('bob@test.example', password));
      assert.equal(bobs.status, 200);
      assert.deepEqual(Object.keys((await bobs.next()).data.changed), [bobAccount]);
      for (const s of [...open, bobs]) s.close();
    });
  });
}

describe('JMAP push under holdfast start --workers 2', () => {
  let backend: TestBackend;
  let server: StartedServer;
  const auth = basicAuth('alice@test.example', password);

  before(async () => {
    backend = await createBackend('sqlite');
    const env = loopbackEnv(backend.dataDir, {
      HOLDFAST_DATABASE_URL: backend.databaseUrl,
      HOLDFAST_ADMIN_PASSWORD: 'Keep-Mail-Flowing-42',
    });
    await initHoldfast(env);
    const added = await runHoldfast(['user', 'add', 'alice@test.example', '--password', password], { env });
    assert.equal(added.code, 0, added.stderr);
    server = await startHoldfast(env, ['--workers', '2']);
  });
  after(async () => {
    if (server?.child.exitCode === null) await server.stop('SIGKILL');
    for (const pid of server ? childrenOf(server.child.pid!) : []) process.kill(pid, 'SIGKILL');
    await backend?.cleanup();
  });

  it('pushes mail delivered by one worker to EventSources served by both', async () => {
    const port = server.port('http');
    const workers = server.summary.workers as number[];
    const streams: { stream: Stream; worker?: number }[] = [];
    try {
      while (new Set(streams.map((s) => s.worker)).size < 2) {
        assert.ok(streams.length < 10, 'EventSources on both workers');
        const stream = await openStream(`http://127.0.0.1:${port}/jmap/eventsource/?types=*&ping=0`, auth);
        assert.equal(stream.status, 200);
        streams.push({ stream, worker: holderOf(childrenOf(server.child.pid!), port, stream.localPort) });
      }
      const watched = workers.map((w) => streams.find((s) => s.worker === w)!.stream);
      const initial = await Promise.all(watched.map(async (s) => (await s.next()).data.changed));
      await submission(server.port('submissions'), 'alice@test.example', password).sendMail({
        from: 'alice@test.example',
        to: 'alice@test.example',
        subject: 'across workers',
        text: 'hello\n',
      });
      for (const [i, s] of watched.entries()) {
        const [account] = Object.keys(initial[i]!);
        const changed = (await s.next(30_000)).data.changed[account!];
        assert.notEqual(changed.EmailDelivery, initial[i]![account!].EmailDelivery, `worker ${workers[i]} pushed`);
      }
    } finally {
      for (const { stream } of streams) stream.close();
    }
  });
});
