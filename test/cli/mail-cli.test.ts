import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { backendNames, createBackend, skipFor, type TestBackend } from '../helpers/backends.ts';
import { initHoldfast, loopbackEnv, runHoldfast, startHoldfast, type StartedServer } from '../helpers/cli.ts';
import { submission } from '../helpers/submission.ts';

for (const name of backendNames) {
  describe(`holdfast queue, trace and dkim commands on ${name}`, { skip: skipFor(name) }, () => {
    let backend: TestBackend;
    let env: Record<string, string>;
    let server: StartedServer;
    const json = async (...args: string[]) => {
      const result = await runHoldfast([...args, '--json'], { env });
      assert.equal(result.code, 0, `holdfast ${args.join(' ')}: ${result.stdout}${result.stderr}`);
      return JSON.parse(result.stdout);
    };

    before(async () => {
      backend = await createBackend(name);
      env = loopbackEnv(backend.dataDir, {
        HOLDFAST_DATABASE_URL: backend.databaseUrl,
        HOLDFAST_ADMIN_PASSWORD: 'Keep-Mail-Flowing-42',
      });
      await initHoldfast(env);
      await json('user', 'add', 'alice@test.example', '--password', 'Wonderland-42');
      // No queue role: accepted mail waits in the queue for the commands to look at.
      server = await startHoldfast(env, ['--roles', 'smtp,http']);
      const transport = nodemailer.createTransport({
        host: '127.0.0.1',
        port: server.port('smtp'),
        secure: false,
        ignoreTLS: true,
      });
      await transport.sendMail({
        from: 'bob@outside.example',
        to: 'alice@test.example',
        subject: 'waiting mail',
        text: 'hi',
        messageId: '<wait-1@outside.example>',
      });
    });
    after(async () => {
      await server.stop();
      await backend.cleanup();
    });

    it('lists, shows, holds, releases and retries queued mail', async () => {
      const [entry] = await json('queue', 'list', '--domain', 'test.example');
      assert.equal(entry.recipient, 'alice@test.example');
      assert.equal(entry.state, 'queued');
      const id = String(entry.messageId);
      const shown = await json('queue', 'show', id);
      assert.equal(shown.subject, 'waiting mail');
      assert.deepEqual(
        shown.trace.map((e: { event: string }) => e.event),
        ['received', 'queued'],
      );
      assert.deepEqual(await json('queue', 'hold', id), { held: Number(id) });
      assert.equal((await json('queue', 'list'))[0].held, true);
      assert.deepEqual(await json('queue', 'release', id), { released: Number(id) });
      assert.deepEqual(await json('queue', 'retry', '--domain', 'test.example'), { retried: 1 });
      const text = await runHoldfast(['queue', 'list'], { env });
      assert.match(text.stdout, /^MESSAGE\s+RECIPIENT\s+STATE/m);
      assert.match(text.stdout, /alice@test\.example\s+queued/);
      const missing = await runHoldfast(['queue', 'show', '4242'], { env });
      assert.equal(missing.code, 1);
      assert.equal(missing.stderr.trim(), 'holdfast: no message 4242 in the queue');
    });

    it('traces a message by recipient, sender and Message-ID', async () => {
      for (const filter of [
        ['--recipient', 'alice@test.example'],
        ['--sender', 'bob@outside.example'],
        ['--message-id', 'wait-1@outside.example'],
      ]) {
        const [traced] = await json('trace', ...filter, '--since', '1h');
        assert.equal(traced.subject, 'waiting mail', `found by ${filter[0]}`);
        assert.deepEqual(traced.events.map((e: { event: string }) => e.event).slice(0, 2), ['received', 'queued']);
      }
      const none = await runHoldfast(['trace'], { env });
      assert.equal(none.stderr.trim(), 'holdfast: give --sender, --recipient or --message-id');
    });

    it('prints every time as ISO 8601 UTC to the second (list, show, insight, trace)', async () => {
      const transport = submission(server.port('submissions'), 'alice@test.example', 'Wonderland-42');
      const info = await transport.sendMail({
        from: 'alice@test.example',
        to: 'carol@remote.example',
        subject: 'to the outside',
        text: 'hi',
      });
      const id = /queued as (\d+)/.exec(info.response)![1]!;
      const outputs = {
        list: (await runHoldfast(['queue', 'list'], { env })).stdout,
        show: (await runHoldfast(['queue', 'show', id], { env })).stdout,
        insight: (await runHoldfast(['queue', 'insight'], { env })).stdout,
        trace: (await runHoldfast(['trace', '--sender', 'alice@test.example'], { env })).stdout,
      };
      const iso = /\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/;
      for (const [command, text] of Object.entries(outputs)) {
        assert.match(text, iso, `${command} prints ISO 8601 times: ${text}`);
        assert.doesNotMatch(
          text,
          /\d\d:\d\d:\d\d\.\d{3}|\d{4}-\d\d-\d\d \d\d:/,
          `${command} prints no other time format: ${text}`,
        );
      }
      assert.match(
        outputs.insight,
        new RegExp(`remote\\.example: 1 waiting \\(0 deferred, 0 in flight\\) since ${iso.source}`),
      );
    });

    it('prints the DKIM record to publish, and rotates the key', async () => {
      const [record] = await json('dkim', 'show', 'test.example');
      assert.match(record.name, /^hf\d{8}\._domainkey\.test\.example$/);
      assert.match(record.value, /^v=DKIM1; k=rsa; p=[A-Za-z0-9+/=]{300,}$/);
      const rotated = await json('dkim', 'rotate', 'test.example');
      assert.notEqual(rotated.selector, record.selector);
      const records = await json('dkim', 'show', 'test.example');
      assert.deepEqual(
        records.map((r: { active: boolean }) => r.active),
        [false, true],
      );
      const unknown = await runHoldfast(['dkim', 'show', 'nowhere.example'], { env });
      assert.equal(unknown.stderr.trim(), 'holdfast: unknown domain "nowhere.example"');
    });
  });
}
