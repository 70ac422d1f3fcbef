export {
  ControllerError,
  FencingError,
  GraphFormatError,
  NoExecutorError,
  OperatorError,
  OperatorExit,
  OperatorRequestError,
  SchedulerError,
} from './errors';
export { ActionKind, parseTransitionGraph } from './graph';
export type { GraphAction, GraphResource, Synapse, TransitionGraph } from './graph';
export { TransitionStatus, runTransition } from './transition';
export type {
  ActionOutcome,
  ActionRunner,
  TransitionOptions,
  TransitionReport,
} from './transition';
export {
  CRM_FEATURE_SET,
  OpStatus,
  forgetNodeHistory,
  forgetRecurring,
  isFailure,
  lrmResources,
  operationDigest,
  recordOperation,
} from './lrm-record';
export type { OperationRecordInput } from './lrm-record';
export { RemoteNodeExecutor, actionRequest, opStatusOf } from './executor';
export type { ExecutedOperation, ExecutorClient, NodeExecutor } from './executor';
export { CrmSimulateScheduler, RemoraScheduler } from './scheduler';
export type { RemoraSchedulerOptions } from './scheduler';
export type { Scheduler } from './scheduler';
export { Controller } from './controller';
export type { ControllerOptions } from './controller';
export { ConnectionManager, LOCAL_CONNECTIONS, isConnectionAction } from './connections';
export type { Connection, ConnectionOpener } from './connections';
export { HostedConnections, RoutedClient } from './routed';
export type { OpenRequest, PeerLink } from './routed';
export { OperatorService, applyOperatorEdit, editScope, parseOperatorRequest } from './operator';
export type {
  ClearEdit,
  CleanupEdit,
  ClusterPropertyEdit,
  LocationEdit,
  NodeAttributeEdit,
  NodeRemoveEdit,
  OperatorContext,
  OperatorEdit,
  OperatorEditResult,
  OperatorRequest,
  OperatorResponse,
  OperatorServiceOptions,
  QueryReply,
  QueryRequest,
  ResourceAttributeEdit,
  TicketEdit,
  WaitReply,
  WaitRequest,
} from './operator';
export {
  activeNodes,
  ban,
  cleanup,
  clear,
  drain,
  maintenance,
  move,
  setAttribute,
  setPromotionScore,
  setResourceAttribute,
  setTicket,
  standby,
} from './admin';
export type { AttributeLifetime, MoveOptions } from './admin';
export { Fencer } from './fencer';
export type { FenceAgentResult, FenceDevice } from './fencer';
export { ClusterActions } from './cluster-actions';
export type { ClusterActionContext, NodeKind } from './cluster-actions';
export {
  clearFailcount,
  forgetResource,
  recordNodeFenced,
  recordNodeJoined,
  recordNodeLost,
  recordNodeShutdown,
  recordRemoteDown,
  recordRemoteMaintenance,
  recordRemoteStopped,
  recordRemoteUp,
} from './node-state';
export {
  AGENTS_DIR,
  FENCE_AGENT_DIR,
  clusterProcesses,
  freePort,
  killCluster,
  machineInit,
  prepareOcfRoot,
  remoraBinary,
  spawnRemoted,
} from './local';
export type { LocalDaemon, LocalDaemonOptions } from './local';
export { LocalCluster, lxcGuestsSupport } from './local-cluster';
export type { LocalClusterOptions } from './local-cluster';
export { NetnsNetwork, loopbackNetwork } from './netns';
export type { NetworkAttachment, NetworkPlan } from './netns';
export { ClusterNode } from './distributed';
export type { ClusterMember, ClusterNodeOptions, MemberState } from './distributed';
