// /metrics under `holdfast start --workers 2` answers with the whole machine's figures whichever
// worker takes the scrape (the real program, real sockets): sessions and messages handled by
// different workers show in one scrape, counters and histograms summed, a limit not. Also the parts
// on their own: how figures add up (every gauge Holdfast registers has a rule), and the primary's
// gathering when a worker is slow or gone.
import assert from 'node:assert/strict';
import { Agent, get } from 'node:http';
import type { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Kysely } from 'kysely';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { watchBackups } from '../../src/backup/backup-metrics.ts';
import type { ContinuitySettings } from '../../src/config/schema.ts';
import { watchContinuity } from '../../src/continuity/continuity-metrics.ts';
import { watchQueue } from '../../src/flow/queue/queue-metrics.ts';
import { watchHealth } from '../../src/health/health-metrics.ts';
import { type Figure, machineCombine, machineRegistry, workerFigures } from '../../src/metrics/machine-metrics.ts';
import { Metrics } from '../../src/metrics/metrics.ts';
import { MetricsGathering, type Peer } from '../../src/server/metrics-gathering.ts';
import type { PrimaryMessage } from '../../src/server/worker-messages.ts';
import type { Database } from '../../src/store/schema.ts';
import { createBackend, type TestBackend } from '../helpers/backends.ts';
import type { StartedServer } from '../helpers/cli.ts';
import { SmtpTalk } from '../helpers/smtp-talk.ts';
import { childrenOf, holderOf, waitUntil } from '../helpers/worker-processes.ts';
import { startWithAlice } from '../server/started-server.ts';

/** One worker's registry as the node has it: a few of Metrics' own, with `sessions` SMTP sessions open. */
function workerRegistry(sessions: number, accepted: number[], forestOpen: number) {
  const metrics = new Metrics();
  metrics.countSessions('smtp', () => sessions);
  metrics.countForestConnections(() => [{ forest: 'default', open: forestOpen, limit: 1000 }]);
  for (const seconds of accepted) metrics.acceptLatency.observe(seconds);
  metrics.caldavRequests.inc({ method: 'PROPFIND', status: '207' }, accepted.length);
  let reads = 0;
  new Gauge({
    name: 'holdfast_queue_oldest_age_seconds',
    help: 'read from the store',
    registers: [metrics.registry],
    collect() {
      this.set(42 + reads++);
    },
  });
  return { metrics, reads: () => reads };
}

const line = (text: string, series: string) =>
  text.split('\n').find((l) => l.startsWith(`${series} `)) ?? `(no ${series})`;

/** Asserts that the scrape has each series with its value. */
const hasSeries = (text: string, expected: Record<string, number>) => {
  for (const [series, value] of Object.entries(expected)) assert.equal(line(text, series), `${series} ${value}`);
};

