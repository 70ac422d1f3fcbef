/**
 * A tiny QEMU guest the QEMU tests build themselves: Debian's kernel
 * (linux-image-amd64: /boot/vmlinuz-<v> and its modules) and an initramfs
 * made here — a static busybox (busybox-static), the virtio/9p modules the
 * init loads, and an init script. No disk image, no download.
 */
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  realpathSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';

export interface GuestKernel {
  readonly version: string;
  readonly kernel: string;
  readonly modulesDir: string;
}

export interface QemuPrerequisites {
  readonly ok: boolean;
  /** Why the QEMU tests cannot run here (empty when they can). */
  readonly reason: string;
  readonly kernel?: GuestKernel;
}

const BUSYBOX = '/bin/busybox';
const QEMU = '/usr/bin/qemu-system-x86_64';

/** The newest /boot/vmlinuz-<v> whose modules are installed. */
export function findGuestKernel(): GuestKernel | undefined {
  let entries: string[];
  try {
    entries = readdirSync('/boot');
  } catch {
    return undefined;
  }
  const versions = entries
    .filter((f) => f.startsWith('vmlinuz-'))
    .map((f) => f.slice('vmlinuz-'.length))
    .filter((v) => existsSync(join('/lib/modules', v, 'kernel')))
    .sort((a, b) => b.localeCompare(a, undefined, { numeric: true }));
  const version = versions[0];
  if (version === undefined) return undefined;
  return {
    version,
    kernel: join('/boot', `vmlinuz-${version}`),
    modulesDir: join('/lib/modules', version),
  };
}

/** Whether an x86-64 ELF executable is static (no PT_INTERP program header). */
function isStaticElf(path: string): boolean {
  let elf: Buffer;
  try {
    elf = readFileSync(path);
  } catch {
    return false;
  }
  if (elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2) return false; // ELF64
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  const phnum = elf.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) {
    if (elf.readUInt32LE(phoff + i * phentsize) === 3) return false; // PT_INTERP
  }
  return true;
}

/** What the QEMU tests need: qemu-system-x86, a Debian kernel with modules, a static busybox, libvirt's QEMU driver. */
export function qemuPrerequisites(): QemuPrerequisites {
  const no = (reason: string): QemuPrerequisites => ({ ok: false, reason });
  if (!existsSync(QEMU)) return no(`${QEMU} missing: install the Debian package qemu-system-x86`);
  if (!existsSync('/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so'))
    return no(
      "libvirt's QEMU driver missing: install the Debian package libvirt-daemon-driver-qemu",
    );
  if (!isStaticElf(BUSYBOX))
    return no(`${BUSYBOX} missing or not static: install the Debian package busybox-static`);
  const kernel = findGuestKernel();
  if (!kernel)
    return no(
      'no /boot/vmlinuz-<version> with /lib/modules/<version>: install the Debian package linux-image-amd64',
    );
  return { ok: true, reason: '', kernel };
}

/** Path of a module (`virtio_pci`) below the kernel's module tree. */
function findModule(modulesDir: string, name: string): string {
  const want = new Set([`${name}.ko`, `${name.replace(/_/g, '-')}.ko`]);
  const stack = [join(modulesDir, 'kernel')];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) stack.push(join(dir, entry.name));
      else if (want.has(entry.name)) return join(dir, entry.name);
    }
  }
  throw new Error(
    `kernel module ${name} not found below ${modulesDir} (compressed modules are not supported)`,
  );
}

/** A module's `depends=` from its .modinfo strings. */
function moduleDepends(file: string): string[] {
  const data = readFileSync(file);
  const at = data.indexOf('\0depends=');
  if (at < 0) return [];
  const end = data.indexOf(0, at + 1);
  return data
    .subarray(at + '\0depends='.length, end)
    .toString('latin1')
    .split(',')
    .filter(Boolean);
}

/** The modules and their dependencies, dependencies first (the order insmod needs). */
export function moduleClosure(
  modulesDir: string,
  names: readonly string[],
): { name: string; file: string }[] {
  const ordered: { name: string; file: string }[] = [];
  const seen = new Set<string>();
  const visit = (name: string): void => {
    if (seen.has(name)) return;
    seen.add(name);
    const file = findModule(modulesDir, name);
    for (const dep of moduleDepends(file)) visit(dep);
    ordered.push({ name, file });
  };
  for (const name of names) visit(name);
  return ordered;
}

