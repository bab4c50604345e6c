'use client';
import { Card } from '../ui/card';
import { Badge } from '../ui/badge';
import { useFleet } from '../hooks/use-transport';
import { stateTone, transportHealthText } from '../layout/transport-selector';

/**
 * Each transport of the fleet (TRANSPORT_URLS): its state, why it is down and when it retries,
 * and its tap. Shown only when osloscope watches more than one.
 */
export function FleetHealthCard({ serverNow }: { serverNow: number }) {
  const fleet = useFleet();
  if (!fleet.several) return null;
  return (
    <Card title={`Transports (${fleet.transports.length})`} testId="fleet-health" className="fleet-health">
      <div className="table-scroll" tabIndex={0} role="region" aria-label="Transports">
        <table className="table">
          <thead>
            <tr>
              <th>Transport</th>
              <th>Broker</th>
              <th>State</th>
              <th>Health</th>
              <th>Tap</th>
            </tr>
          </thead>
          <tbody>
            {fleet.transports.map((t) => (
              <tr key={t.name} data-testid="fleet-transport" data-name={t.name} data-state={t.state} className={fleet.choice === t.name ? 'selected' : undefined}>
                <td className="mono">{t.name}</td>
                <td className="mono ellipsis" title={t.url}>
                  {t.url} <span className="muted small">({t.driver})</span>
                </td>
                <td>
                  <Badge tone={stateTone(t.state)} testId="fleet-state">
                    {t.state}
                  </Badge>
                </td>
                <td className="small" data-testid="fleet-health-text">
                  {transportHealthText(t, serverNow) ?? <span className="muted">ok</span>}
                </td>
                <td className="small">{t.tap ? `${t.tap.mode} · ${t.tap.state}${t.tap.canSeeReplies ? '' : ' · no replies'}` : <span className="muted">off</span>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Card>
  );
}
