/**
 * Domain XML builders (checked against libvirt's own RNG schemas with
 * virt-xml-validate), parsers and the OCF state mapping.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OcfRc } from '@remora/agent-runner';
import type { VirshFailure } from '@remora/libvirt-launcher';
import {
  DomainState,
  InvalidConfigError,
  LibvirtUnreachableError,
  MigrationFailedError,
  domainNameFromXml,
  lxcContainer,
  macFromName,
  ocfRcForState,
  parseDomState,
  parseEventLine,
  qemuVm,
  remotedInit,
} from '@remora/libvirt-launcher';
import { errorFor } from '../src/classify';
import { migrationTargetUri } from '../src/ocf-agent';

const canValidate = existsSync('/usr/bin/virt-xml-validate') && existsSync('/usr/bin/xmllint');
if (!canValidate)
  console.warn(
    'schema checks skipped: virt-xml-validate or xmllint missing (libvirt-clients, libxml2-utils)',
  );

/** libvirt's schema check of a domain XML; returns '' when valid, else the validator's message. */
function schemaErrors(xml: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'remora-xml-'));
  try {
    writeFileSync(join(dir, 'd.xml'), xml);
    execFileSync('virt-xml-validate', [join(dir, 'd.xml'), 'domain'], { stdio: 'pipe' });
    return '';
  } catch (err) {
    return String((err as { stderr?: Buffer }).stderr ?? err);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const expectValid = (xml: string): void => {
  if (canValidate) expect(schemaErrors(xml)).toBe('');
};

describe('lxcContainer', () => {
  const init = remotedInit({
    nodeName: 'guest1',
    authKeyFile: '/etc/pacemaker/authkey',
    remora: '/usr/local/bin/remora',
  });

  it('builds an application container running remora remoted, with a bridge, fixed MAC, IP and limits', () => {
    const xml = lxcContainer({
      name: 'guest1',
      memoryMiB: 256,
      ...init,
      interfaces: [
        { bridge: 'br0', ip: '10.213.0.11/24', gateway: '10.213.0.1', mac: '52:54:00:AA:00:0B' },
      ],
      limits: {
        memoryHardLimitMiB: 256,
        memorySoftLimitMiB: 128,
        cpuShares: 512,
        cpuPeriodUs: 100_000,
        cpuQuotaUs: 50_000,
      },
    });
    expect(xml).toContain(`<domain type='lxc'>`);
    expect(xml).toContain('<init>/usr/local/bin/remora</init>');
    expect(xml).toContain(
      '<initarg>remoted</initarg>\n    <initarg>--listen</initarg>\n    <initarg>0.0.0.0:3121</initarg>',
    );
    expect(xml).toContain('<initarg>/run/remora/guests/guest1/remoted.sock</initarg>');
    expect(xml).toContain('<initenv name="HA_RSCTMP">/run/remora/guests/guest1</initenv>');
    expect(xml).toContain('<mac address="52:54:00:aa:00:0b"/>');
    expect(xml).toContain('<ip address="10.213.0.11" family="ipv4" prefix="24"/>');
    expect(xml).toContain('gateway="10.213.0.1"');
    expect(xml).toContain("<hard_limit unit='MiB'>256</hard_limit>");
    expect(xml).toContain('<quota>50000</quota>');
    expect(xml).not.toContain('<filesystem'); // shares the host's root
    expect(domainNameFromXml(xml)).toBe('guest1');
    expectValid(xml);
  });

  it('gives each guest a stable MAC when none is given, and supports an own root and bind mounts', () => {
    const a = lxcContainer({
      name: 'g',
      memoryMiB: 64,
      init: '/sbin/init',
      interfaces: [{ bridge: 'br0' }],
    });
    const b = lxcContainer({
      name: 'g',
      memoryMiB: 64,
      init: '/sbin/init',
      interfaces: [{ bridge: 'br0' }],
    });
    expect(a).toBe(b);
    expect(macFromName('g#0')).toMatch(/^52:54:00(:[0-9a-f]{2}){3}$/);
    const own = lxcContainer({
      name: 'rooted',
      memoryMiB: 64,
      init: '/sbin/init',
      rootfs: '/srv/guests/rooted',
      rootfsReadonly: true,
      mounts: [{ source: '/usr', target: '/usr', readonly: true }],
    });
    expect(own).toContain('<source dir="/srv/guests/rooted"/>');
    expect(own).toContain('<target dir="/"/>');
    expectValid(own);
  });

  it('escapes XML special characters in arguments', () => {
    const xml = lxcContainer({
      name: 'esc',
      memoryMiB: 64,
      init: '/bin/sh',
      initArgs: ['-c', 'echo "<a & b>"'],
    });
    expect(xml).toContain('<initarg>echo &quot;&lt;a &amp; b&gt;&quot;</initarg>');
    expectValid(xml);
  });

  it.each([
    [
      { name: 'bad name', memoryMiB: 64, init: '/sbin/init' },
      /^name: "bad name" is not a usable domain name/,
    ],
    [{ name: 'g', memoryMiB: 0, init: '/sbin/init' }, /^memoryMiB: expected a whole number/],
    [{ name: 'g', memoryMiB: 64, init: 'sbin/init' }, /^init: expected an absolute path/],
    [
      {
        name: 'g',
        memoryMiB: 64,
        init: '/i',
        interfaces: [{ bridge: 'br0', mac: '01:00:00:00:00:01' }],
      },
      /^interfaces\[0\]\.mac: .* multicast/,
    ],
    [
      {
        name: 'g',
        memoryMiB: 64,
        init: '/i',
        interfaces: [{ bridge: 'br0', ip: '10.0.0.300/24' }],
      },
      /^interfaces\[0\]\.ip: expected an IPv4 address/,
    ],
    [
      { name: 'g', memoryMiB: 64, init: '/i', interfaces: [{ bridge: 'br0', ip: '10.0.0.3' }] },
      /^interfaces\[0\]\.ip: expected an IPv4 address with prefix/,
    ],
    [
      { name: 'g', memoryMiB: 64, init: '/i', limits: { cpuQuotaUs: 10 } },
      /^limits\.cpuQuotaUs: must be >= 1000/,
    ],
    [
      {
        name: 'g',
        memoryMiB: 64,
        init: '/i',
        limits: { memoryHardLimitMiB: 64, memorySwapHardLimitMiB: 32 },
      },
      /^limits\.memorySwapHardLimitMiB: must be >= memoryHardLimitMiB/,
    ],
    [
      { name: 'g', memoryMiB: 64, init: '/i', initEnv: { 'A-B': 'x' } },
      /^initEnv\.A-B: .* not a valid environment variable name/,
    ],
    [
      { name: 'g', memoryMiB: 64, init: '/i', mounts: [{ source: 'rel', target: '/x' }] },
      /^mounts\[0\]\.source: expected an absolute path/,
    ],
  ])('rejects bad input naming the field (%#)', (spec, message) => {
    let error: unknown;
    try {
      lxcContainer(spec as never);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(InvalidConfigError);
    expect((error as Error).message).toMatch(message);
  });

  it('checks remotedInit options', () => {
    expect(() => remotedInit({ nodeName: 'g', authKeyFile: 'key', remora: '/r' })).toThrow(
      /^authKeyFile: expected an absolute path/,
    );
    expect(() =>
      remotedInit({ nodeName: 'g', authKeyFile: '/k', remora: '/r', listen: '3121' }),
    ).toThrow(/^listen: expected host:port/);
  });
});

describe('qemuVm', () => {
  it('builds a software-emulated VM booting a kernel and initramfs, valid for libvirt', () => {
    const xml = qemuVm({
      name: 'vm1',
      type: 'qemu',
      memoryMiB: 256,
      vcpus: 2,
      boot: { kernel: '/srv/vmlinuz', initrd: '/srv/initrd.img', cmdline: 'console=ttyS0 quiet' },
      interfaces: [{ bridge: 'br0' }],
      limits: { memoryHardLimitMiB: 512, cpuShares: 2048 },
    });
    expect(xml).toContain(`<domain type='qemu'>`);
    expect(xml).toContain('<kernel>/srv/vmlinuz</kernel>');
    expect(xml).toContain('<vcpu>2</vcpu>');
    expect(xml).toContain(`<interface type='bridge'>`);
    expectValid(xml);
  });

  it('builds a KVM VM booting from a disk image', () => {
    const xml = qemuVm({
      name: 'vm2',
      memoryMiB: 1024,
      boot: { disk: '/var/lib/libvirt/images/vm2.qcow2' },
      disks: [{ path: '/srv/data.raw', format: 'raw' }],
      interfaces: [{ network: 'default', mac: '52:54:00:00:00:02' }],
    });
    expect(xml).toContain(`<domain type='kvm'>`);
    expect(xml).toContain('<target dev="vda" bus="virtio"/>');
    expect(xml).toContain('<target dev="vdb" bus="virtio"/>');
    expect(xml).toContain('<boot dev="hd"/>');
    expectValid(xml);
  });

  it('shares host folders over 9p and logs the serial console to a file', () => {
    const xml = qemuVm({
      name: 'vm3',
      type: 'qemu',
      memoryMiB: 256,
      boot: { kernel: '/boot/vmlinuz', cmdline: 'console=ttyS0' },
      shares: [
        { source: '/', tag: 'hostroot' },
        { source: '/srv/data', tag: 'data', readonly: false, accessMode: 'mapped' },
      ],
      consoleLog: '/var/log/remora/vm3.console.log',
    });
    expect(xml).toContain(`<filesystem type='mount' accessmode='passthrough'>`);
    expect(xml).toContain('<target dir="hostroot"/>');
    expect(xml).toContain(`<filesystem type='mount' accessmode='mapped'>`);
    expect(xml.match(/<readonly\/>/g)).toHaveLength(1);
    expect(xml).toContain(
      `<serial type='pty'><log file="/var/log/remora/vm3.console.log" append="on"/><target port='0'/></serial>`,
    );
    expectValid(xml);
  });

  it('rejects bad input naming the field', () => {
    expect(() =>
      qemuVm({
        name: 'v',
        memoryMiB: 64,
        boot: { kernel: '/k' },
        shares: [{ source: '/', tag: 'a b' }],
      }),
    ).toThrow(/^shares\[0\]\.tag: expected 1-31 letters/);
    expect(() =>
      qemuVm({
        name: 'v',
        memoryMiB: 64,
        boot: { kernel: '/k' },
        shares: [{ source: 'rel', tag: 't' }],
      }),
    ).toThrow(/^shares\[0\]\.source/);
    expect(() =>
      qemuVm({
        name: 'v',
        memoryMiB: 64,
        boot: { kernel: '/k' },
        serialConsole: false,
        consoleLog: '/tmp/c.log',
      }),
    ).toThrow(/^consoleLog: needs the serial console/);
    expect(() => qemuVm({ name: 'v', memoryMiB: 64, boot: {} as never })).toThrow(
      /^boot: expected \{ disk \}/,
    );
    expect(() =>
      qemuVm({ name: 'v', memoryMiB: 64, type: 'xen' as never, boot: { kernel: '/k' } }),
    ).toThrow(/^type: expected kvm or qemu/);
    expect(() =>
      qemuVm({
        name: 'v',
        memoryMiB: 64,
        boot: { kernel: '/k' },
        interfaces: [{ bridge: 'b', network: 'n' }],
      }),
    ).toThrow(/^interfaces\[0\]: give exactly one of bridge or network/);
  });
});

describe("classifying libvirt's failures", () => {
  const fail = (libvirtMessage: string): VirshFailure => ({
    uri: 'qemu:///system?socket=/run/a/libvirt-sock',
    args: ['migrate'],
    exitCode: 1,
    libvirtMessage,
  });
  const migrate = {
    kind: 'migrate',
    domain: 'vm1',
    destination: 'qemu+tcp://node2/system',
  } as const;

  it('tells a migration channel that cannot connect from an unreachable libvirtd', () => {
    const refused = errorFor(
      fail("unable to connect to server at 'node2:49152': Connection refused"),
      migrate,
    );
    expect(refused).toBeInstanceOf(MigrationFailedError);
    expect(refused.message).toMatch(/^migrating 'vm1' from .* failed: .*give migrateUri/);
    expect(
      errorFor(
        fail(
          "failed to connect to the hypervisor; Failed to connect socket to '/run/b/libvirt-sock': No such file or directory",
        ),
        migrate,
      ),
    ).toBeInstanceOf(LibvirtUnreachableError);
    // QEMU's migration blockers (a mounted 9p share) are named as libvirt says them
    const blocked = errorFor(
      fail(
        "Requested operation is not valid: cannot migrate domain: Migration is disabled when VirtFS export path '/' is mounted in the guest using mount_tag 'hostroot'",
      ),
      migrate,
    );
    expect(blocked).toBeInstanceOf(MigrationFailedError);
    expect(blocked.message).toContain('VirtFS');
  });

  it('does not call a missing virtlogd an unreachable libvirtd', () => {
    const err = errorFor(
      fail("Failed to connect socket to '/run/libvirt/virtlogd-sock': No such file or directory"),
      { kind: 'command', domain: 'vm1' },
    );
    expect(err).not.toBeInstanceOf(LibvirtUnreachableError);
    expect(err.message).toContain('virtlogd-sock');
  });
});

describe('parsers and the OCF mapping', () => {
  it('parses virsh event lines', () => {
    expect(
      parseEventLine(
        "2026-11-30 14:55:55.491+0000: event 'lifecycle' for domain 'c1': Stopped Shutdown",
      ),
    ).toEqual({
      at: Date.parse('2026-11-30T14:55:55.491+00:00'),
      domain: 'c1',
      type: 'lifecycle',
      event: 'Stopped',
      detail: 'Shutdown',
    });
    expect(
      parseEventLine("2026-11-30 14:55:55.491+0000: event 'reboot' for domain 'c1'"),
    ).toMatchObject({ type: 'reboot', detail: '' });
    expect(parseEventLine('virsh # event --all --loop')).toBeUndefined();
  });

  it('maps domain states to OCF monitor results as VirtualDomain does', () => {
    expect(parseDomState('running (booted)')).toEqual({ state: 'running', reason: 'booted' });
    expect(parseDomState('shut off')).toEqual({ state: 'shut off', reason: '' });
    expect(() => parseDomState('exploded')).toThrow(/unknown state: "exploded"/);
    const rc = (s: DomainState): OcfRc => ocfRcForState(s);
    expect(
      ['running', 'idle', 'blocked', 'paused', 'in shutdown', 'pmsuspended'].map((s) =>
        rc(s as DomainState),
      ),
    ).toEqual(Array(6).fill(OcfRc.SUCCESS));
    expect(rc(DomainState.SHUT_OFF)).toBe(OcfRc.NOT_RUNNING);
    expect(rc(DomainState.ABSENT)).toBe(OcfRc.NOT_RUNNING);
    expect(rc(DomainState.CRASHED)).toBe(OcfRc.ERR_GENERIC);
    expect(rc(DomainState.NO_STATE)).toBe(OcfRc.ERR_GENERIC);
  });

  it('builds migration target URIs as VirtualDomain does', () => {
    expect(migrationTargetUri({}, 'qemu:///system', 'node2')).toBe('qemu://node2/system');
    expect(
      migrationTargetUri(
        {
          OCF_RESKEY_migration_transport: 'ssh',
          OCF_RESKEY_migration_user: 'root',
          OCF_RESKEY_migration_network_suffix: '-mig',
        },
        'qemu:///system',
        'node2',
      ),
    ).toBe('qemu+ssh://root@node2-mig/system');
    expect(
      migrationTargetUri({ OCF_RESKEY_remoteuri: 'lxc+tls://%n/system' }, 'lxc:///system', 'node3'),
    ).toBe('lxc+tls://node3/system');
  });

  it('reads the name of a user-supplied domain XML', () => {
    expect(
      domainNameFromXml(
        "<!-- <name>no</name> --><domain type='kvm'>\n  <name> web&amp;1 </name></domain>",
      ),
    ).toBe('web&1');
    expect(() => domainNameFromXml('<network><name>x</name></network>', '/etc/x.xml')).toThrow(
      /^\/etc\/x\.xml: no <domain> element/,
    );
  });
});