type CpioEntry =
  | { readonly path: string; readonly type: 'dir' }
  | { readonly path: string; readonly type: 'file'; readonly data: Buffer; readonly mode: number }
  | { readonly path: string; readonly type: 'symlink'; readonly target: string };

/** A gzip'd cpio archive in the kernel's "newc" format. */
function cpioNewc(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  const pad = (len: number): void => {
    if (len % 4) parts.push(Buffer.alloc(4 - (len % 4)));
  };
  let ino = 1;
  const put = (name: string, mode: number, body: Buffer, nlink: number): void => {
    const fields = [ino++, mode, 0, 0, nlink, 0, body.length, 0, 0, 0, 0, name.length + 1, 0];
    const header = Buffer.from(
      '070701' + fields.map((f) => f.toString(16).padStart(8, '0')).join('') + name + '\0',
      'latin1',
    );
    parts.push(header);
    pad(header.length);
    parts.push(body);
    pad(body.length);
  };
  for (const e of entries) {
    if (e.type === 'dir') put(e.path, 0o040755, Buffer.alloc(0), 2);
    else if (e.type === 'file') put(e.path, 0o100000 | e.mode, e.data, 1);
    else put(e.path, 0o120777, Buffer.from(e.target), 1);
  }
  put('TRAILER!!!', 0, Buffer.alloc(0), 1);
  return gzipSync(Buffer.concat(parts), { level: 1 });
}

export interface InitramfsOptions {
  readonly kernel: GuestKernel;
  /** Kernel modules to load (with their dependencies), in this order. */
  readonly modules: readonly string[];
  /** The init script's body (busybox sh); runs after /proc, /sys, /dev are mounted and the modules loaded. */
  readonly script: string;
}

/** Write an initramfs (gzip'd newc cpio) with busybox, the modules and `/init`. Returns its size. */
export async function writeInitramfs(path: string, options: InitramfsOptions): Promise<number> {
  const mods = moduleClosure(options.kernel.modulesDir, options.modules);
  const init = [
    '#!/bin/busybox sh',
    '/bin/busybox --install -s /bin',
    'mount -t proc proc /proc',
    'mount -t sysfs sysfs /sys',
    'mount -t devtmpfs devtmpfs /dev',
    ...mods.map((m) => `insmod /lib/modules/${m.name}.ko`),
    options.script,
    '',
  ].join('\n');
  const entries: CpioEntry[] = [
    ...['bin', 'dev', 'proc', 'sys', 'tmp', 'run', 'mnt', 'lib', 'lib/modules'].map(
      (d) => ({ path: d, type: 'dir' }) as const,
    ),
    { path: 'bin/busybox', type: 'file', data: readFileSync(BUSYBOX), mode: 0o755 },
    { path: 'bin/sh', type: 'symlink', target: 'busybox' },
    ...mods.map(
      (m) =>
        ({
          path: `lib/modules/${m.name}.ko`,
          type: 'file',
          data: readFileSync(m.file),
          mode: 0o644,
        }) as const,
    ),
    { path: 'init', type: 'file', data: Buffer.from(init), mode: 0o755 },
  ];
  const archive = cpioNewc(entries);
  await writeFile(path, archive);
  return statSync(path).size;
}

export interface GuestRemoted {
  /** `remora.js` inside the guest's root: the host path over 9p, under IMAGE_REPO on a disk image. */
  readonly remora: string;
  /** The key file, at that path inside the guest's root. */
  readonly authKeyFile: string;
  readonly nodeName: string;
  /**
   * Where the guest's root with node and the repository comes from: the
   * host's root over 9p (tag `hostroot`; QEMU cannot migrate such a guest),
   * or a read-only disk (vda) made by {@link writeRemoraDiskImage}.
   */
  readonly root: '9p' | 'disk';
}

/**
 * The guest's init script: power button → poweroff (busybox acpid), the
 * address from `remora.ip=<cidr>` on eth0, a busybox httpd on port 8080
 * answering `/token` (`remora.token=`) and `/cgi-bin/uptime` (the guest's
 * /proc/uptime), `REMORA-GUEST-BOOTED` then one `REMORA-GUEST-TICK <n>` a
 * second on the serial console. With `remoted`, `remora remoted` runs
 * chrooted in a root with node and the repository (see GuestRemoted.root).
 */
