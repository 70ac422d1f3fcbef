/** Domain XML for libvirt-LXC application containers. */
import { InvalidConfigError } from './errors';
import type { GuestLimits } from './limits';
import { checkLimits, limitsXml } from './limits';
import {
  block,
  checkAbsolutePath,
  checkIpv4,
  checkMac,
  checkName,
  checkPositiveInt,
  checkUuid,
  el,
  esc,
  macFromName,
  parseCidr,
} from './xml';

/** A veth interface attached to a bridge, with a fixed MAC and (optionally) a static IPv4 address. */
export interface BridgeInterface {
  /** Bridge name on the libvirtd side (e.g. `br0`). */
  readonly bridge: string;
  /** Fixed MAC (default: derived from the domain name and the interface index). */
  readonly mac?: string;
  /** `10.213.0.11/24`: configured inside the container by libvirt. */
  readonly ip?: string;
  /** Default route via this address. */
  readonly gateway?: string;
  /** Name of the host-side veth device (default: libvirt picks `vnetN`). */
  readonly hostDevice?: string;
}

/** A host directory mounted into the container (a bind mount). */
export interface BindMount {
  readonly source: string;
  readonly target: string;
  readonly readonly?: boolean;
}

export interface LxcContainerSpec {
  readonly name: string;
  readonly uuid?: string;
  /** Memory size, MiB (the container's `<memory>`; also its cgroup limit unless limits say otherwise). */
  readonly memoryMiB: number;
  readonly vcpus?: number;
  /** Absolute path of the container's init (its PID 1), e.g. from {@link remotedInit}. */
  readonly init: string;
  readonly initArgs?: readonly string[];
  /** Environment of the init (libvirt sets a minimal one: PATH=/bin:/sbin, container=lxc-libvirt). */
  readonly initEnv?: Readonly<Record<string, string>>;
  /** Working directory of the init. */
  readonly initDir?: string;
  /**
   * Root filesystem: a host directory that becomes `/` (own root), or
   * undefined to share the host's root filesystem (libvirt still gives the
   * container its own /proc, /sys, /dev and /dev/pts).
   */
  readonly rootfs?: string;
  /** Mount the own root read-only. */
  readonly rootfsReadonly?: boolean;
  readonly mounts?: readonly BindMount[];
  /** Network: none means the container shares libvirtd's network namespace. */
  readonly interfaces?: readonly BridgeInterface[];
  readonly limits?: GuestLimits;
  /** Keep a pty console (default true; `virsh console` works and init's stdout has somewhere to go). */
  readonly console?: boolean;
}

function checkEnvName(field: string, key: string): void {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) {
    throw new InvalidConfigError(
      field,
      `${JSON.stringify(key)} is not a valid environment variable name`,
    );
  }
}

function interfaceXml(name: string, i: number, spec: BridgeInterface): string[] {
  const where = `interfaces[${i}]`;
  if (typeof spec.bridge !== 'string' || !/^[A-Za-z0-9_.-]{1,15}$/.test(spec.bridge)) {
    throw new InvalidConfigError(
      `${where}.bridge`,
      `expected a bridge device name, got ${JSON.stringify(spec.bridge)}`,
    );
  }
  const mac =
    spec.mac === undefined ? macFromName(`${name}#${i}`) : checkMac(`${where}.mac`, spec.mac);
  const lines = [el('source', { bridge: spec.bridge }), el('mac', { address: mac })];
  if (spec.ip !== undefined) {
    const { address, prefix } = parseCidr(`${where}.ip`, spec.ip);
    lines.push(el('ip', { address, family: 'ipv4', prefix }));
  }
  if (spec.gateway !== undefined) {
    lines.push(
      el('route', {
        family: 'ipv4',
        address: '0.0.0.0',
        prefix: 0,
        gateway: checkIpv4(`${where}.gateway`, spec.gateway),
      }),
    );
  }
  if (spec.hostDevice !== undefined) {
    if (!/^[A-Za-z0-9_.-]{1,15}$/.test(spec.hostDevice))
      throw new InvalidConfigError(
        `${where}.hostDevice`,
        `expected a device name of at most 15 characters, got ${JSON.stringify(spec.hostDevice)}`,
      );
    lines.push(el('target', { dev: spec.hostDevice }));
  }
  return [`<interface type='bridge'>`, block(2, lines), '</interface>'];
}

