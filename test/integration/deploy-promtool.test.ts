/**
 * The deployment files are valid and agree with what osloscope exports:
 * `promtool check rules` on deploy/prometheus/osloscope-rules.yml and
 * `promtool test rules` on its unit tests (osloscope-rules.test.yml),
 * `promtool check metrics` (Prometheus' naming lint) on a live /metrics
 * scrape, and every metric the rules and the Grafana dashboard query is one
 * osloscope exports (or one named below that another part exports).
 * promtool comes from Debian's `prometheus` package (.ci/run installs it).
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryBroker, RpcServer, Transport } from '../../server/messaging/index.ts';
import { loadConfig } from '../../server/config.ts';
import { startOsloscope, type RunningServer } from '../../server/index.ts';
import { tempHistoryDatabase } from '../../server/store/test-db.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RULES = `${ROOT}deploy/prometheus/osloscope-rules.yml`;
const DASHBOARD = `${ROOT}deploy/grafana/osloscope.json`;
const PROMTOOL = ['/usr/bin/promtool', '/usr/local/bin/promtool'].find((p) => existsSync(p));

/** Exported by other parts than /metrics' own sources: the history store's counter. */
const FROM_ELSEWHERE = new Set(['osloscope_history_dropped_total']);
/** Exported only in some setups: firehose coverage needs the management API (a broker cluster). */
const CONDITIONAL = new Set(['osloscope_firehose_coverage_ratio', 'osloscope_firehose_nodes', 'osloscope_firehose_nodes_tracing']);

if (!PROMTOOL && process.env.CI) throw new Error('promtool is required in CI (apt-get install prometheus)');
if (!PROMTOOL) console.warn('SKIPPED deploy files check: promtool not found (apt-get install prometheus)');
const d = PROMTOOL ? describe : describe.skip;

function promtool(args: string[], stdin?: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(PROMTOOL as string, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b) => (out += String(b)));
    child.stderr.on('data', (b) => (out += String(b)));
    child.on('close', (code) => resolve({ code: code ?? -1, out }));
    child.stdin.end(stdin ?? '');
  });
}

/** Metric names in PromQL text: identifiers of osloscope's and oslo.metrics' families. */
function metricNames(promql: string): string[] {
  return [...new Set(promql.match(/\b(?:osloscope|oslo_messaging)_[a-z0-9_]+/g) ?? [])];
}

/** A family name as exported, from a series name (histograms export _bucket/_sum/_count). */
function family(name: string, exported: Set<string>): boolean {
  return exported.has(name) || exported.has(name.replace(/_(bucket|sum|count)$/, ''));
}

d('deployment files (promtool)', () => {
  let srv: RunningServer;
  let service: { stop(): Promise<void> };
  let scrape = '';

  beforeAll(async () => {
    srv = await startOsloscope(loadConfig({ PORT: '0', DEMO_FLEET: 'off', AUDIT_LOG: '', RPC_RESPONSE_TIMEOUT: '5', HISTORY_DATABASE: tempHistoryDatabase() }), { withoutPages: true, log: pino({ level: 'silent' }) });
    const t = new Transport('memory://', { memoryBroker: MemoryBroker.shared('/'), conf: { control_exchange: 'openstack' }, programName: 'svc' });
    const s = new RpcServer(t, { topic: 'metrics-lint', server: 'host-1' }, [{ echo: (_c: unknown, a: Record<string, unknown>) => a.value }]);
    await s.start(0);
    service = { stop: async () => (await s.stop(), await t.close()) };
    // a fired call and a tapped one fill the oslo.metrics families
    const fired = await fetch(`${srv.url}/api/rpc`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'call', target: { topic: 'metrics-lint' }, method: 'echo', args: { value: 1 } }) });
    expect(fired.status).toBe(200);
    const end = Date.now() + 20_000;
    for (;;) {
      scrape = await (await fetch(`${srv.url}/metrics`)).text();
      // the histogram as the tap measured it, and the topic queue's consumers (read in the background)
      if (/oslo_messaging_rpc_client_processing_seconds_count\{[^}]*topic="metrics-lint"/.test(scrape) && /osloscope_topic_consumers\{transport="default",topic="metrics-lint"\} 1/.test(scrape)) break;
      if (Date.now() > end) throw new Error(`the scrape never showed the tapped call and the topic's consumers:\n${scrape}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }, 60_000);
  afterAll(async () => {
    await service?.stop();
    await srv?.close();
  });

  it('promtool check rules accepts the alerting rules', async () => {
    const r = await promtool(['check', 'rules', RULES]);
    expect(r.out).toMatch(/SUCCESS: \d+ rules found/);
    expect(r.code).toBe(0);
  });

  it('promtool test rules: the alerts fire on the series they are meant for, and only then', async () => {
    // deploy/prometheus/osloscope-rules.test.yml: a topic at 0 consumers, stuck calls, the tap down, coverage at 50%
    const r = await promtool(['test', 'rules', `${ROOT}deploy/prometheus/osloscope-rules.test.yml`]);
    expect(r.out).toMatch(/SUCCESS/);
    expect(r.code).toBe(0);
  });

  it('promtool check metrics finds no naming problem in a live scrape', async () => {
    const r = await promtool(['check', 'metrics'], scrape);
    expect(r.out.trim()).toBe('');
    expect(r.code).toBe(0);
  });

  it('exports no process id label and keeps the oslo.metrics names', () => {
    expect(scrape).not.toMatch(/\bprocess="/);
    for (const name of ['oslo_messaging_rpc_client_invocation_start_total', 'oslo_messaging_rpc_client_invocation_end_total', 'oslo_messaging_rpc_client_processing_seconds']) {
      expect(scrape).toContain(`# TYPE ${name} `);
    }
    // the counter's labels are oslo.metrics' rpc_client_common_labels less process
    expect(scrape).toMatch(/oslo_messaging_rpc_client_invocation_start_total\{call_type="call",exchange="openstack",topic="metrics-lint",namespace="None",version="None",server="None",fanout="False",method="echo",timeout="5"\} 1/);
  });

  it('every metric the rules and the dashboard query is exported', () => {
    const exported = new Set([...scrape.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
    const rules = readFileSync(RULES, 'utf8');
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: { targets?: { expr: string }[] }[] };
    const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
    expect(exprs.length).toBeGreaterThan(5);
    const used = metricNames([rules, ...exprs].join('\n'));
    expect(used.length).toBeGreaterThan(8);
    const unknown = used.filter((n) => !family(n, exported) && !FROM_ELSEWHERE.has(n) && !CONDITIONAL.has(n));
    expect(unknown).toEqual([]);
  });

  it('the firehose coverage gauges the rules use are the ones /metrics writes', () => {
    const source = readFileSync(`${ROOT}server/http/prometheus.ts`, 'utf8');
    for (const n of CONDITIONAL) expect(source).toContain(`'${n}'`);
  });
});