export function guestScript(remoted?: GuestRemoted): string {
  const lines = [
    'for arg in $(cat /proc/cmdline); do',
    '  case "$arg" in remora.ip=*) ip="${arg#remora.ip=}";; remora.token=*) token="${arg#remora.token=}";; esac',
    'done',
    'mkdir -p /etc/acpi/PWRF /www/cgi-bin',
    "printf '#!/bin/sh\\necho REMORA-GUEST-POWER-BUTTON > /dev/console\\npoweroff -f\\n' > /etc/acpi/PWRF/00000080",
    'chmod +x /etc/acpi/PWRF/00000080',
    // acpid watches the /dev/input/event* there are when it starts: wait for the power button's
    'for i in $(seq 1 100); do',
    '  for e in /sys/class/input/event*; do',
    '    grep -q "Power Button" "$e/device/name" 2>/dev/null && [ -e "/dev/input/${e##*/}" ] && pb="${e##*/}"',
    '  done',
    '  [ -n "$pb" ] && break',
    '  sleep 0.1',
    'done',
    'echo "REMORA-GUEST-POWER-BUTTON-DEVICE ${pb:-missing}"',
    'acpid -f -c /etc/acpi -l /tmp/acpid.log &',
    'ip link set lo up',
    'if [ -n "$ip" ]; then ip link set eth0 up && ip addr add "$ip" dev eth0; fi',
    'echo "$token" > /www/token',
    'printf \'#!/bin/sh\\nprintf "Content-Type: text/plain\\\\r\\\\n\\\\r\\\\n"\\ncat /proc/uptime\\n\' > /www/cgi-bin/uptime',
    'chmod +x /www/cgi-bin/uptime',
    'httpd -p 8080 -h /www',
    'echo "REMORA-GUEST-BOOTED token=$token uptime=$(cut -d" " -f1 /proc/uptime)"',
  ];
  if (remoted) {
    lines.push(
      'mkdir -p /root',
      remoted.root === '9p'
        ? 'mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose hostroot /root || fail=1'
        : 'mount -t ext4 -o ro /dev/vda /root || fail=1',
      // a guest that cannot run remoted powers off: its launch fails at once, not at the timeout
      'if [ -n "$fail" ]; then echo REMORA-GUEST-ROOT-FAILED; poweroff -f; fi',
      'mount -t tmpfs tmpfs /root/run',
      // over 9p, /tmp stays the host's (read-only): the key file may be there
      ...(remoted.root === 'disk' ? ['mount -t tmpfs tmpfs /root/tmp'] : []),
      'mount -o bind /dev /root/dev',
      'mount -t proc proc /root/proc',
      'mount -t sysfs sysfs /root/sys',
      'echo "REMORA-GUEST-ROOT-MOUNTED uptime=$(cut -d" " -f1 /proc/uptime)"',
      `chroot /root /bin/env -i PATH=/usr/bin:/bin:/usr/sbin:/sbin HA_RSCTMP=/run/remora ` +
        `/usr/bin/node ${remoted.remora} remoted --listen 0.0.0.0:3121 --authkey ${remoted.authKeyFile} ` +
        `--name ${remoted.nodeName} --local-socket /run/remora/remoted.sock > /dev/console 2>&1 ` +
        '&& echo REMORA-GUEST-REMOTED-EXITED || { echo "REMORA-GUEST-REMOTED-FAILED rc=$?"; poweroff -f; } &',
    );
  }
  lines.push('n=0', 'while true; do n=$((n+1)); echo "REMORA-GUEST-TICK $n"; sleep 1; done');
  return lines.join('\n');
}

/** Modules the guest script loads: virtio PCI, NIC, disk, 9p, ext4 (which needs crc32c), the ACPI power button. */
export const GUEST_MODULES = [
  'virtio_pci',
  'virtio_net',
  'virtio_blk',
  '9pnet_virtio',
  '9p',
  'crc32c_generic',
  'ext4',
  'evdev',
  'button',
];

