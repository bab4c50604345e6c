import { Suspense } from 'react';
import { ConsolePage } from '@/components/console/console-page';

export const metadata = { title: 'Console · osloscope' };

export default function Page() {
  return (
    <Suspense>
      <ConsolePage />
    </Suspense>
  );
}
