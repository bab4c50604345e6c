import { BrokerPage } from '@/components/broker/broker-page';

export const metadata = { title: 'Broker · osloscope' };

export default function Page() {
  return <BrokerPage />;
}
