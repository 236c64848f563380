// Two nodes on one PostgreSQL database: a client IDLEs on the node that serves IMAP while mail is
// received and delivered by the other. The change crosses nodes over LISTEN/NOTIFY, so IDLE wakes
// without the client sending anything.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createBackend, postgresSkip, type TestBackend } from '../helpers/backends.ts';
import { ImapTalk } from '../helpers/imap-talk.ts';
import { startTestNode, type TestNode } from '../helpers/node.ts';
import { submission } from '../helpers/submission.ts';

const password = 'Wonderland-42';

describe('mailbox changes across nodes', { skip: postgresSkip }, () => {
  let backend: TestBackend;
  let imapNode: TestNode;
  let mailNode: TestNode;

  before(async () => {
    backend = await createBackend('postgres');
    imapNode = await startTestNode('postgres', { backend, roles: ['imap'] });
    mailNode = await startTestNode('postgres', {
      backend,
      roles: ['smtp', 'queue'],
      toml: '[queue]\npoll_interval = "100ms"\n',
    });
    const tenant = await imapNode.node.holdfast.directory.tenant('default');
    await tenant.addPrincipal({ kind: 'user', address: 'gina@test.example', password });
  });
  after(async () => {
    await imapNode.stop();
    await mailNode.stop();
    await backend.cleanup();
  });

  it('wakes IDLE on one node when another node delivers', async () => {
    const { talk } = await ImapTalk.open(imapNode.port('imaps'), { tls: true });
    await talk.login('gina@test.example', password);
    assert.match(await talk.command('SELECT INBOX'), /\* 0 EXISTS/);
    talk.write('i1 IDLE\r\n');
    assert.match(await talk.line(), /^\+ /);

    await submission(mailNode.port('submissions'), 'gina@test.example', password).sendMail({
      from: 'gina@test.example',
      to: 'gina@test.example',
      subject: 'Across nodes',
      text: 'hello',
    });
    // Only the mail node runs the queue, so the delivery (and its change event) happen there.
    assert.match(await talk.line(10_000), /^\* 1 EXISTS/);
    talk.write('DONE\r\n');
    talk.close();
  });
});
