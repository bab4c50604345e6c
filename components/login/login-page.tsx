'use client';
import { useState } from 'react';
import { useSearchParams } from 'next/navigation';
import { apiPostRaw, withBase } from '../api-client';

export function LoginPage() {
  const params = useSearchParams();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const next = params.get('next');
  // `next` is a browser path (base path included) on this origin
  const target = next && next.startsWith('/') && !next.startsWith('//') ? next : withBase('/');
  return (
    <form
      className="login card"
      data-testid="login-form"
      onSubmit={async (e) => {
        e.preventDefault();
        setBusy(true);
        setError(null);
        const { body } = await apiPostRaw('/api/session', { username, password });
        setBusy(false);
        if (body.ok) window.location.assign(target);
        else setError(body.error.message);
      }}
    >
      <h1>
        <span className="brand-mark">◎</span> osloscope
      </h1>
      <label className="field">
        <span className="field-label">User</span>
        <input value={username} autoComplete="username" onChange={(e) => setUsername(e.target.value)} data-testid="login-user" />
      </label>
      <label className="field">
        <span className="field-label">Password</span>
        <input type="password" value={password} autoComplete="current-password" onChange={(e) => setPassword(e.target.value)} data-testid="login-password" />
      </label>
      {error && (
        <p className="text-bad" data-testid="login-error">
          {error}
        </p>
      )}
      <button className="btn btn-primary" type="submit" disabled={busy} data-testid="login-submit">
        {busy ? 'Checking…' : 'Log in'}
      </button>
    </form>
  );
}
