/**
 * The demo fleet: simulated OpenStack services speaking real oslo.messaging
 * (through the core) so every page of the dashboard shows moving data on
 * first start, on the embedded memory broker or on a real RabbitMQ.
 *
 * - nova-conductor (2 servers) answers calls, now and then with a remote
 *   InstanceNotFound;
 * - nova-compute (3 servers) takes targeted casts and fanouts, and one more,
 *   compute-dead, "has died": its queue exists but nobody consumes it, so
 *   calls to it get stuck (cause: no consumer);
 * - nova-scheduler has the one slow endpoint (select_destinations, 0.6-3.5 s)
 *   and emits notifications around each run;
 * - neutron-server fans port updates out to three OVS agents;
 * - nova-api is the caller that drives all of it.
 *
 * Each service has its own Transport (its own connections, named
 * `<service>:<pid>:<uuid>`), like separate processes would.
 */
import { randomUUID } from 'node:crypto';
import {
  ExpectedFailure,
  NotificationListener,
  Notifier,
  RpcClient,
  RpcServer,
  Transport,
  type Endpoint,
  type Logger,
  type MemoryBroker,
  type RetryPolicy,
  type TransportURL,
} from '../messaging/index.ts';

export interface DemoFleetOptions {
  url: TransportURL | string;
  /** memory transports: the broker shared with the dashboard's transport and tap */
  memoryBroker?: MemoryBroker;
  log: Logger;
  /** traffic multiplier (1 = about 10 messages/s) */
  rate?: number;
  retryPolicy?: RetryPolicy;
  /** exchange of the nova services (default nova) */
  novaExchange?: string;
  neutronExchange?: string;
  random?: () => number;
  /** runs `fn` once after `ms` unless the returned cancel is called (default setTimeout, unref'd); tests drive the loops by hand */
  after?: After;
}

/** A one-shot timer: the fleet's one clock. */
export type After = (ms: number, fn: () => void) => () => void;

const realAfter: After = (ms, fn) => {
  const t = setTimeout(fn, ms);
  t.unref?.();
  return () => clearTimeout(t);
};

export interface DemoFleetStats {
  calls: number;
  casts: number;
  fanouts: number;
  notifications: number;
  remoteErrors: number;
  timeouts: number;
  otherErrors: number;
  pendingCalls: number;
}

export const DEMO_TOPICS = {
  conductor: 'conductor',
  compute: 'compute',
  scheduler: 'scheduler',
  neutronAgents: 'q-agent-notifier-port-update',
  notifications: 'notifications',
} as const;

export const DEAD_SERVER = 'compute-dead';
const COMPUTES = ['compute-01', 'compute-02', 'compute-03'];
const CONDUCTORS = ['ctl-01', 'ctl-02'];
const AGENTS = ['ovs-agent-01', 'ovs-agent-02', 'ovs-agent-03'];
const MAX_PENDING_CALLS = 24;

