'use client';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { useState, type ReactNode } from 'react';
import { RealtimeProvider } from './realtime-provider';
import { TransportChoiceProvider } from './hooks/use-transport';

export function Providers({ children }: { children: ReactNode }) {
  const [queryClient] = useState(
    () =>
      new QueryClient({
        defaultOptions: {
          queries: { retry: 1, refetchOnWindowFocus: false, staleTime: 5_000 },
        },
      }),
  );
  return (
    <QueryClientProvider client={queryClient}>
      <TransportChoiceProvider>
        <RealtimeProvider>{children}</RealtimeProvider>
      </TransportChoiceProvider>
    </QueryClientProvider>
  );
}
