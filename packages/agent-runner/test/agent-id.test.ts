import { InvalidAgentIdError, UnknownAgentClassError, formatAgentId, parseAgentId } from '../src';

describe('agent identity', () => {
  test.each([
    ['ocf:heartbeat:Dummy', { class: 'ocf', provider: 'heartbeat', type: 'Dummy' }],
    ['lsb:atd', { class: 'lsb', type: 'atd' }],
    ['systemd:nginx', { class: 'systemd', type: 'nginx' }],
    ['systemd:getty@tty1.service', { class: 'systemd', type: 'getty@tty1.service' }],
    ['upstart:foo', { class: 'upstart', type: 'foo' }],
    ['service:x', { class: 'service', type: 'x' }],
  ])('parses %s and formats it back', (spec, id) => {
    expect(parseAgentId(spec)).toEqual(id);
    expect(formatAgentId(parseAgentId(spec))).toBe(spec);
  });

  test('rejects an unknown class, naming the known ones', () => {
    expect(() => parseAgentId('stonith2:x')).toThrow(UnknownAgentClassError);
    expect(() => parseAgentId('stonith2:x')).toThrow(/stonith2/);
  });

  test.each(['Dummy', 'ocf:Dummy', 'ocf:heartbeat:', 'lsb:', 'lsb:../etc/passwd', ':x'])(
    'rejects malformed %p with a message naming it',
    (spec) => {
      expect(() => parseAgentId(spec)).toThrow(InvalidAgentIdError);
    },
  );
});
