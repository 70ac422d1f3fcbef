/** The init of a guest container: `remora remoted`, as PID 1. */
import { accessSync, constants, realpathSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { DEFAULT_PORT } from '@remora/remote-transport';
import { InvalidConfigError } from './errors';
import { checkAbsolutePath, checkName } from './xml';

export interface RemotedInitOptions {
  /** Node name the daemon serves as (`-n`); usually the domain name. */
  readonly nodeName: string;
  /** Key file, readable inside the guest (`-k`). */
  readonly authKeyFile: string;
  /** `host:port` to listen on inside the guest (default `0.0.0.0:3121`). */
  readonly listen?: string;
  /**
   * The daemon's local CLI socket inside the guest. Containers sharing the
   * host's root must each have their own (default
   * `/run/remora/guests/<nodeName>/remoted.sock`).
   */
  readonly localSocket?: string;
  /** The guest's `HA_RSCTMP` (agents' state; default the local socket's folder). */
  readonly stateDir?: string;
  /** The `remora` executable (default: found from node_modules/.bin or PATH). */
  readonly remora?: string;
  /** More environment for the daemon. */
  readonly env?: Readonly<Record<string, string>>;
}

/** The `init`, `initArgs` and `initEnv` of an {@link LxcContainerSpec}. */
export interface GuestInit {
  readonly init: string;
  readonly initArgs: readonly string[];
  readonly initEnv: Readonly<Record<string, string>>;
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Where the `remora` CLI is: `node_modules/.bin/remora` above the current
 * directory or this package, then PATH. Throws a clear error when none.
 */
export function findRemora(): string {
  const starts = [process.cwd(), __dirname];
  for (const start of starts) {
    let dir = resolve(start);
    for (;;) {
      const candidate = join(dir, 'node_modules', '.bin', 'remora');
      if (executable(candidate)) return realpathSync(candidate);
      const parent = dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && executable(join(dir, 'remora'))) return realpathSync(join(dir, 'remora'));
  }
  throw new InvalidConfigError(
    'remora',
    'the remora CLI was not found in node_modules/.bin or PATH; pass remora: "/path/to/remora"',
  );
}

/**
 * The init of a guest running `remora remoted` (as PID 1 of the container;
 * it stops on SIGTERM, which is what `virsh shutdown --mode signal` sends).
 */
export function remotedInit(options: RemotedInitOptions): GuestInit {
  const nodeName = checkName('nodeName', options.nodeName);
  const authKeyFile = checkAbsolutePath('authKeyFile', options.authKeyFile);
  const listen = options.listen ?? `0.0.0.0:${DEFAULT_PORT}`;
  if (!/^(unix:\/.+|[^\s:]+:\d{1,5})$/.test(listen)) {
    throw new InvalidConfigError(
      'listen',
      `expected host:port or unix:/path, got ${JSON.stringify(listen)}`,
    );
  }
  const localSocket =
    options.localSocket === undefined
      ? `/run/remora/guests/${nodeName}/remoted.sock`
      : checkAbsolutePath('localSocket', options.localSocket);
  const stateDir =
    options.stateDir === undefined
      ? dirname(localSocket)
      : checkAbsolutePath('stateDir', options.stateDir);
  const remora =
    options.remora === undefined ? findRemora() : checkAbsolutePath('remora', options.remora);
  return {
    init: remora,
    initArgs: [
      'remoted',
      '--listen',
      listen,
      '--authkey',
      authKeyFile,
      '--name',
      nodeName,
      '--local-socket',
      localSocket,
    ],
    initEnv: {
      // libvirt gives the init PATH=/bin:/sbin; remora is a node script.
      PATH: [
        dirname(process.execPath),
        '/usr/local/bin',
        '/usr/bin',
        '/bin',
        '/usr/sbin',
        '/sbin',
      ].join(':'),
      HA_RSCTMP: stateDir,
      ...options.env,
    },
  };
}