type Dict = Record<string, unknown>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class DemoFleet {
  private readonly transports: Transport[] = [];
  private readonly servers: RpcServer[] = [];
  private readonly listeners: NotificationListener[] = [];
  private readonly timers = new Set<() => void>();
  private readonly rnd: () => number;
  private readonly rate: number;
  private readonly novaExchange: string;
  private readonly neutronExchange: string;
  private api!: Transport;
  private neutron!: Transport;
  private schedulerNotifier!: Notifier;
  private computeNotifier!: Notifier;
  private running = false;
  private pending = 0;
  private readonly counters: DemoFleetStats = { calls: 0, casts: 0, fanouts: 0, notifications: 0, remoteErrors: 0, timeouts: 0, otherErrors: 0, pendingCalls: 0 };
  private readonly instances: string[] = [];

  constructor(private readonly o: DemoFleetOptions) {
    this.rnd = o.random ?? Math.random;
    this.rate = Math.max(0.05, o.rate ?? 1);
    this.novaExchange = o.novaExchange ?? 'nova';
    this.neutronExchange = o.neutronExchange ?? 'neutron';
    for (let i = 0; i < 12; i++) this.instances.push(randomUUID());
  }

  private transport(program: string, exchange: string): Transport {
    const t = new Transport(this.o.url, {
      conf: { control_exchange: exchange, rpc_response_timeout: 30 },
      // few send connections per simulated process: the Broker page compares them with the pool size
      rabbit: { rpc_conn_pool_size: 4, conn_pool_min_size: 1 },
      memoryBroker: this.o.memoryBroker,
      programName: program,
      log: this.o.log,
      retryPolicy: this.o.retryPolicy,
    });
    this.transports.push(t);
    return t;
  }

  /** Start every service; resolves once all servers listen (the dead one has declared its queue and gone). */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const conductor = this.transport('nova-conductor', this.novaExchange);
      for (const server of CONDUCTORS) {
        const s = new RpcServer(conductor, { topic: DEMO_TOPICS.conductor, server }, [conductorEndpoint(server, this.rnd)], { maxConcurrency: 16 });
        await s.start(1);
        this.servers.push(s);
      }
      const compute = this.transport('nova-compute', this.novaExchange);
      this.computeNotifier = new Notifier(compute, { publisherId: 'compute.compute-01', topics: [DEMO_TOPICS.notifications] });
      for (const server of COMPUTES) {
        const s = new RpcServer(compute, { topic: DEMO_TOPICS.compute, server }, [computeEndpoint(server, this.rnd)]);
        await s.start(1);
        this.servers.push(s);
      }
      // The dead server: it declared its queues, then its process went away.
      // oslo's topic queues are not auto-delete, so compute.compute-dead stays, unconsumed.
      const deadTransport = this.transport('nova-compute', this.novaExchange);
      const dead = new RpcServer(deadTransport, { topic: DEMO_TOPICS.compute, server: DEAD_SERVER }, [computeEndpoint(DEAD_SERVER, this.rnd)], { fanout: false });
      await dead.start(1);
      await dead.stop();

      const scheduler = this.transport('nova-scheduler', this.novaExchange);
      this.schedulerNotifier = new Notifier(scheduler, { publisherId: 'scheduler.sched-01', topics: [DEMO_TOPICS.notifications] });
      const sched = new RpcServer(scheduler, { topic: DEMO_TOPICS.scheduler, server: 'sched-01' }, [schedulerEndpoint(this.rnd, this.schedulerNotifier)]);
      await sched.start(1);
      this.servers.push(sched);

      const agents = this.transport('neutron-openvswitch-agent', this.neutronExchange);
      for (const server of AGENTS) {
        const s = new RpcServer(agents, { topic: DEMO_TOPICS.neutronAgents, server }, [agentEndpoint()]);
        await s.start(1);
        this.servers.push(s);
      }
      // ceilometer's notification agent drains notifications.info, as in a real cloud
      // (without a consumer the queue would grow for ever)
      const ceilometer = this.transport('ceilometer-agent-notification', this.novaExchange);
      const listener = new NotificationListener(ceilometer, [{ topic: DEMO_TOPICS.notifications, exchange: this.novaExchange }], [
        {
          info: () => undefined,
        },
      ]);
      await listener.start(1);
      this.listeners.push(listener);

      this.api = this.transport('nova-api', this.novaExchange);
      this.neutron = this.transport('neutron-server', this.neutronExchange);
    } catch (err) {
      await this.stop();
      throw err;
    }
    this.loop('conductor calls', 250, () => this.conductorCall());
    this.loop('compute casts', 1000, () => this.computeCast());
    this.loop('scheduling', 3000, () => this.schedule());
    this.loop('compute fanout', 5000, () => this.computeFanout());
    this.loop('port updates', 4000, () => this.portUpdate());
    this.loop('instance notifications', 2500, () => this.instanceNotification());
    this.loop('dead server', 15000, () => this.callDeadServer(), 2000);
  }

  stats(): DemoFleetStats {
    return { ...this.counters, pendingCalls: this.pending };
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const cancel of this.timers) cancel();
    this.timers.clear();
    await Promise.allSettled([...this.servers.map((s) => s.stop()), ...this.listeners.map((l) => l.stop())]);
    this.servers.length = 0;
    this.listeners.length = 0;
    await Promise.allSettled(this.transports.map((t) => t.close()));
    this.transports.length = 0;
  }

  /** Run `fn` about every `everyMs / rate` ms with ±50 % jitter. */
  private loop(what: string, everyMs: number, fn: () => Promise<void>, firstMs?: number): void {
    const after = this.o.after ?? realAfter;
    const schedule = (delay: number) => {
      const cancel = after(delay, () => {
        this.timers.delete(cancel);
        if (!this.running) return;
        fn().catch((err: unknown) => {
          this.counters.otherErrors++;
          this.o.log.debug({ err: (err as Error).message, what }, 'demo fleet action failed');
        });
        schedule((everyMs / this.rate) * (0.5 + this.rnd()));
      });
      this.timers.add(cancel);
    };
    schedule(firstMs ?? (everyMs / this.rate) * this.rnd());
  }

  private pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.rnd() * list.length)];
  }

  private context(): Dict {
    return {
      request_id: `req-${randomUUID()}`,
      global_request_id: null,
      user_id: 'd5b2e1f0c6a84f0c9d1a2b3c4d5e6f70',
      project_id: '6f2a9c1e4b7d4e8f9a0b1c2d3e4f5a6b',
      user_name: 'demo',
      project_name: 'demo',
      roles: ['member', 'reader'],
      is_admin: false,
      // A token so the redaction of _context_auth_token can be seen working.
      auth_token: `gAAAAAB${randomUUID().replaceAll('-', '')}`,
      read_only: false,
      show_deleted: false,
    };
  }

  private async call(client: RpcClient, method: string, args: Dict): Promise<void> {
    if (this.pending >= MAX_PENDING_CALLS) return;
    this.pending++;
    this.counters.calls++;
    try {
      await client.call(this.context(), method, args);
    } catch (err) {
      if ((err as Error).name === 'RemoteError') this.counters.remoteErrors++;
      else if ((err as Error).name === 'MessagingTimeout') this.counters.timeouts++;
      else this.counters.otherErrors++;
    } finally {
      this.pending--;
    }
  }

  private conductorCall(): Promise<void> {
    const client = new RpcClient(this.api, { topic: DEMO_TOPICS.conductor, version: '3.0' }, { timeout: 20 });
    const r = this.rnd();
    const uuid = this.pick(this.instances);
    if (r < 0.45) return this.call(client, 'object_class_action_versions', { objname: 'Instance', objmethod: 'get_by_uuid', object_versions: { Instance: '2.7' }, args: [uuid], kwargs: {} });
    if (r < 0.7) return this.call(client, 'instance_update', { instance_uuid: uuid, updates: { task_state: this.pick(['spawning', 'networking', null]) } });
    if (r < 0.9) return this.call(client, 'instance_get_by_uuid', { instance_uuid: this.rnd() < 0.15 ? randomUUID() : uuid });
    return this.call(client.prepare({ server: this.pick(CONDUCTORS) }), 'ping', { arg: 'demo' });
  }

  private async computeCast(): Promise<void> {
    const server = this.pick(COMPUTES);
    const client = new RpcClient(this.api, { topic: DEMO_TOPICS.compute, server, version: '6.0' });
    const uuid = this.pick(this.instances);
    const method = this.pick(['build_and_run_instance', 'reboot_instance', 'terminate_instance', 'resume_instance']);
    await client.cast(this.context(), method, { instance: { uuid, host: server }, request_spec: { num_instances: 1 }, node: server });
    this.counters.casts++;
  }

  private async computeFanout(): Promise<void> {
    const client = new RpcClient(this.api, { topic: DEMO_TOPICS.compute, fanout: true, version: '6.0' });
    await client.cast(this.context(), 'refresh_instance_security_rules', { security_group_id: randomUUID() });
    this.counters.fanouts++;
  }

  private async portUpdate(): Promise<void> {
    const client = new RpcClient(this.neutron, { topic: DEMO_TOPICS.neutronAgents, fanout: true, version: '1.4' });
    await client.cast(this.context(), 'port_update', { port: { id: randomUUID(), network_id: randomUUID(), admin_state_up: true }, network_type: 'vxlan', segmentation_id: 1000 + Math.floor(this.rnd() * 100) });
    this.counters.fanouts++;
  }

  private async schedule(): Promise<void> {
    const client = new RpcClient(this.api, { topic: DEMO_TOPICS.scheduler, version: '4.5' }, { timeout: 20 });
    await this.call(client, 'select_destinations', { spec_obj: { num_instances: 1, flavor: { vcpus: 2, memory_mb: 4096 } }, instance_uuids: [this.pick(this.instances)], return_alternates: true });
  }

  private async instanceNotification(): Promise<void> {
    const uuid = this.pick(this.instances);
    const event = this.pick(['compute.instance.create.end', 'compute.instance.update', 'compute.instance.power_off.end', 'compute.instance.exists']);
    await this.computeNotifier.info(this.context(), event, { instance_id: uuid, state: 'active', host: this.pick(COMPUTES) });
    this.counters.notifications++;
  }

  private callDeadServer(): Promise<void> {
    // nova-api asks a host that is gone: the call waits its full timeout (stuck, no consumer).
    const client = new RpcClient(this.api, { topic: DEMO_TOPICS.compute, server: DEAD_SERVER, version: '6.0' }, { timeout: 10 });
    return this.call(client, 'get_host_uptime', {});
  }
}

