export { LibvirtConnection, domainNameFromXml } from './connection';
export type {
  CreateOptions,
  DefineOptions,
  DomainSummary,
  LibvirtConnectionOptions,
  RunOptions,
} from './connection';
export { Domain, ShutdownMode } from './domain';
export type {
  DomainInfo,
  MigrateOptions,
  ShutdownOptions,
  StopOutcome,
  WaitOptions,
} from './domain';
export {
  DomainExistsError,
  DomainNotFoundError,
  GuestStoppedError,
  GuestTimeoutError,
  InvalidConfigError,
  InvalidDomainXmlError,
  LibvirtError,
  LibvirtUnreachableError,
  MigrationFailedError,
  MigrationUnsupportedError,
  PrivateLibvirtdError,
  VirshCommandError,
  VirshNotFoundError,
} from './errors';
export type { VirshFailure } from './errors';
export { DomainEventStream, parseEventLine } from './events';
export type { DomainEvent } from './events';
export { launchGuest, stopGuest, waitForGuestReady } from './launcher';
export type { GuestRemote, LaunchedGuest, LaunchOptions } from './launcher';
export type { GuestLimits } from './limits';
export { lxcContainer } from './lxc';
export type { BindMount, BridgeInterface, LxcContainerSpec } from './lxc';
export { PrivateLibvirtd, privateLibvirtdSupport, startPrivateLibvirtd } from './private-libvirtd';
export type {
  PrivateLibvirtdOptions,
  PrivateLibvirtdSupport,
  PrivateNetwork,
} from './private-libvirtd';
export { qemuVm } from './qemu';
export type { DiskBoot, KernelBoot, QemuVmSpec, VmInterface, VmShare } from './qemu';
export { waitForRemoted } from './readiness';
export type { RemotedReady, RemotedReadyOptions } from './readiness';
export { findRemora, remotedInit } from './remoted-init';
export type { GuestInit, RemotedInitOptions } from './remoted-init';
export { DomainState, isActive, ocfRcForState, parseDomState } from './state';
export type { DomainStatus } from './state';
export { macFromName } from './xml';
