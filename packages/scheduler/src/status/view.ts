/**
 * What `remora status` shows, as data: the cluster's nodes, resources (with
 * where and in which role each runs), failed actions and fail counts. Built
 * from a CIB (configuration + status history) by `statusView`; printed by
 * `formatStatus` (crm_mon's text), or as JSON / crm_mon-style XML.
 */

export interface StatusNode {
  readonly name: string;
  readonly id: string;
  /** member: a full cluster node; remote: ocf:pacemaker:remote; guest: a VM/container resource's node. */
  readonly kind: 'member' | 'remote' | 'guest';
  readonly online: boolean;
  readonly standby: boolean;
  /** On-fail=standby put the node in standby. */
  readonly standbyOnFail: boolean;
  readonly maintenance: boolean;
  /** Joining, not yet a full member. */
  readonly pending: boolean;
  /** Lost without being fenced (an offline node that still needs fencing). */
  readonly unclean: boolean;
  readonly shutdown: boolean;
  readonly isDc: boolean;
  /** Resource instances active on the node. */
  readonly resourcesRunning: number;
  /** Guest nodes: the container resource; remote nodes: the connection resource. */
  readonly resource?: string;
  /** Guest nodes: where the container runs (shown as guest@host by some outputs). */
  readonly host?: string;
}

/** Roles as Pacemaker 2.1 names them. */
export type StatusRole =
  | 'Stopped'
  | 'Started'
  | 'Unpromoted'
  | 'Promoted'
  | 'Starting'
  | 'Stopping'
  | 'Migrating'
  | 'Promoting'
  | 'Demoting';

export interface StatusPrimitive {
  readonly kind: 'primitive';
  readonly id: string;
  /** class:provider:type */
  readonly agent: string;
  /** Role of the resource (Stopped when inactive). */
  readonly role: StatusRole;
  /** Nodes it is active on (more than one: multi-active). */
  readonly nodes: readonly string[];
  readonly failed: boolean;
  readonly managed: boolean;
  /** target-role=Stopped (or stop-all-resources). */
  readonly disabled: boolean;
  /** A failed stop left it blocked. */
  readonly blocked: boolean;
  /** In the history but no longer configured. */
  readonly orphaned: boolean;
  /** Failures are ignored (on-fail=ignore). */
  readonly failureIgnored: boolean;
  /** Target role when it is not the default (e.g. Unpromoted), for "(target-role:...)". */
  readonly targetRole?: string;
  /** A clone instance: the name its operation history uses (ping, or ping:1). */
  readonly historyId?: string;
  /** A monitor is in flight ("(Monitoring)"). */
  readonly pendingMonitor?: boolean;
  /** Where it is active but that node is unclean. */
  readonly uncleanNodes?: readonly string[];
  /** shutdown-lock: the node it is locked to (its history there holds an unexpired lock). */
  readonly lockedTo?: string;
}

export interface StatusGroup {
  readonly kind: 'group';
  readonly id: string;
  readonly children: readonly StatusPrimitive[];
  readonly managed: boolean;
  readonly disabled: boolean;
}

export interface StatusClone {
  readonly kind: 'clone';
  readonly id: string;
  /** Id of the cloned resource (primitive or group). */
  readonly childId: string;
  readonly promotable: boolean;
  readonly unique: boolean;
  readonly managed: boolean;
  readonly disabled: boolean;
  /** Instances (clone:0, clone:1, ...) that are active, failed or (for unique clones) configured. */
  readonly instances: readonly (StatusPrimitive | StatusGroup)[];
  /** Nodes where no instance runs (anonymous clones). */
  readonly stoppedOn: readonly string[];
}

export type StatusResource = StatusPrimitive | StatusGroup | StatusClone;

/** A failed operation as crm_mon's "Failed Resource Actions" lists it. */
export interface StatusFailedAction {
  readonly resource: string;
  /** e.g. svc_monitor_10000 */
  readonly operationKey: string;
  readonly task: string;
  /** ms */
  readonly interval: number;
  readonly node: string;
  readonly rc: number;
  /** ok, error, not running, ... */
  readonly rcText: string;
  /** complete, Error, Timed Out, Not installed, ... (Pacemaker's execution status words) */
  readonly status: string;
  readonly exitReason?: string;
  readonly callId: number;
  /** Epoch seconds. */
  readonly lastRcChange?: number;
  /** ms */
  readonly execTime?: number;
  readonly queueTime?: number;
}

/** Fail counts of one resource on one node ("Migration Summary"). */
export interface StatusFailCount {
  readonly node: string;
  readonly resource: string;
  readonly failCount: number;
  readonly migrationThreshold: number;
  /** Epoch seconds. */
  readonly lastFailure?: number;
}

export interface StatusView {
  readonly stack: string;
  readonly dc?: { readonly name: string; readonly id: string; readonly version?: string };
  readonly haveQuorum: boolean;
  readonly lastChange?: {
    /** As the CIB records it (`cib-last-written`, ctime format). */
    readonly time?: string;
    readonly user?: string;
    readonly client?: string;
    readonly origin?: string;
  };
  readonly nodes: readonly StatusNode[];
  readonly resources: readonly StatusResource[];
  /** Resource instances configured (primitives, clone instances counted), disabled and blocked among them. */
  readonly resourceCounts: {
    readonly configured: number;
    readonly disabled: number;
    readonly blocked: number;
  };
  readonly failedActions: readonly StatusFailedAction[];
  readonly failCounts: readonly StatusFailCount[];
  readonly options: {
    readonly stonithEnabled: boolean;
    readonly maintenanceMode: boolean;
    readonly stopAllResources: boolean;
  };
}