function conductorEndpoint(server: string, rnd: () => number): Endpoint {
  return {
    target: { version: '3.0' },
    async object_class_action_versions(_ctxt: Dict, args: Dict) {
      await sleep(2 + rnd() * 20);
      return { 'nova_object.name': args.objname, 'nova_object.version': '2.7', 'nova_object.data': { uuid: (args.args as unknown[])?.[0], host: 'compute-01', vm_state: 'active' } };
    },
    async instance_update(_ctxt: Dict, args: Dict) {
      await sleep(5 + rnd() * 30);
      return { uuid: args.instance_uuid, ...(args.updates as Dict), updated_at: new Date().toISOString() };
    },
    async instance_get_by_uuid(_ctxt: Dict, args: Dict) {
      await sleep(3 + rnd() * 10);
      if (rnd() < 0.2) {
        throw new ExpectedFailure('InstanceNotFound', 'nova.exception', `Instance ${String(args.instance_uuid)} could not be found.`, {
          kwargs: { code: 404, instance_id: args.instance_uuid },
        });
      }
      return { uuid: args.instance_uuid, host: 'compute-02', vm_state: 'active' };
    },
    ping(_ctxt: Dict, args: Dict) {
      return { service: 'conductor', server, arg: args.arg };
    },
  };
}

