// THREAD=ORDEREDSUBJECT and THREAD=REFERENCES (RFC 5256 §2.1, §2.2), checked through the THREAD
// response text a client reads: parents from References, placeholders for messages not in the
// folder, loops and duplicate Message-IDs, joining by base subject, and the order of siblings.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  formatThreads,
  threadByOrderedSubject,
  threadByReferences,
  type ThreadMessage,
} from '../../src/mailbox/threading.ts';

/** Message `id`, sent at second `date` (by default its id, so ids are in date order). */
function message(
  id: number,
  messageId: string | null,
  references: string[],
  subject: string | null,
  date = id,
): ThreadMessage {
  return { id, messageId, references, subject, date: date * 1000 };
}

const byReferences = (messages: ThreadMessage[]) => formatThreads(threadByReferences(messages));
const byOrderedSubject = (messages: ThreadMessage[]) => formatThreads(threadByOrderedSubject(messages));

describe('THREAD=REFERENCES: parents', () => {
  it('follows a References chain', () => {
    assert.equal(
      byReferences([
        message(1, '<a>', [], 'A'),
        message(2, '<b>', ['<a>'], 'Re: A'),
        message(3, '<c>', ['<a>', '<b>'], 'Re: A'),
      ]),
      '(1 2 3)',
    );
  });

  it('writes several replies to one message as parenthesised siblings', () => {
    assert.equal(
      byReferences([
        message(1, '<a>', [], 'A'),
        message(2, '<b>', ['<a>'], 'Re: A'),
        message(3, '<c>', ['<a>'], 'Re: A'),
      ]),
      '(1 (2)(3))',
    );
  });

  it('takes the last reference as the parent, even when an earlier message placed it elsewhere', () => {
    const messages = [
      message(1, '<a>', [], 'A'),
      message(2, '<b>', ['<x>'], 'B'),
      message(3, '<c>', ['<a>', '<x>', '<b>'], 'C'),
    ];
    assert.equal(byReferences(messages), '(1 2 3)');
  });

  it('returns nothing for no messages', () => {
    assert.equal(byReferences([]), '');
    assert.equal(byOrderedSubject([]), '');
  });
});

describe('THREAD=REFERENCES: messages not in the folder (RFC 5256 step 3)', () => {
  it('keeps a placeholder at the root for several replies to a missing message', () => {
    assert.equal(byReferences([message(2, '<b>', ['<x>'], 'B'), message(3, '<c>', ['<x>'], 'C')]), '((2)(3))');
  });

  it('drops a placeholder at the root with a single child', () => {
    assert.equal(byReferences([message(2, '<b>', ['<x>'], 'B')]), '(2)');
  });

  it('lifts the children of a missing message in the middle of a thread to its parent', () => {
    assert.equal(byReferences([message(1, '<a>', [], 'A'), message(3, '<c>', ['<a>', '<missing>'], 'C')]), '(1 3)');
    assert.equal(
      byReferences([
        message(1, '<a>', [], 'A'),
        message(3, '<c>', ['<a>', '<missing>'], 'C'),
        message(4, '<d>', ['<a>', '<missing>'], 'D'),
      ]),
      '(1 (3)(4))',
    );
  });

  it('joins under one placeholder the replies to different missing messages of one missing root', () => {
    assert.equal(
      byReferences([message(1, '<a>', ['<r>', '<r1>'], 'A', 50), message(2, '<c>', ['<r>', '<r2>'], 'C', 10)]),
      '((2)(1))',
    );
  });
});

describe('THREAD=REFERENCES: broken references (RFC 5256 step 1)', () => {
  it('never links a loop: messages referring to each other appear once each', () => {
    const threads = byReferences([message(1, '<a>', ['<b>'], 'A'), message(2, '<b>', ['<a>'], 'B')]);
    assert.equal(threads, '(2 1)');
  });

  it('ignores a message referring to itself', () => {
    assert.equal(byReferences([message(1, '<a>', ['<a>'], 'A')]), '(1)');
    assert.equal(byReferences([message(1, '<a>', ['<a>'], 'A'), message(2, '<b>', ['<a>'], 'B')]), '(1 2)');
  });

  it('lists every message of a longer loop exactly once', () => {
    const messages = [
      message(1, '<a>', ['<c>'], 'A'),
      message(2, '<b>', ['<a>'], 'B'),
      message(3, '<c>', ['<b>'], 'C'),
      message(4, '<d>', ['<c>', '<a>'], 'D'),
    ];
    const ids = byReferences(messages).match(/\d+/g)!.map(Number).sort();
    assert.deepEqual(ids, [1, 2, 3, 4]);
  });

  it('gives the later of two messages with one Message-ID a unique one, so both are threaded', () => {
    assert.equal(
      byReferences([message(1, '<a>', [], 'A'), message(2, '<a>', [], 'A copy'), message(3, '<c>', ['<a>'], 'C')]),
      '(1 3)(2)',
    );
  });

  it('treats messages without a Message-ID as unique', () => {
    assert.equal(
      byReferences([message(1, null, [], 'one'), message(2, null, [], 'two'), message(3, '', [], 'three')]),
      '(1)(2)(3)',
    );
  });
});

