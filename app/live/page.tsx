import { Suspense } from 'react';
import { LivePage } from '@/components/live/live-page';

export const metadata = { title: 'Live · osloscope' };

export default function Page() {
  return (
    <Suspense>
      <LivePage />
    </Suspense>
  );
}
