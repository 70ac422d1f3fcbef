import { allPrimitives, effectiveParams } from '@remora/cib';
import type { CibStore } from '@remora/cib';
import type { ExecutedOperation } from './executor';
import { controllerResult } from './executor';
import type { FenceDevice, Fencer } from './fencer';
import type { GraphAction } from './graph';
import { OpStatus, forgetNodeHistory } from './lrm-record';
import {
  clearFailcount,
  forgetResource,
  recordNodeFenced,
  recordNodeShutdown,
  recordRemoteMaintenance,
} from './node-state';
import type { ActionOutcome } from './transition';

/** The kind of a node as the controller knows it. */
export type NodeKind = 'cluster' | 'remote' | 'guest';

export interface ClusterActionContext {
  readonly store: CibStore;
  readonly fencer: Fencer;
  /** Reason prefix of the controller's own CIB writes (they trigger nothing). */
  readonly reason: string;
  nodeKind(node: string): NodeKind | undefined;
  /** A node was fenced (or a guest's fencing implied): its connection and results are gone. */
  onFenced(node: string): void;
  /** A cluster node was told to shut down (do_shutdown) and is now recorded as down. */
  onShutdown(node: string): void;
  /** A recurring fence-device monitor's result changed. */
  onDeviceMonitor(action: GraphAction, result: ExecutedOperation): void;
}

function deviceParams(a: GraphAction): Record<string, string> {
  const params: Record<string, string> = {};
  for (const [k, v] of Object.entries(a.attributes))
    if (!k.startsWith('CRM_meta_') && k !== 'crm_feature_set') params[k] = v;
  return params;
}

/**
 * What the controller does itself rather than through a node's executor:
 * cluster events (`stonith`, `do_shutdown`, `clear_failcount`,
 * `lrm_delete`/`lrm_refresh`), side effects of pseudo events (a guest's
 * implied fencing, `maintenance_nodes`) and the operations of fence devices
 * (`stonith:` resources: start = register with the fencer and check the
 * agent's monitor, stop = unregister, probe = registered or not, recurring
 * monitor = the agent's monitor run by the controller).
 */
export class ClusterActions {
  private readonly monitors = new Map<string, NodeJS.Timeout>();

  constructor(private readonly ctx: ClusterActionContext) {}

  private modify(fn: Parameters<CibStore['modify']>[0], what: string): Promise<unknown> {
    return this.ctx.store.modify(fn, { scope: 'status', reason: `${this.ctx.reason} ${what}` });
  }

  /** Run a `crm_event`. */
  async crmEvent(a: GraphAction, signal: AbortSignal): Promise<ActionOutcome> {
    const node = a.onNode ?? '';
    switch (a.operation) {
      case 'stonith': {
        const kind = this.ctx.nodeKind(node) ?? 'cluster';
        const action = a.attributes.CRM_meta_stonith_action ?? 'reboot';
        try {
          const done = await this.ctx.fencer.fence(node, action, {
            timeoutMs: a.timeout ?? 60_000,
            signal,
            devices: this.configuredDevices(),
          });
          await this.modify(
            (doc) => recordNodeFenced(doc, node, kind),
            `${node} fenced by ${done.device}`,
          );
          this.ctx.onFenced(node);
          return { confirmed: true };
        } catch (err) {
          return { confirmed: false, detail: (err as Error).message };
        }
      }
      case 'do_shutdown':
        await this.modify((doc) => recordNodeShutdown(doc, node), `${node} shut down`);
        this.ctx.onShutdown(node);
        return { confirmed: true };
      case 'clear_failcount':
        if (!a.resource) return { confirmed: false, detail: `${a.operationKey} names no resource` };
        await this.modify((doc) => clearFailcount(doc, node, a.resource!.id), a.operationKey);
        return { confirmed: true };
      case 'lrm_delete':
      case 'delete':
        if (!a.resource) return { confirmed: false, detail: `${a.operationKey} names no resource` };
        await this.modify((doc) => forgetResource(doc, node, a.resource!.id), a.operationKey);
        return { confirmed: true };
      case 'lrm_refresh':
        await this.modify((doc) => forgetNodeHistory(doc, node), a.operationKey);
        return { confirmed: true };
      default:
        return {
          confirmed: false,
          detail: `unknown cluster action '${a.operation}' (${a.operationKey})`,
        };
    }
  }

