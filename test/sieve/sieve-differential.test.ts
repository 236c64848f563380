// Sieve semantics against Debian's Pigeonhole: every script of the grid is run on every message by
// `sieve-test` and by our interpreter, and the actions each reports are compared (normal form in
// pigeonhole.ts). Differences we mean are listed in `deliberate` with the reason; any other fails
// the test. Skipped, saying so, where sieve-test is not installed (apt-get install dovecot-sieve).
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Sieve scripts write variables as ${name}
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { compileScript } from '../../src/sieve/compile.ts';
import { runScript } from '../../src/sieve/interpreter.ts';
import { SieveError } from '../../src/sieve/sieve-error.ts';
import { SieveMessage } from '../../src/sieve/sieve-message.ts';
import { hasSieveTest, Pigeonhole, sieveActions } from './pigeonhole.ts';

const crlf = (lines: string[]) => `${lines.join('\r\n')}\r\n`;
const me = 'me@example.com';

const messages: Record<string, { from: string; text: string }> = {
  plain: {
    from: 'alice@example.org',
    text: crlf([
      'Return-Path: <alice@example.org>',
      'Received: from mx.example.org by mail.example.com; Sat, 05 Dec 2026 10:00:01 +0000',
      'From: Alice Example <alice@example.org>',
      'To: Me <me@example.com>',
      'Subject: Meeting tomorrow',
      'Date: Sat, 05 Dec 2026 11:00:00 +0100',
      'Message-ID: <m1@example.org>',
      'X-Spam-Score: 7',
      '',
      'Can we meet tomorrow at ten?',
      'Alice',
    ]),
  },
  list: {
    from: 'owner-talk@lists.example.net',
    text: crlf([
      'From: "Bob B." <Bob@Lists.Example.Net>',
      'To: talk@lists.example.net',
      'Cc: me@example.com, Carol <carol@example.com>',
      'Subject: [talk] Weekly digest',
      'List-Id: Talk list <talk.lists.example.net>',
      'Precedence: bulk',
      'Date: Fri, 04 Dec 2026 23:30:00 -0800',
      'X-Spam-Score: 12',
      'X-Priority: 3',
      '',
      'Digest body: invoice, INVOICE, Invoice.',
    ]),
  },
  multipart: {
    from: 'shop@store.example',
    text: crlf([
      'From: Store <shop@store.example>',
      'To: me@example.com',
      'Subject: =?UTF-8?B?w4l0w6kgc2FsZQ==?=',
      'Date: Thu, 3 Dec 2026 08:05:09 GMT',
      'MIME-Version: 1.0',
      'Content-Type: multipart/alternative; boundary="b1"',
      '',
      '--b1',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      'Summer sale: 50% off everything =E2=82=AC',
      '--b1',
      'Content-Type: text/html; charset=utf-8',
      'Content-Transfer-Encoding: base64',
      '',
      Buffer.from('<p>Summer <b>sale</b> coupon</p>').toString('base64'),
      '--b1--',
    ]),
  },
  numbers: {
    // sieve-test takes no null reverse path (-f ""): the null sender is tested in sieve-delivery.test.ts.
    from: 'mailer-daemon@example.net',
    text: crlf([
      'Received: from a.example by b.example; Wed, 02 Dec 2026 01:00:00 +0000',
      'Received: from c.example by a.example; Wed, 02 Dec 2026 00:59:00 +0000',
      'From: MAILER-DAEMON@example.net',
      'To: me@example.com',
      'Subject: Undelivered Mail Returned to Sender',
      'Auto-Submitted: auto-replied',
      'X-Priority: 1',
      'X-Spam-Score: 0012',
      'Date: Wed, 02 Dec 2026 01:00:00 +0530',
      '',
      'The message could not be delivered.',
    ]),
  },
  attachment: {
    from: 'Dave@Partner.Example',
    text: crlf([
      'From: dave@partner.example',
      'To: Team: me@example.com, Erin <erin@example.com>;',
      'Cc: undisclosed-recipients:;',
      'Subject: Contract (final) v2 [urgent]',
      'Date: 1 Dec 2026 17:45 -0000',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="zz"',
      '',
      'preamble',
      '--zz',
      'Content-Type: text/plain',
      '',
      'See the attached contract. Reply by Friday.',
      '--zz',
      'Content-Type: application/pdf; name="contract.pdf"',
      'Content-Disposition: attachment; filename="contract.pdf"',
      'Content-Transfer-Encoding: base64',
      '',
      ...Array.from(
        { length: 40 },
        () => 'JVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5ndGggNiAwIFIvRmlsdGVyIC9GbGF0ZURlY29kZT4+',
      ),
      '--zz--',
    ]),
  },
};

