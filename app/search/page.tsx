import { Suspense } from 'react';
import { SearchPage } from '@/components/search/search-page';

export const metadata = { title: 'Search · osloscope' };

export default function Page() {
  return (
    <Suspense>
      <SearchPage />
    </Suspense>
  );
}
