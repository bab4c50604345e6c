import { Suspense } from 'react';
import { LoginPage } from '@/components/login/login-page';

export const metadata = { title: 'Log in · osloscope' };

export default function Page() {
  return (
    <Suspense>
      <LoginPage />
    </Suspense>
  );
}