const all =
  '["fileinto", "envelope", "imap4flags", "body", "variables", "relational", "comparator-i;ascii-numeric", "copy", "mailbox", "date", "index", "regex", "editheader", "vacation", "vacation-seconds", "reject", "encoded-character"]';

/** The user's other scripts, which the grid's include scripts include. */
const personal: Record<string, string> = {
  helper: 'require "fileinto"; fileinto "FromInclude";',
  globals: 'require ["include", "variables"]; global "who"; set "who" "${who}-inner";',
  returner: 'require ["include", "fileinto"]; fileinto "Before"; return; fileinto "After";',
};

/** The grid's scripts: each uses what it needs; together they cover every extension we offer but ereject (Pigeonhole 2.3 has none). */
const scripts: Record<string, string> = {
  'implicit keep': '# nothing\n',
  keep: 'keep;',
  discard: 'discard;',
  stop: 'stop; discard;',
  'fileinto subject': 'require "fileinto"; if header :contains "subject" "meeting" { fileinto "Work"; }',
  'fileinto copy': 'require ["fileinto", "copy"]; fileinto :copy "Archive";',
  'fileinto create': 'require ["fileinto", "mailbox"]; fileinto :create "Lists/Talk";',
  'fileinto twice': 'require "fileinto"; fileinto "A"; fileinto "A"; keep; keep;',
  'discard then fileinto': 'require "fileinto"; discard; fileinto "A";',
  'header is': 'if header :is "subject" "Meeting tomorrow" { discard; }',
  'header is octet': 'if header :is :comparator "i;octet" "subject" "meeting tomorrow" { discard; }',
  'header matches': 'require "fileinto"; if header :matches "subject" "*digest" { fileinto "Digest"; }',
  'header matches ?': 'require "fileinto"; if header :matches "subject" "M??ting*" { fileinto "M"; }',
  'header matches escaped':
    'require "fileinto"; if header :matches "subject" "*\\\\[urgent\\\\]" { fileinto "Urgent"; } elsif header :matches "subject" "*(final)*" { fileinto "Final"; }',
  'encoded words': 'require "fileinto"; if header :contains "subject" "Été" { fileinto "Sale"; }',
  exists:
    'require "fileinto"; if exists ["List-Id", "Precedence"] { fileinto "Lists"; } elsif exists "x-priority" { fileinto "P"; }',
  'anyof allof not':
    'require "fileinto"; if anyof (not exists "date", allof (header :contains "from" "alice", header :contains "to" "me")) { fileinto "Alice"; }',
  'size over': 'require "fileinto"; if size :over 1K { fileinto "Big"; } elsif size :under 300 { fileinto "Small"; }',
  'address all': 'require "fileinto"; if address :is "from" "bob@lists.example.net" { fileinto "Bob"; }',
  'address localpart': 'require "fileinto"; if address :localpart :is ["to", "cc"] "me" { fileinto "Me"; }',
  'address domain': 'require "fileinto"; if address :domain :is "from" "example.org" { fileinto "Org"; }',
  'address group': 'require "fileinto"; if address :is "to" "erin@example.com" { fileinto "Erin"; }',
  'address count':
    'require ["fileinto", "relational", "comparator-i;ascii-numeric"]; if address :count "ge" :comparator "i;ascii-numeric" ["to", "cc"] "2" { fileinto "Many"; }',
  'envelope from':
    'require ["fileinto", "envelope"]; if envelope :domain :is "from" "lists.example.net" { fileinto "ListEnv"; }',
  'envelope null': 'require ["fileinto", "envelope"]; if envelope :is "from" "" { fileinto "Bounces"; }',
  'envelope to': 'require ["fileinto", "envelope"]; if envelope :localpart :is "to" "me" { fileinto "ToMe"; }',
  'numeric value':
    'require ["fileinto", "relational", "comparator-i;ascii-numeric"]; if header :value "ge" :comparator "i;ascii-numeric" "x-spam-score" "10" { fileinto "Junk"; }',
  'numeric is':
    'require ["fileinto", "comparator-i;ascii-numeric"]; if header :is :comparator "i;ascii-numeric" "x-spam-score" "12" { fileinto "Twelve"; }',
  'value lt text': 'require ["fileinto", "relational"]; if header :value "lt" "subject" "N" { fileinto "AtoM"; }',
  'count headers':
    'require ["fileinto", "relational", "comparator-i;ascii-numeric"]; if header :count "eq" :comparator "i;ascii-numeric" "received" "2" { fileinto "TwoHops"; }',
  regex: 'require ["fileinto", "regex"]; if header :regex "subject" "^\\\\[[a-z]+\\\\] " { fileinto "Tagged"; }',
  'regex class': 'require ["fileinto", "regex"]; if header :regex "subject" "v[[:digit:]]+" { fileinto "Versioned"; }',
  'regex octet':
    'require ["fileinto", "regex"]; if header :regex :comparator "i;octet" "subject" "^meeting" { fileinto "Lower"; } else { fileinto "Other"; }',
  'regex captures':
    'require ["fileinto", "regex", "variables"]; if header :regex "subject" "^\\\\[([a-z]+)\\\\] (.*)$" { fileinto "List/${1}"; }',
  'matches captures':
    'require ["fileinto", "variables"]; if address :matches "from" "*@*" { fileinto "From/${2}/${1}"; }',
  'set modifiers':
    'require ["fileinto", "variables"]; set :upperfirst :lower "x" "WORK"; set :length "n" "${x}"; fileinto "${x}-${n}";',
  'set quotewildcard':
    'require ["fileinto", "variables"]; set :quotewildcard "p" "*digest"; if header :matches "subject" "${p}" { fileinto "Q"; } else { fileinto "NotQ"; }',
  'string test':
    'require ["fileinto", "variables"]; if header :matches "from" "*<*>" { set "a" "${2}"; } if string :contains "${a}" "lists" { fileinto "S"; }',
  'string count':
    'require ["fileinto", "variables", "relational"]; if string :count "eq" ["a", "", "b"] "2" { fileinto "Two"; }',
  flags:
    'require ["imap4flags", "fileinto"]; addflag "\\\\Seen"; fileinto "A"; addflag "$Label1"; removeflag "\\\\seen"; keep;',
  'flags setflag hasflag':
    'require ["imap4flags", "fileinto"]; setflag ["\\\\Flagged", "work"]; if hasflag :is "WORK" { fileinto :flags "\\\\Answered" "F"; }',
  'flags variable':
    'require ["imap4flags", "variables", "fileinto"]; setflag "mine" "a b"; addflag "mine" "c"; if hasflag :count "eq" "mine" "3" { addflag "\\\\Seen"; } keep :flags "${mine}";',
  'implicit keep flags': 'require "imap4flags"; addflag "\\\\Flagged";',
  redirect: 'redirect "bob@example.net";',
  'redirect copy twice':
    'require "copy"; redirect :copy "bob@example.net"; redirect :copy "bob@example.net"; redirect "carol@example.net";',
  'redirect invalid': 'require "variables"; set "a" "not an address"; redirect "${a}";',
  reject: 'require "reject"; if header :contains "subject" "sale" { reject "No sales mail, thank you."; }',
  'reject with fileinto': 'require ["reject", "fileinto"]; fileinto "A"; reject "no";',
  vacation: 'require "vacation"; vacation "I am away until Monday.";',
  'vacation options':
    'require "vacation"; vacation :days 3 :subject "Away" :from "me@example.com" :addresses ["me@example.com"] :handle "h1" "Back soon";',
  'vacation days 0': 'require "vacation"; vacation :days 0 "x";',
  'vacation seconds': 'require ["vacation", "vacation-seconds"]; vacation :seconds 3600 "Back in an hour";',
  'vacation seconds day': 'require ["vacation", "vacation-seconds"]; vacation :seconds 90000 "Back tomorrow";',
  'vacation days 100': 'require "vacation"; vacation :days 100 "Back next season";',
  'vacation then discard': 'require "vacation"; vacation "away"; discard;',
  'body text':
    'require ["body", "fileinto"]; if body :contains "coupon" { fileinto "HtmlText"; } elsif body :contains "attached" { fileinto "Attached"; }',
  'body raw': 'require ["body", "fileinto"]; if body :raw :contains "=E2=82=AC" { fileinto "Raw"; }',
  'body content': 'require ["body", "fileinto"]; if body :content "text/plain" :contains "50%" { fileinto "Plain"; }',
  'body case':
    'require ["body", "fileinto"]; if body :text :is :comparator "i;octet" "x" { fileinto "No"; } elsif body :matches "*invoice*" { fileinto "Invoice"; }',
  'date parts':
    'require ["date", "fileinto", "variables", "relational"]; if date :originalzone "date" "year" "2026" { if date :originalzone :value "lt" "date" "hour" "12" { fileinto "Morning"; } else { fileinto "Afternoon"; } }',
  'date zone':
    'require ["date", "fileinto", "variables"]; if date :zone "+0000" "date" "date" "*" { fileinto "${0}"; }',
  'date weekday':
    'require ["date", "fileinto", "variables"]; if date :zone "-0500" "date" "weekday" "*" { set "w" "${1}"; } fileinto "W${w}";',
  'date iso8601':
    'require ["date", "fileinto", "variables"]; if date :originalzone "date" "iso8601" "*" { fileinto "I${1}"; }',
  'date std11 julian':
    'require ["date", "fileinto", "variables"]; if date :zone "+0200" "date" "julian" "*" { set "j" "${0}"; } if date :zone "+0200" "date" "std11" "*" { fileinto "${j} ${0}"; }',
  'date zone part':
    'require ["date", "fileinto", "variables"]; if date :originalzone "date" "zone" "*" { fileinto "Z${0}"; }',
  currentdate:
    'require ["date", "relational", "fileinto"]; if currentdate :value "ge" "year" "2020" { fileinto "Now"; }',
  index:
    'require ["index", "fileinto"]; if header :index 2 :contains "received" "c.example" { fileinto "Second"; } if header :index 1 :last :contains "received" "c.example" { fileinto "Last"; }',
  editheader:
    'require ["editheader", "fileinto"]; addheader "X-Filtered" "yes"; if header :is "x-filtered" "yes" { deleteheader "subject"; } if not exists "subject" { fileinto "Edited"; }',
  'editheader last':
    'require ["editheader", "fileinto", "index"]; addheader :last "X-A" "1"; addheader "X-A" "2"; if header :index 1 :is "x-a" "2" { fileinto "First2"; }',
  'editheader match':
    'require ["editheader", "fileinto"]; deleteheader :matches "x-spam-score" "1*"; if exists "x-spam-score" { fileinto "Kept"; }',
  'editheader protected':
    'require ["editheader", "fileinto", "relational", "comparator-i;ascii-numeric"]; deleteheader "received"; if header :count "ge" :comparator "i;ascii-numeric" "received" "1" { fileinto "StillThere"; }',
  mailboxexists: 'require ["mailbox", "fileinto"]; if mailboxexists "INBOX" { fileinto "HasInbox"; }',
  'encoded-character':
    'require ["encoded-character", "fileinto"]; if header :contains "subject" "${hex:4d 65}eting" { fileinto "${unicode:263a}"; }',
  'all extensions': `require ${all}; if allof (header :contains "to" "me", not header :regex "subject" "^x$") { set "f" "all"; fileinto :copy :flags "\\\\Seen" "\${f}"; }`,
  include: 'require ["include"]; include :personal "helper"; include :optional "nothere"; keep;',
  'include once': 'require ["include"]; include :once "helper"; include :once "helper";',
  'include global':
    'require ["include", "variables", "fileinto"]; global "who"; set "who" "outer"; include "globals"; fileinto "${who}";',
  'include return': 'require ["include", "fileinto"]; include "returner"; fileinto "Main";',
  'include missing': 'require "include"; include "nothere";',
  'unknown capability': 'require "frobnicate"; keep;',
  'missing require': 'fileinto "A";',
  'syntax error': 'if header "subject" "x" keep;',
  'unknown test': 'if frob "x" { keep; }',
  'bad tag': 'require "fileinto"; fileinto :frob "A";',
  'numeric contains':
    'require "comparator-i;ascii-numeric"; if header :contains :comparator "i;ascii-numeric" "x" "1" { keep; }',
  'bad regex': 'require "regex"; if header :regex "subject" "(" { keep; }',
  'elsif without if': 'elsif true { keep; }',
  'text multiline': 'require ["vacation"]; vacation text:\r\nI am away.\r\n..dot-stuffed\r\n.\r\n;',
};

