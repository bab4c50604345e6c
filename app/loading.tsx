/** Shown while a page's server part renders (route changes, first load). */
export default function Loading() {
  return (
    <div className="page" aria-busy="true" data-testid="page-loading">
      <p>Loading…</p>
    </div>
  );
}