/**
 * The domain XML of a libvirt-LXC application container (`<os><type>exe`):
 * its init runs as PID 1 in new PID, mount, UTS, IPC (and, with interfaces,
 * network) namespaces, in cgroups that carry the limits.
 *
 * ```ts
 * const xml = lxcContainer({
 *   name: 'guest1', memoryMiB: 256,
 *   ...remotedInit({ nodeName: 'guest1', authKeyFile: '/etc/pacemaker/authkey' }),
 *   interfaces: [{ bridge: 'br0', ip: '10.213.0.11/24' }],
 *   limits: { memoryHardLimitMiB: 256, cpuShares: 512, cpuQuotaUs: 50_000, cpuPeriodUs: 100_000 },
 * });
 * ```
 */
export function lxcContainer(spec: LxcContainerSpec): string {
  if (typeof spec !== 'object' || spec === null)
    throw new InvalidConfigError('spec', 'expected an object');
  const name = checkName('name', spec.name);
  const memory = checkPositiveInt('memoryMiB', spec.memoryMiB, 2 ** 40);
  const vcpus = spec.vcpus === undefined ? 1 : checkPositiveInt('vcpus', spec.vcpus, 4096);
  const init = checkAbsolutePath('init', spec.init);
  const os: string[] = [`<type>exe</type>`, `<init>${esc(init)}</init>`];
  (spec.initArgs ?? []).forEach((arg, i) => {
    if (typeof arg !== 'string')
      throw new InvalidConfigError(`initArgs[${i}]`, 'expected a string');
    os.push(`<initarg>${esc(arg)}</initarg>`);
  });
  for (const [key, value] of Object.entries(spec.initEnv ?? {})) {
    checkEnvName(`initEnv.${key}`, key);
    if (typeof value !== 'string')
      throw new InvalidConfigError(`initEnv.${key}`, 'expected a string');
    os.push(el('initenv', { name: key }, esc(value)));
  }
  if (spec.initDir !== undefined)
    os.push(`<initdir>${esc(checkAbsolutePath('initDir', spec.initDir))}</initdir>`);
  if (spec.limits !== undefined) checkLimits('limits', spec.limits);

  const devices: string[] = [];
  if (spec.rootfs !== undefined) {
    const source = checkAbsolutePath('rootfs', spec.rootfs);
    devices.push(
      `<filesystem type='mount' accessmode='passthrough'>`,
      block(2, [
        el('source', { dir: source }),
        el('target', { dir: '/' }),
        ...(spec.rootfsReadonly ? ['<readonly/>'] : []),
      ]),
      '</filesystem>',
    );
  }
  (spec.mounts ?? []).forEach((m, i) => {
    const source = checkAbsolutePath(`mounts[${i}].source`, m.source);
    const target = checkAbsolutePath(`mounts[${i}].target`, m.target);
    devices.push(
      `<filesystem type='mount' accessmode='passthrough'>`,
      block(2, [
        el('source', { dir: source }),
        el('target', { dir: target }),
        ...(m.readonly ? ['<readonly/>'] : []),
      ]),
      '</filesystem>',
    );
  });
  (spec.interfaces ?? []).forEach((iface, i) => devices.push(...interfaceXml(name, i, iface)));
  if (spec.console ?? true) devices.push(`<console type='pty'/>`);

  return [
    `<domain type='lxc'>`,
    `  <name>${esc(name)}</name>`,
    ...(spec.uuid !== undefined ? [`  <uuid>${esc(checkUuid('uuid', spec.uuid))}</uuid>`] : []),
    `  <memory unit='MiB'>${memory}</memory>`,
    ...limitsXml(2, spec.limits),
    `  <vcpu>${vcpus}</vcpu>`,
    '  <os>',
    block(4, os),
    '  </os>',
    '  <on_poweroff>destroy</on_poweroff>',
    '  <on_reboot>restart</on_reboot>',
    '  <on_crash>destroy</on_crash>',
    '  <devices>',
    block(4, devices),
    '  </devices>',
    '</domain>',
    '',
  ].join('\n');
}
