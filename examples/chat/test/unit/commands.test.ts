import { describe, expect, it } from 'vitest';
import { carriesPassword, maskPassword, parseLine } from '../../src/client/commands.js';
import { parseFlags, parseHostPort } from '../../src/cli-args.js';

describe('client command lines', () => {
  it.each([
    ['/register alice pw123456', { kind: 'register', user: 'alice', password: 'pw123456' }],
    ['/login alice pw123456', { kind: 'login', user: 'alice', password: 'pw123456' }],
    ['/logout', { kind: 'logout' }],
    ['/group team bob carol', { kind: 'group', group: 'team', members: ['bob', 'carol'] }],
    ['/add team dave', { kind: 'invite', group: 'team', user: 'dave' }],
    ['/invite team dave', { kind: 'invite', group: 'team', user: 'dave' }],
    ['/accept team', { kind: 'accept', group: 'team' }],
    ['/decline team', { kind: 'decline', group: 'team' }],
    ['/invites', { kind: 'invites' }],
    ['/login alice', { kind: 'login', user: 'alice', password: undefined }],
    ['/register alice', { kind: 'register', user: 'alice', password: undefined }],
    ['/me waves  hello', { kind: 'me', text: 'waves  hello' }],
    ['/edit fixed text', { kind: 'edit', text: 'fixed text' }],
    ['/delete', { kind: 'delete' }],
    ['/status', { kind: 'status' }],
    ['/leave team', { kind: 'leave', group: 'team' }],
    ['/groups', { kind: 'groups' }],
    ['/open team', { kind: 'open', group: 'team' }],
    ['/send team hello   spaced  world', { kind: 'send', group: 'team', text: 'hello   spaced  world' }],
    ['/history team', { kind: 'history', group: 'team', count: undefined, before: undefined }],
    ['/history team 5 120', { kind: 'history', group: 'team', count: 5, before: 120 }],
    ['/who team', { kind: 'who', group: 'team' }],
    ['/quit', { kind: 'quit' }],
    ['  just text  ', { kind: 'say', text: 'just text' }],
    ['', { kind: 'empty' }],
  ])('%s', (line, command) => {
    expect(parseLine(line)).toEqual({ ok: true, command });
  });

  it.each([
    ['/login', 'usage: /login <user> (the password is asked without echo)'],
    ['/register a b c', 'usage: /register <user> (the password is asked without echo)'],
    ['/group team', 'usage: /group <name> <member> [...]'],
    ['/send team', 'usage: /send <group> <text...>'],
    // Defect 8: the user typed "count", so the error speaks of the count, in range terms.
    ['/history team zero', 'count is 1-200 (got "zero")'],
    ['/history team 0', 'count is 1-200 (got "0")'],
    ['/history team 1000', 'count is 1-200 (got "1000")'],
    ['/history team 5 -1', 'before-id is a message id, like 42 (got "-1")'],
    ['/history', 'usage: /history <group> [count] [before-id]'],
    ['/frobnicate', 'unknown command /frobnicate (try /help)'],
  ])('%s is an error', (line, error) => {
    expect(parseLine(line)).toEqual({ ok: false, error });
  });
});

describe('password lines', () => {
  it('recognises and masks a password typed inline', () => {
    expect(carriesPassword('/login alice s3cret-pw')).toBe(true);
    expect(carriesPassword('/REGISTER bob hunter2hunter2')).toBe(true);
    expect(carriesPassword('/login alice')).toBe(false);
    expect(carriesPassword('/send team /login alice pw')).toBe(false);
    expect(maskPassword('/login alice s3cret-pw')).toBe('/login alice ********');
  });
});

describe('command-line flags', () => {
  it('parses --name value and --name=value, and rejects unknown options', () => {
    expect(parseFlags(['--db', 'x.db', '--port=7000'], ['db', 'port'])).toEqual(new Map([['db', 'x.db'], ['port', '7000']]));
    expect(() => parseFlags(['--bogus', '1'], ['db'])).toThrow('unknown option --bogus');
    expect(() => parseFlags(['--db'], ['db'])).toThrow('--db needs a value');
  });

  it('parses host:port', () => {
    expect(parseHostPort('127.0.0.1:7777')).toEqual({ host: '127.0.0.1', port: 7777 });
    expect(parseHostPort('[::1]:7777')).toEqual({ host: '::1', port: 7777 });
    expect(parseHostPort(':9')).toEqual({ host: '127.0.0.1', port: 9 });
    expect(() => parseHostPort('localhost')).toThrow('expected host:port');
    expect(() => parseHostPort('h:70000')).toThrow('invalid port');
  });
});