describe('THREAD=REFERENCES: joining by subject (RFC 5256 step 5)', () => {
  it('makes a reply the child of the original with the same base subject, whichever came first', () => {
    assert.equal(byReferences([message(1, '<a>', [], 'Hello'), message(2, '<b>', [], 'Re: Hello')]), '(1 2)');
    assert.equal(byReferences([message(1, '<a>', [], 'Re: Hello'), message(2, '<b>', [], 'Hello')]), '(2 1)');
  });

  it('puts two originals with one base subject under a new placeholder, comparing subjects without case', () => {
    assert.equal(byReferences([message(1, '<a>', [], 'Hello'), message(2, '<b>', [], 'HELLO')]), '((1)(2))');
  });

  it('puts a root message under a placeholder root of the same subject', () => {
    const messages = [
      message(1, '<b>', ['<x>'], 'Topic'),
      message(2, '<c>', ['<x>'], 'Re: Topic'),
      message(3, '<d>', [], 'Re: Topic'),
    ];
    assert.equal(byReferences(messages), '((1)(2)(3))');
  });

  it('joins the children of two placeholder roots of the same subject', () => {
    const messages = [
      message(1, '<a>', ['<x>'], 'Topic'),
      message(2, '<b>', ['<x>'], 'Topic'),
      message(3, '<c>', ['<y>'], 'Re: Topic'),
      message(4, '<d>', ['<y>'], 'Re: Topic'),
    ];
    assert.equal(byReferences(messages), '((1)(2)(3)(4))');
  });

  it('never joins by an empty subject', () => {
    assert.equal(
      byReferences([message(1, '<a>', [], ''), message(2, '<b>', [], null), message(3, '<c>', [], 'Re:')]),
      '(1)(2)(3)',
    );
  });

  it('joins only roots: a reply inside another thread stays where its References put it', () => {
    const messages = [
      message(1, '<a>', [], 'Other'),
      message(2, '<b>', ['<a>'], 'Hello'),
      message(3, '<c>', [], 'Hello'),
    ];
    assert.equal(byReferences(messages), '(1 2)(3)');
  });
});

describe('THREAD=REFERENCES: order (RFC 5256 steps 4 and 6)', () => {
  it('orders threads by the date of their root and siblings by date, not by id', () => {
    const messages = [
      message(1, '<a>', [], 'A', 50),
      message(2, '<b>', [], 'B', 10),
      message(3, '<c>', ['<a>'], 'C', 100),
      message(4, '<d>', ['<a>'], 'D', 60),
    ];
    assert.equal(byReferences(messages), '(2)(1 (4)(3))');
  });

  it('orders messages sent at the same time by id', () => {
    assert.equal(byReferences([message(2, '<b>', [], 'B', 5), message(1, '<a>', [], 'A', 5)]), '(1)(2)');
  });
});

describe('THREAD=ORDEREDSUBJECT', () => {
  it('groups by base subject, the first sent message the parent of all the others (RFC 5256 §2.1)', () => {
    const messages = [
      message(1, null, [], 'Hello', 3),
      message(2, null, [], 'Re: hello', 2),
      message(3, null, [], 'Other', 1),
      message(4, null, [], '[list] Fwd: Hello (fwd)', 4),
      message(5, null, [], 'Re: Other', 5),
      message(6, null, [], 'Hello', 9),
    ];
    assert.equal(byOrderedSubject(messages), '(3 5)(2 (1)(4)(6))');
  });

  it('ignores References', () => {
    assert.equal(byOrderedSubject([message(1, '<a>', [], 'One'), message(2, '<b>', ['<a>'], 'Two')]), '(1)(2)');
  });

  it('puts every message without a subject in one thread', () => {
    assert.equal(
      byOrderedSubject([message(1, null, [], null), message(2, null, [], ''), message(3, null, [], 'Re: ')]),
      '(1 (2)(3))',
    );
  });
});

describe('THREAD response text', () => {
  it('writes a single child inline and several children each in parentheses', () => {
    const leaf = (id: number) => ({ message: message(id, null, [], null), children: [] });
    const thread = {
      message: message(3, null, [], null),
      children: [
        {
          ...leaf(6),
          children: [
            { ...leaf(4), children: [leaf(23)] },
            { ...leaf(44), children: [{ ...leaf(7), children: [leaf(96)] }] },
          ],
        },
      ],
    };
    assert.equal(formatThreads([leaf(2), thread]), '(2)(3 6 (4 23)(44 7 96))');
  });
});
