/** Domain XML for KVM / QEMU virtual machines. */
import { InvalidConfigError } from './errors';
import type { GuestLimits } from './limits';
import { checkLimits, limitsXml } from './limits';
import {
  block,
  checkAbsolutePath,
  checkMac,
  checkName,
  checkPositiveInt,
  checkUuid,
  el,
  esc,
  macFromName,
} from './xml';

/** Boot from a disk image (the first disk). */
export interface DiskBoot {
  readonly disk: string;
  /** Image format (default `qcow2`). */
  readonly format?: 'qcow2' | 'raw';
  /** Attach it read-only (e.g. a shared base image). */
  readonly readonly?: boolean;
}

/** Boot a kernel directly (with an initramfs and a command line). */
export interface KernelBoot {
  readonly kernel: string;
  readonly initrd?: string;
  readonly cmdline?: string;
}

export interface VmInterface {
  /** Attach to a host bridge... */
  readonly bridge?: string;
  /** ...or to a libvirt network. */
  readonly network?: string;
  /** Fixed MAC (default: derived from the domain name and the interface index). */
  readonly mac?: string;
  /** NIC model (default `virtio`). */
  readonly model?: string;
}

/** A host folder shared with the guest over 9p (virtio-9p): `mount -t 9p -o trans=virtio <tag> /mnt` inside. */
export interface VmShare {
  /** The host folder (absolute). */
  readonly source: string;
  /** The mount tag the guest mounts (up to 31 characters). */
  readonly tag: string;
  /** Read-only for the guest (default true). */
  readonly readonly?: boolean;
  /** libvirt's accessmode (default `passthrough`: the guest sees the host's owners and modes). */
  readonly accessMode?: 'passthrough' | 'mapped' | 'squash';
}

export interface QemuVmSpec {
  readonly name: string;
  readonly uuid?: string;
  /** `kvm` (hardware virtualisation, the default) or `qemu` (software emulation, slow but works everywhere). */
  readonly type?: 'kvm' | 'qemu';
  readonly memoryMiB: number;
  readonly vcpus?: number;
  /** Guest architecture (default `x86_64`). */
  readonly arch?: string;
  /** Machine type (default `pc`). */
  readonly machine?: string;
  /** The QEMU binary (default: libvirt picks one for the arch). */
  readonly emulator?: string;
  readonly boot: DiskBoot | KernelBoot;
  /** More disks (vdb, vdc, ...). */
  readonly disks?: readonly {
    readonly path: string;
    readonly format?: 'qcow2' | 'raw';
    readonly readonly?: boolean;
  }[];
  readonly interfaces?: readonly VmInterface[];
  readonly limits?: GuestLimits;
  /** Host folders shared over 9p. QEMU refuses to migrate a guest while one is mounted. */
  readonly shares?: readonly VmShare[];
  /** A serial console on a pty (default true: `console=ttyS0` kernels print there). */
  readonly serialConsole?: boolean;
  /** Append everything the serial console prints to this host file (absolute; needs `serialConsole`); a migrated guest's destination appends to its own file of that path. */
  readonly consoleLog?: string;
}

function diskXml(
  field: string,
  path: unknown,
  index: number,
  format: string | undefined,
  ro: boolean | undefined,
): string[] {
  const source = checkAbsolutePath(field, path);
  const fmt = format ?? 'qcow2';
  if (fmt !== 'qcow2' && fmt !== 'raw')
    throw new InvalidConfigError(
      `${field}.format`,
      `expected qcow2 or raw, got ${JSON.stringify(fmt)}`,
    );
  const dev = `vd${String.fromCharCode(97 + index)}`;
  return [
    `<disk type='file' device='disk'>`,
    block(2, [
      el('driver', { name: 'qemu', type: fmt }),
      el('source', { file: source }),
      el('target', { dev, bus: 'virtio' }),
      ...(ro ? ['<readonly/>'] : []),
    ]),
    '</disk>',
  ];
}

/**
 * The domain XML of a KVM or QEMU virtual machine.
 *
 * ```ts
 * const xml = qemuVm({ name: 'vm1', type: 'qemu', memoryMiB: 256,
 *   boot: { kernel: '/srv/vmlinuz', initrd: '/srv/initrd.img', cmdline: 'console=ttyS0' },
 *   interfaces: [{ bridge: 'br0' }] });
 * ```
 */
