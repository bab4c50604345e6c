'use client';
import Link from 'next/link';
import { usePathname } from 'next/navigation';
import type { ReactNode } from 'react';
import { isStale } from '@/lib/series';
import { useRealtime } from '../realtime-provider';
import { useStatus } from '../hooks/use-status';
import { useSession } from '../hooks/use-session';
import { useNow } from '../hooks/use-now';
import { apiDelete } from '../api-client';
import { ago } from '../ui/format';
import { SearchBox } from '../search/search-box';

const NAV = [
  { href: '/', label: 'Overview', testId: 'nav-overview' },
  { href: '/live', label: 'Live', testId: 'nav-live' },
  { href: '/console', label: 'Console', testId: 'nav-console' },
  { href: '/calls', label: 'Calls', testId: 'nav-calls' },
  { href: '/broker', label: 'Broker', testId: 'nav-broker' },
];

export function AppShell({ children }: { children: ReactNode }) {
  const pathname = usePathname();
  if (pathname === '/login') return <main className="login-main">{children}</main>;
  return (
    <div className="shell">
      <header className="topbar">
        <Link href="/" className="brand">
          <span className="brand-mark" aria-hidden>◎</span> osloscope
        </Link>
        <nav className="nav">
          {NAV.map((n) => (
            <Link key={n.href} href={n.href} data-testid={n.testId} className={pathname === n.href ? 'active' : ''}>
              {n.label}
            </Link>
          ))}
        </nav>
        <SearchBox />
        <div className="topbar-right">
          <ConnectionIndicators />
          <UserBox />
        </div>
      </header>
      <Banners />
      <main className="content">{children}</main>
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
  const stale = now > 0 && isStale(status.dataUpdatedAt || null, now, 3500);
  const brokerState = transport ? (stale ? 'unknown' : transport.state) : 'unknown';
  const brokerTone = brokerState === 'connected' || brokerState === 'idle' ? 'ok' : brokerState === 'degraded' || brokerState === 'unknown' ? 'warn' : 'bad';
  return (
    <div className="indicators">
      <span className={`indicator tone-${socketTone}`} data-testid="socket-state" data-state={connection.state} title={connection.lastError ?? 'Live updates from the osloscope server'}>
        <span className="dot" /> Socket: {socketText}
      </span>
      <span className={`indicator tone-${brokerTone}`} data-testid="broker-state" data-state={brokerState} title={transport?.url ?? ''}>
        <span className="dot" /> Broker: {brokerState}
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
          window.location.assign('/login');
        }}
      >
        Log out
      </button>
    </div>
  );
}

function Banners() {
  const { connection } = useRealtime();
  const status = useStatus();
  const session = useSession();
  const now = useNow(1000);
  const t = status.data?.transport;
  const out: ReactNode[] = [];
  if (t?.embedded) {
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
  } else if (t && t.state !== 'connected' && t.state !== 'idle') {
    out.push(
      <div key="broker" className="banner banner-bad" data-testid="broker-banner">
        The broker connection is {t.state}; osloscope reconnects by itself.
      </div>,
    );
  }
  return out.length > 0 ? <div className="banners">{out}</div> : null;
}
