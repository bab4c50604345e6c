'use client';
import Link from 'next/link';
import { usePathname } from 'next/navigation';
import { Suspense, type ReactNode } from 'react';
import { isStale } from '@/lib/series';
import { transportUp, type TransportInfo } from '@/lib/api-contracts';
import { useRealtime } from '../realtime-provider';
import { useStatus } from '../hooks/use-status';
import { useSession } from '../hooks/use-session';
import { useNow } from '../hooks/use-now';
import { apiDelete, withBase } from '../api-client';
import { ago } from '../ui/format';
import { ThemeToggle } from './theme';
import { Shortcuts } from './shortcuts';
import { SearchBox } from '../search/search-box';
import { TransportUrlKeeper, useFleet } from '../hooks/use-transport';
import { TransportSelector, stateTone, transportHealthText, worstTone } from './transport-selector';

export const NAV = [
  { href: '/', label: 'Overview', testId: 'nav-overview', key: 'o' },
  { href: '/live', label: 'Live', testId: 'nav-live', key: 'l' },
  { href: '/console', label: 'Console', testId: 'nav-console', key: 'c' },
  { href: '/calls', label: 'Calls', testId: 'nav-calls', key: 'a' },
  { href: '/broker', label: 'Broker', testId: 'nav-broker', key: 'b' },
];

export function AppShell({ children }: { children: ReactNode }) {
  const pathname = usePathname();
  if (pathname === '/login') return <main className="login-main">{children}</main>;
  // one h1 per page: the section a top-level page belongs to (deeper pages name themselves)
  const section = NAV.find((n) => n.href === pathname);
  return (
    <div className="shell">
      <header className="topbar">
        <Link href="/" className="brand">
          <span className="brand-mark" aria-hidden>
            ◎
          </span>{' '}
          osloscope
        </Link>
        <nav className="nav" aria-label="Pages">
          {NAV.map((n) => (
            <Link key={n.href} href={n.href} data-testid={n.testId} className={pathname === n.href ? 'active' : ''} aria-current={pathname === n.href ? 'page' : undefined}>
              {n.label}
            </Link>
          ))}
        </nav>
        <Suspense fallback={null}>
          <TransportUrlKeeper />
        </Suspense>
        <TransportSelector />
        <SearchBox />
        <div className="topbar-right">
          <ConnectionIndicators />
          <ThemeToggle />
          <UserBox />
        </div>
      </header>
      <Banners />
      <main className="content">
        {section && (
          <h1 className="page-title" data-testid="page-title">
            {section.label}
          </h1>
        )}
        {children}
      </main>
      <Shortcuts nav={NAV} />
    </div>
  );
}

function ConnectionIndicators() {
  const { connection } = useRealtime();
  const status = useStatus();
  const now = useNow(1000);
  const transport = status.data?.transport;
  const socketTone = connection.state === 'connected' ? 'ok' : connection.state === 'disconnected' ? 'bad' : 'warn';
  const socketText =
    connection.state === 'connected'
      ? 'live'
      : connection.state === 'reconnecting'
        ? `reconnecting${connection.attempts ? ` (attempt ${connection.attempts})` : ''}`
        : connection.state;
  const fleet = useFleet();
  const stale = now > 0 && isStale(status.dataUpdatedAt || null, now, 3500);
  // the whole fleet of several: the worst of its transports, and how many are up
  const whole = fleet.several && !fleet.choice;
  const fleetStates = fleet.transports.map((t) => t.state);
  const worst = whole ? (fleetStates.find((s) => stateTone(s) === worstTone(fleetStates)) ?? 'unknown') : null;
  const brokerState = stale ? 'unknown' : (worst ?? (transport ? transport.state : 'unknown'));
  const brokerTone = transportUp(brokerState) ? 'ok' : brokerState === 'degraded' || brokerState === 'unknown' ? 'warn' : 'bad';
  const up = fleet.transports.filter((t) => stateTone(t.state) === 'ok').length;
  const brokerText = whole && !stale ? `${up}/${fleet.transports.length} up` : brokerState;
  return (
    <div className="indicators">
      <span className={`indicator tone-${socketTone}`} data-testid="socket-state" data-state={connection.state} title={connection.lastError ?? 'Live updates from the osloscope server'}>
        <span className="dot" /> Socket: {socketText}
      </span>
      <span className={`indicator tone-${brokerTone}`} data-testid="broker-state" data-state={brokerState} title={whole ? fleet.transports.map((t) => `${t.name}: ${t.state}`).join(', ') : (transport?.url ?? '')}>
        <span className="dot" /> {whole ? 'Brokers' : fleet.several && fleet.choice ? `Broker ${fleet.choice}` : 'Broker'}: {brokerText}
      </span>
    </div>
  );
}