function computeEndpoint(server: string, rnd: () => number): Endpoint {
  const work = async () => sleep(10 + rnd() * 40);
  return {
    target: { version: '6.0' },
    build_and_run_instance: work,
    reboot_instance: work,
    terminate_instance: work,
    resume_instance: work,
    refresh_instance_security_rules: work,
    get_host_uptime() {
      return ` 10:02:11 up 41 days,  3:12,  0 users,  load average: 0.21, 0.30, 0.28 (${server})`;
    },
  };
}

function schedulerEndpoint(rnd: () => number, notifier: Notifier): Endpoint {
  return {
    target: { version: '4.5' },
    // The slow endpoint: placement queries and weighing take seconds.
    async select_destinations(ctxt: Dict, args: Dict) {
      await notifier.info(ctxt, 'scheduler.select_destinations.start', { request_spec: args.spec_obj }).catch(() => undefined);
      await sleep(600 + rnd() * 2900);
      const dest = [[{ service_host: COMPUTES[Math.floor(rnd() * COMPUTES.length)], nodename: 'node', limits: { memory_mb: 65536 } }]];
      await notifier.info(ctxt, 'scheduler.select_destinations.end', { request_spec: args.spec_obj, destinations: dest }).catch(() => undefined);
      return dest;
    },
  };
}

function agentEndpoint(): Endpoint {
  return {
    target: { version: '1.4' },
    async port_update() {
      await sleep(5);
    },
  };
}