export function qemuVm(spec: QemuVmSpec): string {
  if (typeof spec !== 'object' || spec === null)
    throw new InvalidConfigError('spec', 'expected an object');
  const name = checkName('name', spec.name);
  const type = spec.type ?? 'kvm';
  if (type !== 'kvm' && type !== 'qemu')
    throw new InvalidConfigError('type', `expected kvm or qemu, got ${JSON.stringify(type)}`);
  const memory = checkPositiveInt('memoryMiB', spec.memoryMiB, 2 ** 40);
  const vcpus = spec.vcpus === undefined ? 1 : checkPositiveInt('vcpus', spec.vcpus, 4096);
  const arch = spec.arch ?? 'x86_64';
  if (!/^[a-z0-9_]+$/.test(arch))
    throw new InvalidConfigError(
      'arch',
      `expected an architecture like x86_64, got ${JSON.stringify(arch)}`,
    );
  const machine = spec.machine ?? 'pc';
  if (spec.limits !== undefined) checkLimits('limits', spec.limits);
  if (typeof spec.boot !== 'object' || spec.boot === null) {
    throw new InvalidConfigError('boot', 'expected { disk } or { kernel, initrd?, cmdline? }');
  }

  const os: string[] = [el('type', { arch, machine }, 'hvm')];
  const devices: string[] = [];
  if (spec.emulator !== undefined)
    devices.push(`<emulator>${esc(checkAbsolutePath('emulator', spec.emulator))}</emulator>`);
  let diskIndex = 0;
  if ('disk' in spec.boot) {
    devices.push(
      ...diskXml('boot.disk', spec.boot.disk, diskIndex++, spec.boot.format, spec.boot.readonly),
    );
    os.push(el('boot', { dev: 'hd' }));
  } else if ('kernel' in spec.boot) {
    os.push(`<kernel>${esc(checkAbsolutePath('boot.kernel', spec.boot.kernel))}</kernel>`);
    if (spec.boot.initrd !== undefined)
      os.push(`<initrd>${esc(checkAbsolutePath('boot.initrd', spec.boot.initrd))}</initrd>`);
    if (spec.boot.cmdline !== undefined) os.push(`<cmdline>${esc(spec.boot.cmdline)}</cmdline>`);
  } else {
    throw new InvalidConfigError('boot', 'expected { disk } or { kernel, initrd?, cmdline? }');
  }
  (spec.disks ?? []).forEach((d, i) =>
    devices.push(...diskXml(`disks[${i}].path`, d.path, diskIndex++, d.format, d.readonly)),
  );
  (spec.interfaces ?? []).forEach((iface, i) => {
    const where = `interfaces[${i}]`;
    if ((iface.bridge === undefined) === (iface.network === undefined)) {
      throw new InvalidConfigError(where, 'give exactly one of bridge or network');
    }
    const mac =
      iface.mac === undefined ? macFromName(`${name}#${i}`) : checkMac(`${where}.mac`, iface.mac);
    const source =
      iface.bridge !== undefined
        ? el('source', { bridge: iface.bridge })
        : el('source', { network: iface.network });
    devices.push(
      `<interface type='${iface.bridge !== undefined ? 'bridge' : 'network'}'>`,
      block(2, [
        source,
        el('mac', { address: mac }),
        el('model', { type: iface.model ?? 'virtio' }),
      ]),
      '</interface>',
    );
  });
  (spec.shares ?? []).forEach((share, i) => {
    const where = `shares[${i}]`;
    const source = checkAbsolutePath(`${where}.source`, share.source);
    if (typeof share.tag !== 'string' || !/^[A-Za-z0-9_.-]{1,31}$/.test(share.tag))
      throw new InvalidConfigError(
        `${where}.tag`,
        `expected 1-31 letters, digits, '_', '.' or '-', got ${JSON.stringify(share.tag)}`,
      );
    const mode = share.accessMode ?? 'passthrough';
    if (!['passthrough', 'mapped', 'squash'].includes(mode))
      throw new InvalidConfigError(
        `${where}.accessMode`,
        `expected passthrough, mapped or squash, got ${JSON.stringify(mode)}`,
      );
    devices.push(
      `<filesystem type='mount' accessmode='${mode}'>`,
      block(2, [
        el('source', { dir: source }),
        el('target', { dir: share.tag }),
        ...((share.readonly ?? true) ? ['<readonly/>'] : []),
      ]),
      '</filesystem>',
    );
  });
  const serial = spec.serialConsole ?? true;
  if (spec.consoleLog !== undefined && !serial)
    throw new InvalidConfigError('consoleLog', 'needs the serial console (serialConsole: true)');
  if (serial) {
    const log =
      spec.consoleLog === undefined
        ? ''
        : el('log', { file: checkAbsolutePath('consoleLog', spec.consoleLog), append: 'on' });
    devices.push(
      `<serial type='pty'>${log}<target port='0'/></serial>`,
      `<console type='pty'><target type='serial' port='0'/></console>`,
    );
  }

  return [
    `<domain type='${type}'>`,
    `  <name>${esc(name)}</name>`,
    ...(spec.uuid !== undefined ? [`  <uuid>${esc(checkUuid('uuid', spec.uuid))}</uuid>`] : []),
    `  <memory unit='MiB'>${memory}</memory>`,
    ...limitsXml(2, spec.limits),
    `  <vcpu>${vcpus}</vcpu>`,
    '  <os>',
    block(4, os),
    '  </os>',
    '  <features><acpi/></features>',
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
