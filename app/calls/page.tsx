import { Suspense } from 'react';
import { CallsPage } from '@/components/calls/calls-page';

export const metadata = { title: 'Calls · osloscope' };

export default function Page() {
  return (
    <Suspense>
      <CallsPage />
    </Suspense>
  );
}
