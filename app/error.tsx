'use client';

/**
 * A page that throws while rendering shows this instead of a blank screen. Our own stack traces
 * never reach the browser: only the digest Next.js logs on the server is shown, to match the log.
 */
export default function PageError({ error, reset }: { error: Error & { digest?: string }; reset: () => void }) {
  return (
    <div className="page" role="alert" data-testid="page-error">
      <h1>This page failed to load</h1>
      <p>Something went wrong while showing it. The server log has the details{error.digest ? ` (reference ${error.digest})` : ''}.</p>
      <p>
        <button type="button" onClick={reset} data-testid="page-error-retry">
          Try again
        </button>
      </p>
    </div>
  );
}
