// The change feed's channel between nodes (store/postgres-channel.ts): payloads given together go
// out in one statement, and every node gets each of them, in order.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../../src/logging/logger.ts';
import { PostgresChannel } from '../../src/store/postgres-channel.ts';
import { createBackend, postgresSkip, type TestBackend } from '../helpers/backends.ts';

describe('PostgreSQL channel between nodes', { skip: postgresSkip }, () => {
  let backend: TestBackend;
  const received: string[][] = [[], []];
  let nodes: PostgresChannel[];

  before(async () => {
    backend = await createBackend('postgres');
    const url = (backend.location as { url: string }).url;
    nodes = await Promise.all(
      [0, 1].map((i) =>
        new PostgresChannel(
          url,
          'holdfast_test_channel',
          (payload) => received[i]!.push(payload),
          silentLogger(),
        ).start(),
      ),
    );
  });
  after(async () => {
    await Promise.all(nodes.map((node) => node.stop()));
    await backend.cleanup();
  });

  it('delivers payloads sent in one turn, and while a send is under way, to every node in order', async () => {
    const payloads = Array.from({ length: 5 }, (_, i) =>
      JSON.stringify({ change: i, text: `quote " comma , brace { ${i}` }),
    );
    const sent = payloads.slice(0, 3).map((p) => nodes[0]!.notify(p));
    await new Promise((resolve) => setImmediate(resolve)); // the first send is under way
    sent.push(...payloads.slice(3).map((p) => nodes[0]!.notify(p)));
    await Promise.all(sent);
    const deadline = Date.now() + 5000;
    while (received.some((list) => list.length < payloads.length) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(received, [payloads, payloads]);
  });
});