/**
 * Differences we mean, by script, with the reason. (Message names narrow one to some messages.)
 */
const deliberate: Record<string, { messages?: string[]; reason: string }> = {
  'include missing': {
    reason:
      'an include of a script that does not exist is found when the script runs (the user may upload it later), a runtime error; Pigeonhole refuses the script when it compiles. Either way the message is kept in the INBOX',
  },
  'value lt text': {
    messages: ['list'],
    reason:
      'i;ascii-casemap orders as RFC 4790 9.2 says, letters mapped to upper case ("[" sorts after "N"), as our IMAP SORT does; Pigeonhole maps them to lower case ("[" before "n")',
  },
  'string test': {
    messages: ['list'],
    reason:
      'the string test compares with i;ascii-casemap unless told otherwise (RFC 5228 2.7.3, RFC 5229 5); Pigeonhole 2.3 uses i;octet there, so "Lists" does not contain "lists"',
  },
  'vacation days 100': {
    reason:
      'a sender is answered again after 90 days at most, as the automatic reply set through JMAP or the CLI (mailbox/vacation.ts); Pigeonhole has no upper bound by default (sieve_vacation_max_period = 0)',
  },
};

describe('Sieve against Pigeonhole (sieve-test)', {
  skip: hasSieveTest() ? false : 'sieve-test is not installed (apt-get install dovecot-sieve)',
}, () => {
  let pigeonhole: Pigeonhole;
  before(async () => {
    pigeonhole = await Pigeonhole.start(personal);
  });
  after(() => pigeonhole?.stop());

  it(`gives the actions sieve-test gives on ${Object.keys(scripts).length} scripts × ${Object.keys(messages).length} messages`, async () => {
    const pairs = Object.entries(scripts).flatMap(([scriptName, script]) =>
      Object.entries(messages).map(([messageName, message]) => ({ scriptName, script, messageName, message })),
    );
    const differences: string[] = [];
    const explained = new Set<string>();
    let next = 0;
    const worker = async (w: number) => {
      while (next < pairs.length) {
        const index = next++;
        const { scriptName, script, messageName, message } = pairs[index]!;
        const envelope = { from: message.from, to: me };
        // A file name of its own per run: sieve-test reuses a compiled script younger than its source.
        const theirs = await pigeonhole.actions(`w${w}-${index}`, script, message.text, envelope);
        const ours = ourActions(script, message.text, envelope);
        if (JSON.stringify(theirs) === JSON.stringify(ours)) continue;
        const known = deliberate[scriptName];
        if (known && (!known.messages || known.messages.includes(messageName))) {
          explained.add(scriptName);
          continue;
        }
        differences.push(
          `${scriptName} × ${messageName}:\n   sieve-test ${JSON.stringify(theirs)}\n   holdfast   ${JSON.stringify(ours)}`,
        );
      }
    };
    await Promise.all([0, 1, 2, 3].map(worker));
    assert.equal(differences.length, 0, `differences from sieve-test:\n${differences.join('\n')}`);
    // Every difference listed still happens (a stale entry would hide nothing, but mislead).
    assert.deepEqual([...explained].sort(), Object.keys(deliberate).sort());
  });
});

function ourActions(script: string, message: string, envelope: { from: string; to: string }): string[] {
  let compiled: ReturnType<typeof compileScript>;
  try {
    compiled = compileScript(script);
  } catch (error) {
    if (error instanceof SieveError) return ['compile-error'];
    throw error;
  }
  const source = Buffer.from(message);
  try {
    const result = runScript(compiled, new SieveMessage(source, source.length), {
      envelope,
      now: Date.now(),
      folders: new Set(['INBOX']),
      scripts: new Map(Object.entries(personal).map(([name, text]) => [name, compileScript(text)])),
    });
    return sieveActions(result);
  } catch (error) {
    if (error instanceof SieveError && error.runtime) return ['error'];
    throw error;
  }
}