describe('machine-wide metrics: adding up the workers’ figures', () => {
  it('sums counters, histograms and open sessions, takes a limit once, and reads store figures in one worker only', async () => {
    const a = workerRegistry(2, [0.003, 0.02], 2);
    const b = workerRegistry(1, [0.3], 1);
    const own = (await a.metrics.registry.getMetricsAsJSON()) as unknown as Figure[];
    const others = [await b.metrics.workerFigures()];
    assert.equal(b.reads(), 0, 'the other worker does not read the store for a scrape');
    assert.equal(a.reads(), 1);
    const text = await machineRegistry(own, others, { reported: 2, missing: 1 }).metrics();
    hasSeries(text, {
      'holdfast_sessions{protocol="smtp"}': 3,
      holdfast_accept_latency_seconds_count: 3,
      'holdfast_accept_latency_seconds_bucket{le="0.025"}': 2,
      'holdfast_caldav_requests_total{method="PROPFIND",status="207"}': 3,
      'holdfast_forest_connections{forest="default",kind="open"}': 3,
      'holdfast_forest_connections{forest="default",kind="limit"}': 1000,
      holdfast_queue_oldest_age_seconds: 42,
      'holdfast_scrape_workers{state="reported"}': 2,
      'holdfast_scrape_workers{state="missing"}': 1,
    });
    assert.match(line(text, 'holdfast_process_start_time_seconds'), /^holdfast_process_start_time_seconds \d+/);
    assert.equal(text.match(/^# TYPE holdfast_sessions /gm)?.length, 1);
  });

  it('has a rule for every gauge Holdfast registers (a gauge read from the store must not be counted once per worker)', async () => {
    const metrics = new Metrics();
    const db = {} as Kysely<Database>;
    watchQueue(metrics, db, Date.now);
    watchBackups(metrics, db, Date.now);
    watchContinuity(
      metrics,
      { db, dialect: 'sqlite' } as never,
      { upstreams: [{}] } as unknown as ContinuitySettings,
      Date.now,
    );
    watchHealth(
      metrics,
      () => ({ results: [] }),
      async () => ({}) as never,
    );
    const defaults = new Registry();
    collectDefaultMetrics({ register: defaults, prefix: 'holdfast_' });
    const own = new Set(defaults.getMetricsAsArray().map((m) => m.name));
    const gauges = metrics.registry
      .getMetricsAsArray()
      .filter((m) => m instanceof Gauge && !own.has(m.name))
      .map((m) => m.name);
    assert.ok(gauges.length >= 19, `found ${gauges}`);
    assert.deepEqual(
      gauges.filter((name) => !(name in machineCombine)),
      [],
      'say in machine-metrics.ts how these add up over the workers',
    );
    for (const m of metrics.registry.getMetricsAsArray())
      if (m instanceof Counter || m instanceof Histogram)
        assert.notEqual(machineCombine[m.name], 'once', `${m.name} is counted by each worker`);
    const figures = await workerFigures(new Registry());
    assert.deepEqual(figures, []);
  });
});

describe('machine-wide metrics: the primary’s gathering', () => {
  const peer = (id: number) => {
    const got: PrimaryMessage[] = [];
    return { peer: { id, send: (m: PrimaryMessage) => got.push(m) } satisfies Peer, got };
  };
  const figures = (name: string): Figure[] => [
    { name, help: 'h', type: 'counter', values: [{ value: 1, labels: {} }] },
  ];

  it('asks the others and answers with their figures once all came', () => {
    const gathering = new MetricsGathering(60_000);
    const asker = peer(1);
    const b = peer(2);
    const c = peer(3);
    gathering.ask(asker.peer, 7, [b.peer, c.peer], 0);
    assert.deepEqual(b.got, [{ holdfast: 'metrics-collect', id: 1 }]);
    gathering.report(2, 1, figures('b'));
    gathering.report(2, 1, figures('again')); // once per worker
    assert.equal(asker.got.length, 0);
    gathering.report(3, 1, figures('c'));
    assert.deepEqual(asker.got, [
      { holdfast: 'metrics-gathered', id: 7, figures: [figures('b'), figures('c')], missing: 0 },
    ]);
    gathering.report(3, 1, figures('late'));
    assert.equal(asker.got.length, 1);
  });

  it('answers after its wait with what came, the rest missing; a worker that exits or cannot read counts as missing', async () => {
    const gathering = new MetricsGathering(50);
    const asker = peer(1);
    gathering.ask(asker.peer, 1, [peer(2).peer, peer(3).peer], 1);
    gathering.report(2, 1, figures('b'));
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(asker.got, [{ holdfast: 'metrics-gathered', id: 1, figures: [figures('b')], missing: 2 }]);

    gathering.ask(asker.peer, 2, [peer(2).peer, peer(3).peer], 0);
    gathering.workerGone(3);
    gathering.report(2, 2, undefined);
    assert.deepEqual(asker.got[1], { holdfast: 'metrics-gathered', id: 2, figures: [], missing: 2 });

    const alone = peer(4);
    gathering.ask(alone.peer, 3, [], 1);
    assert.deepEqual(alone.got, [{ holdfast: 'metrics-gathered', id: 3, figures: [], missing: 1 }]);
    // The asker itself gone: no answer, and nothing left waiting.
    gathering.ask(asker.peer, 4, [peer(2).peer], 0);
    gathering.workerGone(1);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(asker.got.length, 2);
  });
});

describe('holdfast start --workers 2: /metrics for the whole machine', () => {
  let backend: TestBackend;
  let server: StartedServer;
  const open: SmtpTalk[] = [];

  before(async () => {
    backend = await createBackend('sqlite');
    server = await startWithAlice(backend, '[queue]\npoll_interval = "100ms"\n', ['--workers', '2']);
  });
  after(async () => {
    for (const talk of open) talk.close();
    if (server.child.exitCode === null) await server.stop('SIGKILL');
    for (const pid of childrenOf(server.child.pid!)) process.kill(pid, 'SIGKILL');
    await backend.cleanup();
  });

  /**
   * GET /metrics over a new connection (the primary hands each to the workers in turn): the body and
   * the worker that answered, looked up while the connection is still open (kept alive until then).
   */
  const scrape = () =>
    new Promise<{ text: string; worker: number | undefined }>((resolve, reject) => {
      const pids = childrenOf(server.child.pid!);
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      const request = get({ host: '127.0.0.1', port: server.port('http'), path: '/metrics', agent }, (response) => {
        assert.equal(response.statusCode, 200);
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (d) => (text += d));
        response.on('end', () => {
          const worker = holderOf(pids, server.port('http'), (request.socket as Socket).localPort!);
          agent.destroy();
          resolve({ text, worker });
        });
      });
      request.on('error', reject);
    });

  it('shows SMTP sessions and messages handled by different workers in one scrape, whichever worker answers it', async () => {
    const sessions: SmtpTalk[] = [];
    for (let i = 0; i < 2; i++) {
      const { talk, greeting } = await SmtpTalk.open(server.port('smtp'));
      open.push(talk);
      assert.match(greeting, /^220 /);
      assert.match(await talk.send('EHLO client.example'), /^250/);
      assert.match(await talk.send('MAIL FROM:<sender@remote.example>'), /^250 /);
      assert.match(await talk.send('RCPT TO:<alice@test.example>'), /^250 /);
      assert.match(await talk.data(`Subject: counted ${i}\r\n\r\nOne of two.\r\n`), /^250 /);
      sessions.push(talk);
    }
    const pids = childrenOf(server.child.pid!);
    const holders = new Set(
      sessions.map((talk) =>
        holderOf(pids, server.port('smtp'), (talk as unknown as { socket: Socket }).socket.localPort!),
      ),
    );
    assert.equal(holders.size, 2, 'one session on each worker');

    const answeredBy = new Set<number | undefined>();
    for (let i = 0; i < 4; i++) {
      const { text, worker } = await scrape();
      answeredBy.add(worker);
      hasSeries(text, {
        'holdfast_sessions{protocol="smtp"}': 2,
        holdfast_accept_latency_seconds_count: 2,
        'holdfast_forest_connections{forest="default",kind="open"}': 2,
        'holdfast_forest_connections{forest="default",kind="limit"}': 1000,
        'holdfast_scrape_workers{state="reported"}': 2,
        'holdfast_scrape_workers{state="missing"}': 0,
      });
      assert.equal(text.match(/^holdfast_queue_oldest_age_seconds /gm)?.length, 1);
    }
    assert.equal(answeredBy.size, 2, 'both workers answered scrapes');

    // The two deliveries, made by whichever workers claimed them, are counted once each.
    await waitUntil('both deliveries counted', async () => {
      const { text } = await scrape();
      return /^holdfast_delivery_outcomes_total\{outcome="delivered",route="local",code="250"\} 2$/m.test(text);
    });
    for (const talk of sessions) assert.match(await talk.send('QUIT'), /^221 /);
    await waitUntil('the sessions to end', async () => {
      const { text } = await scrape();
      return /^holdfast_sessions\{protocol="smtp"\} 0$/m.test(text);
    });
  });
});