/** Shared libraries of an executable (ldd), with the dynamic loader. */
function sharedLibraries(executable: string): string[] {
  const out = execFileSync('ldd', [executable], { encoding: 'utf8' });
  const libs: string[] = [];
  for (const line of out.split('\n')) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) libs.push(m[1]);
  }
  return libs;
}

/**
 * A read-only ext2 image (mounted with the ext4 driver) holding what
 * `remora remoted` needs, at the host's paths: node and its libraries, the
 * repository's packages (dist) with their production dependencies
 * (`npm ls --omit=dev`), the OCF agents of /usr/lib/ocf, busybox as the shell
 * and tools, and the key. A guest booted from it has no host share, so QEMU
 * can migrate it. Returns the image size in bytes.
 */
/** Where {@link writeRemoraDiskImage} puts the repository inside the image. */
export const IMAGE_REPO = '/opt/remora';

export async function writeRemoraDiskImage(
  image: string,
  options: { readonly repoRoot: string; readonly authKey: Buffer; readonly authKeyFile: string },
): Promise<number> {
  const stage = await mkdtemp(join(tmpdir(), 'remora-img-'));
  try {
    const put = (hostPath: string, deref = true, at = hostPath): void => {
      const target = join(stage, at);
      mkdirSync(dirname(target), { recursive: true });
      cpSync(hostPath, target, {
        recursive: true,
        ...(deref ? { dereference: true } : { verbatimSymlinks: true }),
      });
    };
    for (const d of ['bin', 'dev', 'proc', 'sys', 'tmp', 'run', 'etc', 'root'])
      mkdirSync(join(stage, d), { recursive: true });
    const node = realpathSync(process.execPath);
    mkdirSync(join(stage, 'usr', 'bin'), { recursive: true });
    cpSync(node, join(stage, 'usr', 'bin', 'node'));
    for (const lib of sharedLibraries(node)) put(lib);
    cpSync(BUSYBOX, join(stage, 'bin', 'busybox'));
    const applets = execFileSync(BUSYBOX, ['--list'], { encoding: 'utf8' }).split('\n');
    for (const applet of applets.filter((a) => /^[a-z0-9_.[-]+$/.test(a) && a !== 'busybox'))
      symlinkSync('busybox', join(stage, 'bin', applet));
    put('/usr/lib/ocf');
    writeFileSync(join(stage, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
    writeFileSync(join(stage, 'etc', 'group'), 'root:x:0:\n');
    // the repository: its packages and the CLI's production dependencies
    const listed = execFileSync(
      'npm',
      ['ls', '--omit=dev', '--all', '--parseable', '--workspace', '@remora/cli'],
      { cwd: options.repoRoot, encoding: 'utf8' },
    )
      .split('\n')
      .filter(Boolean);
    // at IMAGE_REPO whatever the host path (a clone under /tmp would be hidden by the guest's /tmp)
    const inImage = (path: string): string => join(IMAGE_REPO, relative(options.repoRoot, path));
    put(
      join(options.repoRoot, 'package.json'),
      true,
      inImage(join(options.repoRoot, 'package.json')),
    );
    for (const pkg of readdirSync(join(options.repoRoot, 'packages'))) {
      for (const part of ['package.json', 'dist', 'bin', 'agents']) {
        const p = join(options.repoRoot, 'packages', pkg, part);
        if (existsSync(p)) put(p, true, inImage(p));
      }
    }
    for (const path of listed) {
      if (path === options.repoRoot || !path.includes('/node_modules/')) continue;
      put(path, false, inImage(path)); // workspace packages stay (relative) symlinks to packages/<name>
    }
    const keyTarget = join(stage, options.authKeyFile);
    mkdirSync(dirname(keyTarget), { recursive: true });
    writeFileSync(keyTarget, options.authKey, { mode: 0o400 });
    const kib = Number(execFileSync('du', ['-sk', stage], { encoding: 'utf8' }).split('\t')[0]);
    const sizeMiB = Math.ceil((kib * 1.15) / 1024) + 32;
    execFileSync('mke2fs', [
      '-q',
      '-F',
      '-t',
      'ext2',
      '-d',
      stage,
      '-L',
      'remora',
      image,
      `${sizeMiB}M`,
    ]);
    return statSync(image).size;
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}
