/**
 * Errors of @remora/agent-runner. Domain outcomes (an agent saying "not
 * running", a timeout, a missing agent) are {@link OperationResult}s, not
 * errors; these are thrown only for what a caller cannot treat as data: a
 * malformed request, an unusable configuration, a closed runner.
 */
export class AgentRunnerError extends Error {
  override readonly name: string = 'AgentRunnerError';
}

/** An agent identity string (`class:provider:type`) that cannot be used. */
export class InvalidAgentIdError extends AgentRunnerError {
  override readonly name: string = 'InvalidAgentIdError';
  /** The identity as given. */
  readonly agent: string;

  constructor(agent: string, reason: string, options?: ErrorOptions) {
    super(`invalid agent '${agent}': ${reason}`, options);
    this.agent = agent;
  }
}

/** An agent class remora does not know (known: ocf, lsb, systemd, upstart, service). */
export class UnknownAgentClassError extends InvalidAgentIdError {
  override readonly name: string = 'UnknownAgentClassError';
  /** The class as given. */
  readonly agentClass: string;

  constructor(agent: string, agentClass: string, known: readonly string[]) {
    super(agent, `unknown class '${agentClass}' (known: ${known.join(', ')})`);
    this.agentClass = agentClass;
  }
}

/** A parameter or meta-attribute name or value that cannot be passed to an agent. */
export class InvalidParameterError extends AgentRunnerError {
  override readonly name: string = 'InvalidParameterError';
  /** `param` for instance parameters, `meta` for meta-attributes. */
  readonly kind: 'param' | 'meta';
  /** The offending name. */
  readonly parameter: string;

  constructor(kind: 'param' | 'meta', parameter: string, reason: string) {
    super(`invalid ${kind === 'param' ? 'parameter' : 'meta-attribute'} '${parameter}': ${reason}`);
    this.kind = kind;
    this.parameter = parameter;
  }
}

/** A request that is malformed in another way (resource id, action, interval, timeout). */
export class InvalidRequestError extends AgentRunnerError {
  override readonly name: string = 'InvalidRequestError';
  /** The request field that was wrong. */
  readonly field: string;

  constructor(field: string, reason: string) {
    super(`invalid operation request: ${field}: ${reason}`);
    this.field = field;
  }
}

/** The runner was closed; no new operations are accepted. */
export class RunnerClosedError extends AgentRunnerError {
  override readonly name: string = 'RunnerClosedError';

  constructor() {
    super('the agent runner is closed');
  }
}

/** An agent's meta-data could not be obtained or is not valid OCF meta-data XML. */
export class MetadataError extends AgentRunnerError {
  override readonly name: string = 'MetadataError';
  /** The agent identity. */
  readonly agent: string;

  constructor(agent: string, reason: string, options?: ErrorOptions) {
    super(`meta-data of '${agent}': ${reason}`, options);
    this.agent = agent;
  }
}

/** A discovery request (list providers or agents) that cannot be answered. */
export class DiscoveryError extends AgentRunnerError {
  override readonly name: string = 'DiscoveryError';
  /** What was listed, e.g. `systemd` or `ocf:heartbeat`. */
  readonly scope: string;

  constructor(scope: string, reason: string, options?: ErrorOptions) {
    super(`cannot list agents of '${scope}': ${reason}`, options);
    this.scope = scope;
  }
}
