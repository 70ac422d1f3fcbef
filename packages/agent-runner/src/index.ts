export { AgentClass, formatAgentId, isAgentClass, parseAgentId } from './agent-id';
export type { AgentId } from './agent-id';
export { parseDuration } from './duration';
export {
  AgentRunnerError,
  DiscoveryError,
  InvalidAgentIdError,
  InvalidParameterError,
  InvalidRequestError,
  MetadataError,
  RunnerClosedError,
  UnknownAgentClassError,
} from './errors';
export { parseMetadata } from './metadata';
export type { AgentAction, AgentMetadata, AgentParameter } from './metadata';
export { operationKey } from './operation';
export type { OperationRequest, OperationResult } from './operation';
export type { RecurringOperation } from './recurring-operation';
export { ExecStatus, OcfRc, isOcfRc, ocfRcName, toOcfRc } from './result-codes';
export { AgentRunner } from './runner';
export type {
  AgentRunnerOptions,
  PendingOperation,
  ResourceHistory,
  SubmitOptions,
} from './runner';
export type { SystemdOptions } from './drivers/systemd';