  /** Every fence device the CIB configures (any fencer may use any of them). */
  private configuredDevices(): FenceDevice[] {
    const cib = this.ctx.store.cib;
    return allPrimitives(cib.resources)
      .filter((p) => p.class === 'stonith')
      .map((p) => ({ id: p.id, agent: p.type, params: effectiveParams(cib, p.id), node: '' }));
  }

  /** Side effects of a pseudo event (resolves when written to the CIB). */
  async pseudo(a: GraphAction): Promise<void> {
    if (a.operation === 'stonith' && a.onNode) {
      // A guest's fencing is implied by its container's stop: nothing runs there any more.
      const node = a.onNode;
      await this.modify((doc) => recordNodeFenced(doc, node, 'guest'), `${node} fencing implied`);
      this.ctx.onFenced(node);
    } else if (a.operation === 'maintenance_nodes' && a.maintenance.length > 0) {
      await this.modify((doc) => {
        for (const m of a.maintenance) recordRemoteMaintenance(doc, m.node, m.on);
      }, 'maintenance_nodes');
    }
  }

  /** Run an operation of a fence device (`stonith:` resource) on a cluster node. */
  async device(a: GraphAction, signal: AbortSignal): Promise<ExecutedOperation> {
    const started = Date.now();
    const node = a.onNode ?? '';
    const rsc = a.resource!;
    const device = { id: rsc.id, agent: rsc.type, params: deviceParams(a), node };
    const key = `${node}/${rsc.id}`;
    const check = async (abort?: AbortSignal): Promise<ExecutedOperation> => {
      const t = Date.now();
      const r = await this.ctx.fencer.run(device, 'monitor', undefined, {
        timeoutMs: a.timeout ?? 20_000,
        signal: abort,
      });
      if (r.rc === 5) return controllerResult(5, t, r.output, OpStatus.notInstalled);
      return controllerResult(
        r.rc === 0 ? 0 : 1,
        t,
        r.rc === 0 ? '' : (r.output.trim().split('\n').pop() ?? ''),
      );
    };
    switch (a.operation) {
      case 'start': {
        try {
          this.ctx.fencer.agentPath(rsc.type);
        } catch (err) {
          return controllerResult(6, started, (err as Error).message);
        }
        const r = await check(signal);
        if (r.rc === 0) this.ctx.fencer.register(device);
        return r;
      }
      case 'stop':
        this.cancel(node, rsc.id);
        this.ctx.fencer.unregister(rsc.id, node);
        return controllerResult(0, started);
      case 'monitor': {
        if (a.interval === 0)
          return controllerResult(this.ctx.fencer.isRegistered(rsc.id, node) ? 0 : 7, started);
        if (!this.ctx.fencer.isRegistered(rsc.id, node)) return controllerResult(7, started);
        const first = await check(signal);
        this.cancel(node, rsc.id);
        let last = first.rc;
        const timer = setInterval(() => {
          void check().then((r) => {
            if (this.monitors.get(key) !== timer || r.rc === last) return;
            last = r.rc;
            this.ctx.onDeviceMonitor(a, r);
          });
        }, a.interval);
        timer.unref();
        this.monitors.set(key, timer);
        return first;
      }
      default:
        return controllerResult(
          3,
          started,
          `${a.operation} is not supported for fence devices`,
          OpStatus.notSupported,
        );
    }
  }

  /** Stop a fence device's recurring monitor. */
  cancel(node: string, rsc: string): void {
    const key = `${node}/${rsc}`;
    const t = this.monitors.get(key);
    if (t) clearInterval(t);
    this.monitors.delete(key);
  }

  close(): void {
    for (const t of this.monitors.values()) clearInterval(t);
    this.monitors.clear();
  }
}