function UserBox() {
  const session = useSession();
  const s = session.data;
  if (!s || !s.authEnabled) return null;
  return (
    <div className="userbox" data-testid="user-box">
      <span>
        {s.user} <span className="muted">({s.role})</span>
      </span>
      <button
        type="button"
        className="btn btn-small"
        onClick={async () => {
          await apiDelete('/api/session');
          window.location.assign(withBase('/login'));
        }}
      >
        Log out
      </button>
    </div>
  );
}

/**
 * "broker unreachable: <reason>, retrying (attempt n, next in s)" from the link that is retrying
 * (the earliest next attempt when several are); null when no link says why.
 */
export function brokerRetryText(t: Pick<TransportInfo, 'links'>, serverNow: number): string | null {
  const retrying = t.links.filter((l) => l.retry).sort((a, b) => a.retry!.nextAt - b.retry!.nextAt);
  const r = retrying[0]?.retry;
  if (!r) return null;
  const next = Math.max(0, Math.ceil((r.nextAt - serverNow) / 1000));
  return `broker unreachable: ${r.error}, retrying (attempt ${r.attempt}, next in ${next} s)`;
}

function Banners() {
  const { connection } = useRealtime();
  const status = useStatus();
  const session = useSession();
  const now = useNow(1000);
  const t = status.data?.transport;
  const fleet = useFleet();
  const out: ReactNode[] = [];
  // the server's clock: the snapshot carries `at`
  const serverNow = status.data && status.dataUpdatedAt && now ? now + (status.data.at - status.dataUpdatedAt) : (status.data?.at ?? 0);
  if (fleet.several) {
    const shown = fleet.choice ? fleet.transports.filter((x) => x.name === fleet.choice) : fleet.transports;
    out.push(
      <div key="transport" className="banner banner-plain" data-testid="transport-banner">
        {fleet.choice ? 'Transport ' : `${fleet.transports.length} transports: `}
        {shown.map((x, i) => (
          <span key={x.name}>
            {i > 0 ? ', ' : ''}
            <strong>{x.name}</strong> <code>{x.url}</code>
          </span>
        ))}
        {fleet.choice && shown.length === 0 ? <strong>{fleet.choice} (not one of this osloscope&apos;s transports)</strong> : null}
      </div>,
    );
  } else if (t?.embedded) {
    out.push(
      <div key="embedded" className="banner banner-info" data-testid="transport-banner">
        <strong>Embedded demo transport</strong> — an in-process memory broker{t.demoFleet ? ' with a simulated fleet (nova-conductor, nova-compute, nova-scheduler, neutron agents, one dead compute host)' : ''}. Set{' '}
        <code>TRANSPORT_URL=rabbit://user:pass@host:5672/</code> to watch a real broker.
      </div>,
    );
  } else if (t) {
    out.push(
      <div key="transport" className="banner banner-plain" data-testid="transport-banner">
        Transport <code>{t.url}</code> ({t.driver}){t.demoFleet ? ' — demo fleet running' : ''}
      </div>,
    );
  }
  if (session.data?.readOnly) {
    out.push(
      <div key="ro" className="banner banner-warn" data-testid="read-only-banner">
        Read-only mode: firing and replaying messages is disabled for everyone (READ_ONLY=1).
      </div>,
    );
  }
  if (connection.state !== 'connected' && connection.state !== 'connecting') {
    out.push(
      <div key="socket" className="banner banner-bad" data-testid="socket-banner">
        Live updates lost{connection.lostAt && now ? ` ${ago(connection.lostAt, now)}` : ''}: {connection.state === 'reconnecting' ? `reconnecting automatically (attempt ${connection.attempts})…` : 'disconnected.'} Data on this page is stale.
      </div>,
    );
  } else if (fleet.several) {
    // one banner per transport that is down, naming it
    for (const x of fleet.transports) {
      if (fleet.choice && x.name !== fleet.choice) continue;
      if (stateTone(x.state) === 'ok') continue;
      out.push(
        <div key={`broker-${x.name}`} className="banner banner-bad" role="status" data-testid="broker-banner" data-transport={x.name}>
          Transport <strong>{x.name}</strong>: {transportHealthText(x, serverNow) ?? `the broker connection is ${x.state}; osloscope reconnects by itself.`}
        </div>,
      );
    }
  } else if (t && t.state !== 'connected' && t.state !== 'idle') {
    const retry = brokerRetryText(t, serverNow);
    out.push(
      <div key="broker" className="banner banner-bad" role="status" data-testid="broker-banner">
        {retry ?? `The broker connection is ${t.state}; osloscope reconnects by itself.`}
      </div>,
    );
  }
  return out.length > 0 ? <div className="banners">{out}</div> : null;
}
