import { CallsPage } from '@/components/calls/calls-page';

export const metadata = { title: 'Calls · osloscope' };

export default function Page() {
  return <CallsPage />;
}
