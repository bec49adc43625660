/**
 * Plays the README's session on real processes (a server at the production scrypt cost and two
 * clients driven through pipes) and prints what each printed: `npx tsx scripts/transcript.ts`.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startClient, startServer } from '../test/support/processes.js';

const dir = mkdtempSync(join(tmpdir(), 'chat-transcript-'));
const { proc: server, port } = await startServer(join(dir, 'chat.db'), 0, { CHAT_INSECURE_SCRYPT_LOG2N: '' });
const alice = await startClient('alice', port, ['--timestamps', 'on']);
const bob = await startClient('bob', port, ['--timestamps', 'on']);
const log: string[] = [];
const say = async (who: typeof alice, name: string, line: string, expect: RegExp | string) => {
  log.push(`${name}> ${line}`);
  await who.command(line, expect, 20_000);
};
await say(alice, 'alice', '/register alice correct-horse-battery', /^logged in as alice/);
await say(bob, 'bob', '/register bob tr0ub4dor-and-3', /^logged in as bob/);
await say(alice, 'alice', '/group team bob', /^created team/);
await bob.waitFor(/invites you to team/);
await say(bob, 'bob', '/accept team', /^joined team/);
await alice.waitFor('* bob joined team');
await say(alice, 'alice', '/send team lunch at noon?', /^stored #/);
await bob.waitFor(/lunch at noon/);
await alice.waitFor(/seen by 1 of 1/);
await say(bob, 'bob', '/open team', '--- plain lines now go to team ---');
await say(bob, 'bob', 'yes, the usual place', /^stored #/);
await alice.waitFor(/yes, the usual place/);
await bob.waitFor(/#2 seen by 1 of 1/);
await say(alice, 'alice', '/open team', '--- plain lines now go to team ---');
await say(alice, 'alice', '/me books a table', /^stored #/);
await bob.waitFor(/books a table/);
await say(alice, 'alice', 'I booked a table for tow', /^stored #/);
await say(alice, 'alice', '/edit I booked a table for two', /^edited #/);
await bob.waitFor(/was edited/);
await say(alice, 'alice', '/who team', /^team: /);
await say(bob, 'bob', '/logout', 'logged out');
await say(alice, 'alice', '/send team see you there', /^stored #/);
await say(bob, 'bob', '/login bob tr0ub4dor-and-3', /^logged in as bob/);
await bob.waitFor(/see you there/);
await say(bob, 'bob', '/history team 3', /\(more:|#\d+ \[team\]/);
await say(bob, 'bob', '/open secret-club', /NOT_FOUND/);
await say(bob, 'bob', '/status', /^server /);
await say(alice, 'alice', '/groups', /^team /);
await new Promise((r) => setTimeout(r, 300));
alice.write('/quit');
bob.write('/quit');
await Promise.all([alice.exited, bob.exited]);
server.kill('SIGTERM');
await server.exited;
console.log('=== server'); console.log(server.lines.join('\n'));
console.log('=== alice'); console.log(alice.lines.join('\n'));
console.log('=== bob'); console.log(bob.lines.join('\n'));
console.log('=== inputs'); console.log(log.join('\n'));
